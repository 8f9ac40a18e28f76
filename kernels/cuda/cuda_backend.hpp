#pragma once
// The CUDA backend (compiled only when CMake found nvcc: SWITCHSIM_HAVE_CUDA).
// Storage bf16 (activations, expert weights, expert buffers), fp32 router
// (weights, logits, softmax, as the paper's selective precision), fp32
// accumulation everywhere. Kernels: cuda/router.cu, cuda/capacity.cu,
// cuda/dispatch_combine.cu, cuda/expert_ffn.cu (cuBLAS strided-batched).

#include <memory>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

// CUDA devices visible; 0 when there are none or the runtime/driver fails.
[[nodiscard]] int cuda_device_count();

// Throws UnavailableError when no CUDA device is present.
[[nodiscard]] std::unique_ptr<SwitchLayerBackend> make_cuda_backend();

}  // namespace switchsim::kernels
