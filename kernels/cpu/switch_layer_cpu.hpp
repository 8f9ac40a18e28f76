#pragma once
// CPU backend kernels: fp32, matrix products through OpenBLAS (cblas_sgemm,
// which runs on OpenBLAS's own thread pool, OPENBLAS_NUM_THREADS threads, all
// cores by default); the other loops run on std::threads (cpu/parallel.hpp).
// These are the reference the CUDA backend is tested against. Semantics are
// in kernels/switch_layer.hpp. Output arguments are resized as needed, so a
// caller that reuses them does not allocate after the first call.

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels::cpu {

// x (T, d_model), router_w (d_model, E); probs (T, E) scratch/out.
void route(const SwitchLayerConfig& c, const float* x, const float* router_w, std::vector<float>& probs,
           RouterOutput& out);

// expert (T, k) -> slots, row_source, loads, expert_offsets, drops (capacity or dropless mode).
void assign_capacity(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, CapacityAssignment& out);

// x (T, d_model) -> buffer (buffer_rows, d_model); rows with no token are zero.
void dispatch(const SwitchLayerConfig& c, const float* x, const CapacityAssignment& a, std::vector<float>& buffer);

// in (buffer_rows, d_model) -> out (buffer_rows, d_model), expert e on its block of rows
// (a.expert_offsets); hidden/gate_hidden (buffer_rows, d_ff) scratch.
void expert_ffn(const SwitchLayerConfig& c, const SwitchLayerWeights& w, const CapacityAssignment& a,
                const std::vector<float>& in, std::vector<float>& hidden, std::vector<float>& gate_hidden,
                std::vector<float>& out);

// expert outputs (buffer_rows, d_model) -> y (T, d_model), weighted by the gates.
void combine(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, const std::vector<float>& gate,
             const CapacityAssignment& a, const std::vector<float>& expert_out, std::vector<float>& y);

// The tanh-form GELU with the standard library's tanh: the reference that
// the kernel's vectorized gelu_tanh_fast (cpu/activation.hpp) is tested against.
[[nodiscard]] inline float gelu_tanh(float v) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
}

}  // namespace switchsim::kernels::cpu
