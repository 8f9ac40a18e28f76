// Plain attention forward/backward and the Adam update on the GPU (see attention.cuh).
//
// Row-major products as column-major cuBLAS calls: row-major C (M, N) = op(A) (M, K) . op(B) (K, N)
// is column-major C^T (N, M) = op(B)^T . op(A)^T, so cuBLAS's first operand is B (transposed when
// B is), its second A, sizes (N, M, K), ldc = N; a stored row-major X (r, c) has ld c.

#include "kernels/cuda/attention.cuh"

#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/warp.cuh"

namespace switchsim::kernels::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;


// One warp per row of n scores: p = softmax(s) in place (fp32) and as bf16.
__global__ void softmax_rows_kernel(float* __restrict__ s, bf16* __restrict__ p16, std::int64_t rows, std::int64_t n) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= rows) return;
  const int lane = threadIdx.x % 32;
  float* row = s + r * n;
  warp_softmax_in_place(row, n, lane);
  for (std::int64_t j = lane; j < n; j += 32) p16[r * n + j] = __float2bfloat16(row[j]);
}

// One warp per query row: delta = rowsum(dO O) over k, then dS = P (dP - delta) as bf16.
__global__ void softmax_backward_rows_kernel(const float* __restrict__ p, const float* __restrict__ dp,
                                             const bf16* __restrict__ d_o, const bf16* __restrict__ o,
                                             bf16* __restrict__ ds, std::int64_t rows, std::int64_t n, std::int64_t k) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= rows) return;
  const int lane = threadIdx.x % 32;
  float delta = 0.0f;
  for (std::int64_t c = lane; c < k; c += 32)
    delta = fmaf(__bfloat162float(d_o[r * k + c]), __bfloat162float(o[r * k + c]), delta);
  delta = warp_sum(delta);
  for (std::int64_t j = lane; j < n; j += 32) ds[r * n + j] = __float2bfloat16(p[r * n + j] * (dp[r * n + j] - delta));
}

__global__ void adam_kernel(const float* __restrict__ g, float* __restrict__ w, float* __restrict__ m,
                            float* __restrict__ v, std::int64_t n, float lr, float beta1, float beta2, float eps,
                            float c1, float c2) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * (mi * c1) / (sqrtf(vi * c2) + eps);
  }
}

int as_int(std::int64_t v) {
  require(v > 0 && v <= 2147483647, "attention: sizes must fit int");
  return static_cast<int>(v);
}

// Row-major C (M, N) = alpha op(A) op(B) + beta C over `batch` contiguous matrices (mapping at the top).
void gemm(cublasHandle_t blas, bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
          const void* a, cudaDataType_t a_type, const void* b, cudaDataType_t b_type, float beta, void* c,
          cudaDataType_t c_type, std::int64_t batch) {
  SWITCHSIM_CUDA_CHECK(cublasGemmStridedBatchedEx(
      blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, as_int(N), as_int(M), as_int(K),
      &alpha, b, b_type, as_int(trans_b ? K : N), K * N, a, a_type, as_int(trans_a ? M : K), M * K, &beta, c, c_type,
      as_int(N), M * N, as_int(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

unsigned row_blocks(std::int64_t rows) {
  const std::int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  require(blocks > 0 && blocks < (1ll << 31), "attention: too many rows");
  return static_cast<unsigned>(blocks);
}

}  // namespace

void AttentionBuffers::resize(const AttentionDims& s) {
  const auto qo = static_cast<std::size_t>(s.batch * s.m * s.k), kv = static_cast<std::size_t>(s.batch * s.n * s.k);
  const auto sc = static_cast<std::size_t>(s.batch * s.m * s.n);
  for (auto* buf : {&q, &o, &d_o, &dq}) buf->resize(qo);
  for (auto* buf : {&kk, &v, &dk, &dv}) buf->resize(kv);
  p.resize(sc);
  dp.resize(sc);
  p16.resize(sc);
}

void attention_forward(cublasHandle_t blas, cudaStream_t stream, const AttentionDims& s, AttentionBuffers& b) {
  require(s.batch > 0 && s.m > 0 && s.n > 0 && s.k > 0, "attention: every dimension must be positive");
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  // S (m, n) = scale Q (m, k) K^T: K stored (n, k), transposed.
  gemm(blas, false, true, s.m, s.n, s.k, scale, b.q.get(), CUDA_R_16BF, b.kk.get(), CUDA_R_16BF, 0.0f, b.p.get(),
       CUDA_R_32F, s.batch);
  softmax_rows_kernel<<<row_blocks(s.batch * s.m), kWarpsPerBlock * 32, 0, stream>>>(b.p.get(), b.p16.get(),
                                                                                     s.batch * s.m, s.n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
  // O (m, k) = P (m, n) V (n, k).
  gemm(blas, false, false, s.m, s.k, s.n, 1.0f, b.p16.get(), CUDA_R_16BF, b.v.get(), CUDA_R_16BF, 0.0f, b.o.get(),
       CUDA_R_16BF, s.batch);
}

void attention_backward(cublasHandle_t blas, cudaStream_t stream, const AttentionDims& s, AttentionBuffers& b) {
  require(s.batch > 0 && s.m > 0 && s.n > 0 && s.k > 0, "attention: every dimension must be positive");
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  // dV (n, k) = P^T (n, m) dO (m, k): P stored (m, n), transposed.
  gemm(blas, true, false, s.n, s.k, s.m, 1.0f, b.p16.get(), CUDA_R_16BF, b.d_o.get(), CUDA_R_16BF, 0.0f, b.dv.get(),
       CUDA_R_16BF, s.batch);
  // dP (m, n) = dO (m, k) V^T: V stored (n, k), transposed.
  gemm(blas, false, true, s.m, s.n, s.k, 1.0f, b.d_o.get(), CUDA_R_16BF, b.v.get(), CUDA_R_16BF, 0.0f, b.dp.get(),
       CUDA_R_32F, s.batch);
  // dS into p16 (P as bf16 is not needed after dV).
  softmax_backward_rows_kernel<<<row_blocks(s.batch * s.m), kWarpsPerBlock * 32, 0, stream>>>(
      b.p.get(), b.dp.get(), b.d_o.get(), b.o.get(), b.p16.get(), s.batch * s.m, s.n, s.k);
  SWITCHSIM_CUDA_CHECK_LAUNCH("softmax_backward_rows_kernel");
  // dQ (m, k) = scale dS (m, n) K (n, k);  dK (n, k) = scale dS^T (n, m) Q (m, k).
  gemm(blas, false, false, s.m, s.k, s.n, scale, b.p16.get(), CUDA_R_16BF, b.kk.get(), CUDA_R_16BF, 0.0f, b.dq.get(),
       CUDA_R_16BF, s.batch);
  gemm(blas, true, false, s.n, s.k, s.m, scale, b.p16.get(), CUDA_R_16BF, b.q.get(), CUDA_R_16BF, 0.0f, b.dk.get(),
       CUDA_R_16BF, s.batch);
}

void launch_adam(const float* g, float* w, float* m, float* v, std::int64_t n, float lr, float beta1, float beta2,
                 float eps, float c1, float c2, cudaStream_t stream) {
  require(n > 0, "adam: n must be positive");
  const std::int64_t blocks = (n + 255) / 256;
  adam_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(g, w, m, v, n, lr, beta1,
                                                                                          beta2, eps, c1, c2);
  SWITCHSIM_CUDA_CHECK_LAUNCH("adam_kernel");
}

}  // namespace switchsim::kernels::cuda

namespace switchsim::kernels {

namespace {

// Copies are stream-ordered (cudaMemcpyAsync on the session's non-blocking stream, which does not
// synchronise with the legacy default stream that plain cudaMemcpy uses).
void to_device_bf16(const std::vector<float>& src, cuda::DeviceBuffer<cuda::bf16>& dst, cudaStream_t stream) {
  cuda::DeviceBuffer<float> tmp(src.size());
  SWITCHSIM_CUDA_CHECK(
      cudaMemcpyAsync(tmp.get(), src.data(), src.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  cuda::launch_float_to_bf16(tmp.get(), dst.get(), static_cast<std::int64_t>(src.size()), stream);
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));  // tmp dies here
}

std::vector<float> to_host(const cuda::DeviceBuffer<cuda::bf16>& src, cudaStream_t stream) {
  cuda::DeviceBuffer<float> tmp(src.size());
  cuda::launch_bf16_to_float(src.get(), tmp.get(), static_cast<std::int64_t>(src.size()), stream);
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> out(src.size());
  SWITCHSIM_CUDA_CHECK(
      cudaMemcpyAsync(out.data(), tmp.get(), out.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

// A stream and a cuBLAS handle on device 0, released on every path.
struct Session {
  Session() {
    SWITCHSIM_CUDA_CHECK(cudaSetDevice(0));
    SWITCHSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    const cublasStatus_t status = cublasCreate(&blas);
    if (status != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(stream);
      cuda::check(status, "cublasCreate", __FILE__, __LINE__);
    }
    const cublasStatus_t bound = cublasSetStream(blas, stream);
    if (bound != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(blas);
      cudaStreamDestroy(stream);
      cuda::check(bound, "cublasSetStream", __FILE__, __LINE__);
    }
  }
  ~Session() {
    cublasDestroy(blas);
    cudaStreamDestroy(stream);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
};

}  // namespace

CudaAttentionResult cuda_attention_for_test(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                                            const std::vector<float>& q, const std::vector<float>& kk,
                                            const std::vector<float>& v, const std::vector<float>& d_o) {
  const cuda::AttentionDims s{batch, m, n, k};
  const auto qo = static_cast<std::size_t>(batch * m * k), kv = static_cast<std::size_t>(batch * n * k);
  if (q.size() != qo || d_o.size() != qo || kk.size() != kv || v.size() != kv) {
    throw std::invalid_argument("cuda_attention_for_test: operand sizes do not match the shape");
  }
  Session session;
  cuda::AttentionBuffers b;
  b.resize(s);
  to_device_bf16(q, b.q, session.stream);
  to_device_bf16(kk, b.kk, session.stream);
  to_device_bf16(v, b.v, session.stream);
  to_device_bf16(d_o, b.d_o, session.stream);
  cuda::attention_forward(session.blas, session.stream, s, b);
  cuda::attention_backward(session.blas, session.stream, s, b);
  return {to_host(b.o, session.stream), to_host(b.dq, session.stream), to_host(b.dk, session.stream),
          to_host(b.dv, session.stream)};
}

void cuda_adam_for_test(float lr, float beta1, float beta2, float eps, std::int64_t step,
                        const std::vector<float>& grad, std::vector<float>& weight, std::vector<float>& m,
                        std::vector<float>& v) {
  const std::size_t n = grad.size();
  if (weight.size() != n || m.size() != n || v.size() != n || n == 0 || step < 1) {
    throw std::invalid_argument("cuda_adam_for_test: sizes must match and be positive, step >= 1");
  }
  Session session;
  cuda::DeviceBuffer<float> g(n), w(n), dm(n), dv(n);
  SWITCHSIM_CUDA_CHECK(
      cudaMemcpyAsync(g.get(), grad.data(), n * sizeof(float), cudaMemcpyHostToDevice, session.stream));
  SWITCHSIM_CUDA_CHECK(
      cudaMemcpyAsync(w.get(), weight.data(), n * sizeof(float), cudaMemcpyHostToDevice, session.stream));
  SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(dm.get(), m.data(), n * sizeof(float), cudaMemcpyHostToDevice, session.stream));
  SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(dv.get(), v.data(), n * sizeof(float), cudaMemcpyHostToDevice, session.stream));
  const double t = static_cast<double>(step);
  const auto c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta1), t)));
  const auto c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta2), t)));
  cuda::launch_adam(g.get(), w.get(), dm.get(), dv.get(), static_cast<std::int64_t>(n), lr, beta1, beta2, eps, c1, c2,
                    session.stream);
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(session.stream));
  SWITCHSIM_CUDA_CHECK(
      cudaMemcpyAsync(weight.data(), w.get(), n * sizeof(float), cudaMemcpyDeviceToHost, session.stream));
  SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(m.data(), dm.get(), n * sizeof(float), cudaMemcpyDeviceToHost, session.stream));
  SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(v.data(), dv.get(), n * sizeof(float), cudaMemcpyDeviceToHost, session.stream));
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(session.stream));
}

}  // namespace switchsim::kernels
