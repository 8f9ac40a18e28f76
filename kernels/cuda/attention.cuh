#pragma once
// Plain (unfused) attention and the Adam update on the GPU: what calibrate times for
// OpKind::attention and OpKind::optimizer with --backend cuda (the CPU versions, the reference,
// are kernels/cpu/attention_cpu.hpp and optimizer_cpu.hpp; the maths is written there).
// Attention: bf16 Q, K, V, O, dO, dQ, dK, dV; fp32 scores S, probabilities P and dP (the softmax
// and its backward in fp32); P and dS are rounded to bf16 for the products that read them (as
// FlashAttention's P V). Products: cublasGemmStridedBatchedEx over the batch of heads, fp32
// accumulation. Adam: fp32 g, w, m, v (28 B per parameter, as the step prices it).

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"

namespace switchsim::kernels::cuda {

struct AttentionDims {
  std::int64_t batch = 0, m = 0, n = 0, k = 0;  // heads, queries, keys, head dimension
};

// Device buffers of one shape (contiguous (batch, rows, k) per operand, (batch, m, n) scores).
struct AttentionBuffers {
  void resize(const AttentionDims& s);
  DeviceBuffer<bf16> q, kk, v, o, d_o, dq, dk, dv;  // (batch, m | n, k)
  DeviceBuffer<float> p, dp;                        // (batch, m, n): P, then dP / scratch
  DeviceBuffer<bf16> p16;                           // (batch, m, n): P, then dS, as bf16
};

// S = Q K^T / sqrt(k), P = softmax_rows(S), O = P V.
void attention_forward(cublasHandle_t blas, cudaStream_t stream, const AttentionDims& s, AttentionBuffers& b);
// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dO O)), dQ = dS K / sqrt(k), dK = dS^T Q / sqrt(k).
// Needs the forward's p, p16 and o.
void attention_backward(cublasHandle_t blas, cudaStream_t stream, const AttentionDims& s, AttentionBuffers& b);

// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, w -= lr (m c1) / (sqrt(v c2) + eps), with
// c1 = 1 / (1 - b1^t), c2 = 1 / (1 - b2^t) computed by the caller; n parameters.
void launch_adam(const float* g, float* w, float* m, float* v, std::int64_t n, float lr, float beta1, float beta2,
                 float eps, float c1, float c2, cudaStream_t stream);

}  // namespace switchsim::kernels::cuda
