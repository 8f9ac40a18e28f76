#pragma once
// The device what-ifs that change the compute cost model (docs/sweep.md):
//   peak_flops    x s : the matrix (bf16 and fp8) and vector (fp32) peaks
//   hbm_bandwidth x s : the memory bandwidth (the memory ceiling of every op's roofline)
// applied to the shape-aware model of the device (workloads/device_ceilings.hpp),
// the one `simulate` and `recommend` use without --profile. A measured profile's
// timings cannot be scaled: InputError("what_if.peak_flops" / "what_if.hbm_bandwidth").

#include <memory>
#include <string>

#include "kernels/cost_model.hpp"
#include "sweep/what_if.hpp"

namespace switchsim::sweep {

// The scaled cost model, or nullptr when `w` scales no ceiling (keep the request's own).
[[nodiscard]] std::unique_ptr<kernels::CostModel> scaled_cost_model(const WhatIf& w, const std::string& device_kind,
                                                                    const std::string& profile);

}  // namespace switchsim::sweep
