// Grouped products for the dropless expert FFN (see grouped_gemm.cuh).
//
// cuBLAS is column-major. A row-major matrix X (r, c) with row length ld is, read column-major,
// X^T (c, r) with the same ld. So row-major C = op(A) op(B) is computed as column-major
// C^T (n, m) = op(B)^T (n, k) . op(A)^T (k, m): cuBLAS's first operand is B (transposed when
// trans_b), its second is A (transposed when trans_a), sizes (n, m, k), ldc = n.

#include "kernels/cuda/grouped_gemm.cuh"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "kernels/cuda/cuda_backend.hpp"

namespace switchsim::kernels::cuda {

namespace {

int as_int(std::int64_t v, const char* what) {
  require(v >= 0 && v <= std::numeric_limits<int>::max(), what);
  return static_cast<int>(v);
}

}  // namespace

void GroupedGemm::run(cublasHandle_t blas, cudaStream_t stream, GroupedGemmMethod method,
                      const std::vector<GemmProblem>& problems, float alpha, float beta) {
  const std::size_t count = problems.size();
  if (count == 0) return;
  require(count <= static_cast<std::size_t>(std::numeric_limits<int>::max()), "grouped gemm: too many problems");
  op_a_.resize(count);
  op_b_.resize(count);
  for (auto* v : {&m_, &n_, &k_, &lda_, &ldb_, &ldc_, &group_size_}) v->resize(count);
  alpha_.assign(count, alpha);
  beta_.assign(count, beta);
  host_pointers_.resize(3 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const GemmProblem& p = problems[i];
    require(p.a != nullptr && p.b != nullptr && p.c != nullptr, "grouped gemm: null operand");
    require(p.m > 0 && p.n > 0 && p.k > 0, "grouped gemm: m, n, k must be positive");
    // cuBLAS's first operand is B, its second A (see the top of this file).
    op_a_[i] = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    op_b_[i] = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    m_[i] = as_int(p.n, "grouped gemm: n must fit int");
    n_[i] = as_int(p.m, "grouped gemm: m must fit int");
    k_[i] = as_int(p.k, "grouped gemm: k must fit int");
    lda_[i] = as_int(p.trans_b ? p.k : p.n, "grouped gemm: ldb must fit int");
    ldb_[i] = as_int(p.trans_a ? p.m : p.k, "grouped gemm: lda must fit int");
    ldc_[i] = m_[i];
    host_pointers_[i] = const_cast<bf16*>(p.b);  // cuBLAS only reads A and B
    host_pointers_[count + i] = const_cast<bf16*>(p.a);
    host_pointers_[2 * count + i] = p.c;
  }
  // Groups: runs of consecutive problems of one shape (capacity mode: all E experts in one group,
  // a batched GEMM; dropless: mostly one problem per group, the loads differ). Group g's sizes
  // are entry g of the size arrays, compacted in place.
  int groups = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const bool same = groups > 0 && op_a_[i] == op_a_[groups - 1] && op_b_[i] == op_b_[groups - 1] &&
                      m_[i] == m_[groups - 1] && n_[i] == n_[groups - 1] && k_[i] == k_[groups - 1] &&
                      lda_[i] == lda_[groups - 1] && ldb_[i] == ldb_[groups - 1] && ldc_[i] == ldc_[groups - 1];
    if (same) {
      ++group_size_[groups - 1];
      continue;
    }
    const auto g = static_cast<std::size_t>(groups++);
    op_a_[g] = op_a_[i];
    op_b_[g] = op_b_[i];
    m_[g] = m_[i];
    n_[g] = n_[i];
    k_[g] = k_[i];
    lda_[g] = lda_[i];
    ldb_[g] = ldb_[i];
    ldc_[g] = ldc_[i];
    group_size_[g] = 1;
  }
  if (method == GroupedGemmMethod::grouped && !grouped_unsupported_) {
    device_pointers_.resize(std::max(device_pointers_.size(), 3 * count));
    // Pageable source: cudaMemcpyAsync returns once the host data is staged, so host_pointers_
    // may change afterwards; stream order puts the copy after earlier users of the array.
    SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(device_pointers_.get(), host_pointers_.data(), 3 * count * sizeof(void*),
                                         cudaMemcpyHostToDevice, stream));
    void* const* dev = device_pointers_.get();
    const cublasStatus_t status = cublasGemmGroupedBatchedEx(
        blas, op_a_.data(), op_b_.data(), m_.data(), n_.data(), k_.data(), alpha_.data(), dev, CUDA_R_16BF, lda_.data(),
        dev + count, CUDA_R_16BF, ldb_.data(), beta_.data(), dev + 2 * count, CUDA_R_16BF, ldc_.data(), groups,
        group_size_.data(), CUBLAS_COMPUTE_32F);
    last_grouped_status_ = static_cast<int>(status);
    if (status == CUBLAS_STATUS_SUCCESS) {
      used_ = GroupedGemmMethod::grouped;
      return;
    }
    // NOT_SUPPORTED: this library or device has no such kernel; INVALID_VALUE: a restriction of the
    // grouped call (e.g. operand alignment) that cublasGemmEx does not have. Either way the loop
    // below runs the same products, and reports any real argument error itself.
    if (status != CUBLAS_STATUS_NOT_SUPPORTED && status != CUBLAS_STATUS_INVALID_VALUE) {
      check(status, "cublasGemmGroupedBatchedEx", __FILE__, __LINE__);
    }
    if (status == CUBLAS_STATUS_NOT_SUPPORTED) grouped_unsupported_ = true;  // do not ask again
  }
  used_ = GroupedGemmMethod::loop;
  std::size_t i = 0;
  for (int g = 0; g < groups; ++g) {
    const auto q = static_cast<std::size_t>(g);
    for (int member = 0; member < group_size_[q]; ++member, ++i) {
      SWITCHSIM_CUDA_CHECK(cublasGemmEx(blas, op_a_[q], op_b_[q], m_[q], n_[q], k_[q], &alpha, host_pointers_[i],
                                        CUDA_R_16BF, lda_[q], host_pointers_[count + i], CUDA_R_16BF, ldb_[q], &beta,
                                        host_pointers_[2 * count + i], CUDA_R_16BF, ldc_[q], CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT));
    }
  }
}

}  // namespace switchsim::kernels::cuda

namespace switchsim::kernels {

std::vector<float> cuda_grouped_gemm_for_test(const std::vector<std::int64_t>& rows_per_expert, std::int64_t kdim,
                                              std::int64_t n, const std::vector<float>& in, const std::vector<float>& w,
                                              bool grouped, bool* grouped_used) {
  using cuda::bf16;
  std::int64_t rows = 0;
  for (const std::int64_t r : rows_per_expert) rows += r;
  const auto experts = static_cast<std::int64_t>(rows_per_expert.size());
  if (static_cast<std::int64_t>(in.size()) != rows * kdim ||
      static_cast<std::int64_t>(w.size()) != experts * kdim * n) {
    throw std::invalid_argument("cuda_grouped_gemm_for_test: in must be (rows, kdim), w (experts, kdim, n)");
  }
  SWITCHSIM_CUDA_CHECK(cudaSetDevice(0));
  cudaStream_t stream = nullptr;
  SWITCHSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cublasHandle_t blas = nullptr;
  std::vector<float> out(static_cast<std::size_t>(rows * n));
  try {
    SWITCHSIM_CUDA_CHECK(cublasCreate(&blas));
    SWITCHSIM_CUDA_CHECK(cublasSetStream(blas, stream));
    cuda::DeviceBuffer<float> in_f(in.size()), w_f(w.size()), out_f(out.size());
    cuda::DeviceBuffer<bf16> in_b(in.size()), w_b(w.size()), out_b(out.size());
    SWITCHSIM_CUDA_CHECK(
        cudaMemcpyAsync(in_f.get(), in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
    SWITCHSIM_CUDA_CHECK(
        cudaMemcpyAsync(w_f.get(), w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
    cuda::launch_float_to_bf16(in_f.get(), in_b.get(), static_cast<std::int64_t>(in.size()), stream);
    cuda::launch_float_to_bf16(w_f.get(), w_b.get(), static_cast<std::int64_t>(w.size()), stream);
    SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(out_b.get(), 0, out.size() * sizeof(bf16), stream));
    std::vector<cuda::GemmProblem> problems;
    std::int64_t off = 0;
    for (std::int64_t e = 0; e < experts; ++e) {
      const std::int64_t r = rows_per_expert[static_cast<std::size_t>(e)];
      if (r > 0)
        problems.push_back({in_b.get() + off * kdim, w_b.get() + e * kdim * n, out_b.get() + off * n, r, n, kdim});
      off += r;
    }
    cuda::GroupedGemm gemm;
    gemm.run(blas, stream, grouped ? cuda::GroupedGemmMethod::grouped : cuda::GroupedGemmMethod::loop, problems);
    if (grouped_used != nullptr) *grouped_used = gemm.method_used() == cuda::GroupedGemmMethod::grouped;
    cuda::launch_bf16_to_float(out_b.get(), out_f.get(), static_cast<std::int64_t>(out.size()), stream);
    SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));
    SWITCHSIM_CUDA_CHECK(
        cudaMemcpyAsync(out.data(), out_f.get(), out.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
    SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));
  } catch (...) {
    if (blas != nullptr) cublasDestroy(blas);
    cudaStreamDestroy(stream);
    throw;
  }
  cublasDestroy(blas);
  cudaStreamDestroy(stream);
  return out;
}

}  // namespace switchsim::kernels
