// The parts of switch_layer.hpp that need nothing but the standard library
// and common/errors.hpp: they are compiled into both switchsim_kernels and the
// CUDA module (libswitchsim_cuda.so), which links no other switchsim library.

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "common/errors.hpp"
#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

const char* to_string(Activation a) {
  switch (a) {
    case Activation::relu: return "relu";
    case Activation::geglu: return "geglu";
    case Activation::swiglu: return "swiglu";
  }
  return "unknown";
}

const char* to_string(SwitchKernel k) {
  switch (k) {
    case SwitchKernel::router: return "router";
    case SwitchKernel::assign_capacity: return "assign_capacity";
    case SwitchKernel::dispatch: return "dispatch";
    case SwitchKernel::expert_ffn: return "expert_ffn";
    case SwitchKernel::combine: return "combine";
  }
  return "unknown";
}

const char* to_string(SwitchBackwardKernel k) {
  switch (k) {
    case SwitchBackwardKernel::combine_backward: return "combine_backward";
    case SwitchBackwardKernel::expert_backward: return "expert_backward";
    case SwitchBackwardKernel::dispatch_backward: return "dispatch_backward";
    case SwitchBackwardKernel::router_backward: return "router_backward";
  }
  return "unknown";
}

void SwitchLayerConfig::validate() const {
  auto positive = [](std::int64_t v, const char* field) {
    if (v <= 0) throw InputError(field, "must be positive (got " + std::to_string(v) + ")");
  };
  positive(tokens, "tokens");
  positive(d_model, "d_model");
  positive(d_ff, "d_ff");
  positive(experts, "experts");
  positive(top_k, "top_k");
  if (top_k > experts) throw InputError("top_k", "must not exceed experts (" + std::to_string(experts) + ")");
  if (top_k > 8) throw InputError("top_k", "at most 8 is supported");
  if (!(capacity_factor > 0.0) || !std::isfinite(capacity_factor)) {
    throw InputError("capacity_factor", "must be a positive finite number");
  }
  if (group_size < 0) throw InputError("group_size", "must not be negative (0 = one group)");
  // Dropless has no capacity: the groups only report loads per group.
  if (tokens % group_tokens() != 0) {
    throw InputError("group_size", "must divide tokens (" + std::to_string(tokens) + ")");
  }
  // Index arithmetic uses int32 for slots and int64 for element offsets.
  if (static_cast<double>(experts) * static_cast<double>(slots_per_expert()) > 2.0e9 ||
      static_cast<double>(buffer_rows()) > 2.0e9 ||
      static_cast<double>(tokens) * static_cast<double>(top_k) > 2.0e9) {
    throw InputError("tokens", "too many tokens or expert slots for 32-bit slot indices");
  }
}

std::int64_t SwitchLayerConfig::capacity() const {
  const double exact = capacity_factor * static_cast<double>(top_k) * static_cast<double>(group_tokens()) /
                       static_cast<double>(experts);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(exact - 1e-9)));
}

float round_to_bf16(float v) {
  if (!std::isfinite(v)) return v;
  auto bits = std::bit_cast<std::uint32_t>(v);
  const std::uint32_t lsb = (bits >> 16) & 1u;
  bits += 0x7fffu + lsb;
  bits &= 0xffff0000u;
  return std::bit_cast<float>(bits);
}

double run_switch_layer(SwitchLayerBackend& backend) {
  double total = 0.0;
  for (SwitchKernel k : kAllSwitchKernels) total += backend.run(k);
  return total;
}

double run_switch_layer_backward(SwitchLayerBackend& backend) {
  double total = 0.0;
  for (SwitchBackwardKernel k : kAllSwitchBackwardKernels) total += backend.run_backward(k);
  return total;
}

}  // namespace switchsim::kernels
