#include "sweep/device_what_ifs.hpp"

#include "common/errors.hpp"
#include "kernels/shape_aware_cost_model.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/device_ceilings.hpp"

namespace switchsim::sweep {

std::unique_ptr<kernels::CostModel> scaled_cost_model(const WhatIf& w, const std::string& device_kind,
                                                      const std::string& profile) {
  if (!w.scales_ceilings()) return nullptr;
  if (!profile.empty()) {
    throw InputError(w.peak_flops != 1.0 ? "what_if.peak_flops" : "what_if.hbm_bandwidth",
                     "cannot scale a measured profile's timings: leave out profile");
  }
  const topology::DeviceSpec& spec = topology::device_spec(device_kind);
  kernels::DeviceCeilings c = workloads::ceilings_from_spec(spec);
  c.matrix_flops_per_s *= w.peak_flops;
  c.fp8_matrix_flops_per_s *= w.peak_flops;
  c.vector_flops_per_s *= w.peak_flops;
  c.memory_Bps *= w.hbm_bandwidth;
  return std::make_unique<kernels::ShapeAwareCostModel>(c, workloads::geometry_from_spec(spec));
}

}  // namespace switchsim::sweep
