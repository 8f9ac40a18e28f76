#pragma once
// The compute cost model of a step: the roofline of the mesh's device kind
// from the device catalog, or a calibration profile (--profile).

#include <memory>
#include <string>

#include "kernels/cost_model.hpp"
#include "topology/device_catalog.hpp"

namespace switchsim::workloads {

// Catalog figures -> roofline ceilings: matrix peak = bf16 peak per device,
// vector peak = fp32 peak per device, memory = HBM bandwidth per device; the
// efficiencies and launch overhead keep kernels::DeviceCeilings' documented defaults.
[[nodiscard]] kernels::DeviceCeilings ceilings_from_spec(const topology::DeviceSpec& spec);

// profile_path empty: roofline of `device_kind`; else the profile (must be for `device_kind`).
[[nodiscard]] std::unique_ptr<kernels::CostModel> make_cost_model(const std::string& device_kind,
                                                                  const std::string& profile_path);

}  // namespace switchsim::workloads
