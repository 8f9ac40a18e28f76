#pragma once
#include <memory>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

// The CPU backend (fp32; cpu/switch_layer_cpu.hpp).
[[nodiscard]] std::unique_ptr<SwitchLayerBackend> make_cpu_backend();

// OpenBLAS threads for every later matrix product in this process (it is
// OpenBLAS's global setting): n >= 1, or 0 for one per hardware thread
// (OpenBLAS's default without OPENBLAS_NUM_THREADS). InputError("--blas-threads")
// for n < 0.
// calibrate/validate use 1 on the CPU: with two threads on a shared 2-core
// machine every GEMM call waits for its slower half, so a 48-call expert FFN
// stalls whenever either thread is preempted (bench/RESULTS.md, "Kernels").
void set_cpu_blas_threads(int n);
// The OpenBLAS thread count now in force.
[[nodiscard]] int cpu_blas_threads();

}  // namespace switchsim::kernels
