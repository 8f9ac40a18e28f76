#pragma once
// Products of uneven sizes in one call: the dropless expert FFN (forward and backward), where
// expert e owns its n_e real rows and nothing is padded.
//
// cublasGemmGroupedBatchedEx (cuBLAS 12.5+; the toolkit here is CUDA 13.0, cublas_api.h) takes
// bf16 A, B and C with CUBLAS_COMPUTE_32F and fp32 alpha/beta, the combination every other
// product of this backend uses (cuBLAS documentation, cublasGemmGroupedBatchedEx, "supported
// data types"). Consecutive problems of one shape form one group (capacity mode's experts: one
// batched product); a dropless expert is mostly a group of its own (the loads differ). Sizes,
// transposes, leading dimensions and alpha/beta are host arrays; the operand pointers are a
// device array, uploaded on the stream before the call (stream order keeps reuse safe). When
// the library answers CUBLAS_STATUS_NOT_SUPPORTED (an older libcublas at run time, an unsupported
// device; then for good) or CUBLAS_STATUS_INVALID_VALUE (a restriction of the grouped call, e.g.
// alignment; for that call), the same products run as a loop of cublasGemmEx calls, one per
// problem, and method_used() says so. The per-problem loop is also selectable, so tests can compare the two.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"

namespace switchsim::kernels::cuda {

enum class GroupedGemmMethod : std::uint8_t { grouped, loop };

// Row-major C (m, n) = alpha op(A) (m, k) . op(B) (k, n) + beta C. A is stored (m, k), or (k, m)
// when trans_a; B is stored (k, n), or (n, k) when trans_b; leading dimensions are the stored
// row lengths. k = 0 is not allowed (skip the problem and zero C instead).
struct GemmProblem {
  const bf16* a = nullptr;
  const bf16* b = nullptr;
  bf16* c = nullptr;
  std::int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
};

class GroupedGemm {
 public:
  // Runs every problem (all with the same alpha and beta) on the handle's stream.
  void run(cublasHandle_t blas, cudaStream_t stream, GroupedGemmMethod method, const std::vector<GemmProblem>& problems,
           float alpha = 1.0f, float beta = 0.0f);
  // The method of the last run: grouped, or loop when asked for or when grouped was not supported.
  [[nodiscard]] GroupedGemmMethod method_used() const { return used_; }
  // The cublasStatus_t of the last grouped call (-1: none yet), for reports.
  [[nodiscard]] int last_grouped_status() const { return last_grouped_status_; }

 private:
  GroupedGemmMethod used_ = GroupedGemmMethod::grouped;
  bool grouped_unsupported_ = false;
  int last_grouped_status_ = -1;
  std::vector<void*> host_pointers_;  // cuBLAS's A..., B..., C... (3 x problems)
  DeviceBuffer<void*> device_pointers_;
  std::vector<cublasOperation_t> op_a_, op_b_;
  std::vector<int> m_, n_, k_, lda_, ldb_, ldc_, group_size_;
  std::vector<float> alpha_, beta_;
};

}  // namespace switchsim::kernels::cuda
