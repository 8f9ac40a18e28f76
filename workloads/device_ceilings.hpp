#pragma once
// The compute cost model of a step: the shape-aware model of the mesh's device
// kind from the device catalog (kernels/shape_aware_cost_model.hpp), or a
// calibration profile (--profile), which overrides it where it measured the shape.

#include <memory>
#include <string>

#include "kernels/cost_model.hpp"
#include "kernels/shape_aware_cost_model.hpp"
#include "topology/device_catalog.hpp"

namespace switchsim::workloads {

// Catalog figures -> ceilings: matrix peak = bf16 peak per device, fp8 matrix peak = fp8 peak
// per device (0 without one), vector peak =
// fp32 peak per device, memory = HBM bandwidth per device, matrix_efficiency =
// the catalog's large_gemm_efficiency, launch_overhead_s = the catalog's; the
// memory efficiency keeps kernels::DeviceCeilings' documented default.
[[nodiscard]] kernels::DeviceCeilings ceilings_from_spec(const topology::DeviceSpec& spec);
// Catalog figures -> matrix-unit geometry (per device: a TPU v4 megacore holds both
// TensorCores' MXUs).
[[nodiscard]] kernels::MatrixGeometry geometry_from_spec(const topology::DeviceSpec& spec);

// profile_path empty: the shape-aware model of `device_kind`; else the profile (must
// be for `device_kind`). A measured profile prices the shapes it measured and hands
// the others to the shape-aware model of its measured ceilings and the catalog's
// geometry (kernels/calibrated_cost_model.hpp). A profile-only device (the catalog's `cpu`,
// DeviceSpec::profile_only) has no geometry: its profile's fallback is the roofline of the
// measured ceilings, and without a profile this (and geometry_from_spec) is
// InputError("--profile") in one line.
[[nodiscard]] std::unique_ptr<kernels::CostModel> make_cost_model(const std::string& device_kind,
                                                                  const std::string& profile_path);

}  // namespace switchsim::workloads
