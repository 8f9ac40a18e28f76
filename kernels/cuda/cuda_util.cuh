#pragma once
// Error checks that THROW (library code never exits), and an owning device buffer.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace switchsim::kernels::cuda {

inline void check(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA error at ") + file + ":" + std::to_string(line) + ": " + what + ": " +
                             cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
  }
}

inline void check(cublasStatus_t status, const char* what, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("cuBLAS error at ") + file + ":" + std::to_string(line) + ": " + what +
                             ": status " + std::to_string(static_cast<int>(status)));
  }
}

// A launch argument the kernel cannot handle: a bug of the caller.
inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("CUDA launch: ") + what);
}

}  // namespace switchsim::kernels::cuda

#define SWITCHSIM_CUDA_CHECK(call) ::switchsim::kernels::cuda::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: configuration errors and earlier asynchronous faults.
#define SWITCHSIM_CUDA_CHECK_LAUNCH(name) ::switchsim::kernels::cuda::check(cudaGetLastError(), name, __FILE__, __LINE__)

namespace switchsim::kernels::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  void resize(std::size_t n) {
    if (n == size_) return;
    release();
    if (n > 0) SWITCHSIM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(T)));
    size_ = n;
  }
  [[nodiscard]] T* get() const { return ptr_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  void release() {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = nullptr;
    size_ = 0;
  }
  T* ptr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace switchsim::kernels::cuda
