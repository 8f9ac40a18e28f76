#include "workloads/device_ceilings.hpp"

#include "kernels/profile.hpp"
#include "kernels/roofline_cost_model.hpp"

namespace switchsim::workloads {

kernels::DeviceCeilings ceilings_from_spec(const topology::DeviceSpec& spec) {
  kernels::DeviceCeilings c;
  c.device_kind = spec.kind;
  c.matrix_flops_per_s = spec.peak_bf16_flops;
  c.vector_flops_per_s = spec.peak_fp32_flops;
  c.memory_Bps = spec.memory_Bps;
  return c;
}

std::unique_ptr<kernels::CostModel> make_cost_model(const std::string& device_kind, const std::string& profile_path) {
  if (profile_path.empty()) {
    return std::make_unique<kernels::RooflineCostModel>(ceilings_from_spec(topology::device_spec(device_kind)));
  }
  return kernels::load_profile_cost_model(profile_path, device_kind);
}

}  // namespace switchsim::workloads
