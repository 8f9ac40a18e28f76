#pragma once
// The CUDA backend lives in a shared module, libswitchsim_cuda.so (built from
// kernels/cuda/ when CMake finds nvcc), that make_backend("cuda") loads with
// dlopen. So no switchsim executable links libcudart/libcublas: they are
// loaded only when a CUDA backend is asked for, and every other command
// starts without them.
//
// The module is looked for, in order, at
//   1. $SWITCHSIM_CUDA_MODULE (a file path), when set;
//   2. libswitchsim_cuda.so next to the running executable, then
//   3. the path CMake built it at (both only in a build with CUDA: a build
//      without it loads a module only through $SWITCHSIM_CUDA_MODULE).
// Its C entry points (kernels/cuda/module.cpp):
//   int switchsim_cuda_module_abi(void)   -> kCudaModuleAbi (refused otherwise)
//   int switchsim_cuda_device_count(void) -> CUDA devices visible (0 on any failure)
//   SwitchLayerBackend* switchsim_cuda_make_backend(int* status, char* message, size_t size)
//        -> a new backend (status 0), or nullptr with status 1 (no device:
//           UnavailableError) or 2 (a CUDA failure: std::runtime_error) and
//           the reason in `message`.
// The module is built from the same sources as the executable that loads it
// (the ABI number guards against a stale module of another layout).

#include <memory>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

inline constexpr int kCudaModuleAbi = 1;
inline constexpr const char* kCudaModuleFile = "libswitchsim_cuda.so";

// True when this build compiled the module (CMake found nvcc).
[[nodiscard]] bool cuda_module_built();

// Loads the module (once per process; it is never unloaded) and creates a
// backend. UnavailableError when the module is missing or cannot be loaded
// (e.g. libcudart absent), or no CUDA device is present.
[[nodiscard]] std::unique_ptr<SwitchLayerBackend> load_cuda_backend();

// CUDA devices visible through the module; 0 when it cannot be loaded.
[[nodiscard]] int cuda_device_count_via_module();

}  // namespace switchsim::kernels
