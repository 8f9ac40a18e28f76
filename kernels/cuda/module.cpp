// The C entry points of libswitchsim_cuda.so (kernels/cuda_module.hpp): the
// executable dlopen()s this module and calls these, so that it never links
// the CUDA libraries itself. No exception crosses these functions.

#include <cstddef>
#include <cstdio>
#include <exception>

#include "common/errors.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda_module.hpp"

namespace {

void copy_message(const char* text, char* message, std::size_t size) {
  if (message != nullptr && size > 0) std::snprintf(message, size, "%s", text);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int switchsim_cuda_module_abi() { return switchsim::kernels::kCudaModuleAbi; }

__attribute__((visibility("default"))) int switchsim_cuda_device_count() {
  try {
    return switchsim::kernels::cuda_device_count();
  } catch (...) {
    return 0;
  }
}

__attribute__((visibility("default"))) switchsim::kernels::SwitchLayerBackend* switchsim_cuda_make_backend(
    int* status, char* message, std::size_t size) {
  try {
    auto backend = switchsim::kernels::make_cuda_backend();
    *status = 0;
    return backend.release();
  } catch (const switchsim::UnavailableError& e) {
    *status = 1;
    copy_message(e.what(), message, size);
  } catch (const std::exception& e) {
    *status = 2;
    copy_message(e.what(), message, size);
  } catch (...) {
    *status = 2;
    copy_message("unknown error while creating the CUDA backend", message, size);
  }
  return nullptr;
}

}  // extern "C"
