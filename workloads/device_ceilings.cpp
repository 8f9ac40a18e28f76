#include "workloads/device_ceilings.hpp"

#include <fmt/format.h>

#include "common/errors.hpp"
#include "kernels/profile.hpp"

namespace switchsim::workloads {

kernels::DeviceCeilings ceilings_from_spec(const topology::DeviceSpec& spec) {
  kernels::DeviceCeilings c;
  c.device_kind = spec.kind;
  c.matrix_flops_per_s = spec.peak_bf16_flops;
  c.fp8_matrix_flops_per_s = spec.peak_fp8_flops;  // 0 when the device has none
  c.vector_flops_per_s = spec.peak_fp32_flops;
  c.memory_Bps = spec.memory_Bps;
  c.matrix_efficiency = spec.large_gemm_efficiency;
  c.launch_overhead_s = spec.launch_overhead_s;
  return c;
}

namespace {

// The one line for a profile-only device (the host CPU) asked for without a profile.
[[noreturn]] void refuse_profile_only(const topology::DeviceSpec& spec) {
  throw InputError("--profile", fmt::format("device '{}' is priced only by a measured profile: pass --profile FILE "
                                            "(written by `switchsim calibrate --backend {}`)",
                                            spec.kind, spec.kind));
}

}  // namespace

kernels::MatrixGeometry geometry_from_spec(const topology::DeviceSpec& spec) {
  if (spec.profile_only()) refuse_profile_only(spec);
  kernels::MatrixGeometry g;
  if (spec.matrix_units == topology::DeviceSpec::MatrixUnits::systolic) {
    g.family = kernels::MatrixGeometry::Family::systolic;
    g.mxu_dim = spec.mxu_dim;
    g.mxus = spec.mxus_per_device;
    g.row_step = spec.mxu_row_step;
  } else {
    g.family = kernels::MatrixGeometry::Family::gpu_tiles;
    g.sm_count = spec.sm_count;
    g.tile_m = spec.gemm_tile_m;
    g.tile_n = spec.gemm_tile_n;
    g.tile_k = spec.gemm_tile_k;
  }
  return g;
}

std::unique_ptr<kernels::CostModel> make_cost_model(const std::string& device_kind, const std::string& profile_path) {
  const topology::DeviceSpec& spec = topology::device_spec(device_kind);
  if (spec.profile_only()) {
    // No catalog geometry: the profile's samples, and outside their range the roofline of its
    // measured ceilings (kernels/calibrated_cost_model.hpp without a geometry).
    if (profile_path.empty()) refuse_profile_only(spec);
    return kernels::load_profile_cost_model(profile_path, device_kind, nullptr);
  }
  if (profile_path.empty()) {
    return std::make_unique<kernels::ShapeAwareCostModel>(ceilings_from_spec(spec), geometry_from_spec(spec));
  }
  const kernels::MatrixGeometry geometry = geometry_from_spec(spec);
  return kernels::load_profile_cost_model(profile_path, device_kind, &geometry);
}

}  // namespace switchsim::workloads
