#pragma once
// The CUDA backend (compiled only when CMake found nvcc: SWITCHSIM_HAVE_CUDA).
// Storage bf16 (activations, expert weights, expert buffers), fp32 router
// (weights, logits, softmax, as the paper's selective precision), fp32
// accumulation everywhere. Kernels: cuda/router.cu, cuda/capacity.cu,
// cuda/dispatch_combine.cu, cuda/expert_ffn.cu (cuBLAS strided-batched), cuda/grouped_gemm.cu
// (dropless and the backward's products), cuda/backward.cu (the backward's own kernels).

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

// CUDA devices visible; 0 when there are none or the runtime/driver fails.
[[nodiscard]] int cuda_device_count();

// Throws UnavailableError when no CUDA device is present.
[[nodiscard]] std::unique_ptr<SwitchLayerBackend> make_cuda_backend();

// Test hook for the dropless grouped GEMM (cuda/grouped_gemm.cuh): expert e owns the next
// rows_per_expert[e] rows of `in` (sum of rows, kdim) and of the result (sum of rows, n);
// out_e = in_e . w_e, w (experts, kdim, n). Inputs are rounded to bf16, products run on device 0
// in bf16 with fp32 accumulation, by one cublasGemmGroupedBatchedEx (grouped = true) or a loop of
// cublasGemmEx calls; returns the result as fp32. *grouped_used says which method ran.
[[nodiscard]] std::vector<float> cuda_grouped_gemm_for_test(const std::vector<std::int64_t>& rows_per_expert,
                                                            std::int64_t kdim, std::int64_t n,
                                                            const std::vector<float>& in, const std::vector<float>& w,
                                                            bool grouped, bool* grouped_used);

// Test hooks for cuda/attention.cuh: the plain attention forward and backward on device 0 for
// contiguous q (batch, m, k), kk and v (batch, n, k), d_o (batch, m, k), inputs rounded to bf16;
// results as fp32. And one Adam update (fp32) of weight, m and v in place at step `step`.
struct CudaAttentionResult {
  std::vector<float> o, dq, dk, dv;
};
[[nodiscard]] CudaAttentionResult cuda_attention_for_test(std::int64_t batch, std::int64_t m, std::int64_t n,
                                                          std::int64_t k, const std::vector<float>& q,
                                                          const std::vector<float>& kk, const std::vector<float>& v,
                                                          const std::vector<float>& d_o);
void cuda_adam_for_test(float lr, float beta1, float beta2, float eps, std::int64_t step,
                        const std::vector<float>& grad, std::vector<float>& weight, std::vector<float>& m,
                        std::vector<float>& v);

}  // namespace switchsim::kernels
