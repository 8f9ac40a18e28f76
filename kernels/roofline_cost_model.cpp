#include "kernels/roofline_cost_model.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"

namespace switchsim::kernels {

namespace {
bool uses_matrix_units(OpKind kind) {
  return kind == OpKind::matmul || kind == OpKind::batched_matmul || kind == OpKind::router ||
         kind == OpKind::attention;
}
void require_positive(double value, const char* what) {
  if (!(value > 0.0) || !std::isfinite(value)) {
    throw InputError(std::string("ceilings.") + what, "must be a positive finite number");
  }
}
}  // namespace

void validate_ceilings(const DeviceCeilings& c) {
  require_positive(c.matrix_flops_per_s, "matrix_flops_per_s");
  require_positive(c.memory_Bps, "memory_Bps");
  require_positive(c.matrix_efficiency, "matrix_efficiency");
  require_positive(c.memory_efficiency, "memory_efficiency");
  if (c.vector_flops_per_s < 0.0 || c.launch_overhead_s < 0.0 || c.fp8_matrix_flops_per_s < 0.0) {
    throw InputError("ceilings", "vector_flops_per_s, fp8_matrix_flops_per_s and launch_overhead_s must not be negative");
  }
}

double fp8_matrix_peak(const DeviceCeilings& c) {
  if (!(c.fp8_matrix_flops_per_s > 0.0)) {
    throw InputError("--precision", "fp8: device '" + c.device_kind + "' has no FP8 matrix path (data/devices.json gives no peak_fp8_flops)");
  }
  return c.fp8_matrix_flops_per_s;
}

RooflineCostModel::RooflineCostModel(DeviceCeilings ceilings, double relative_uncertainty)
    : ceilings_(std::move(ceilings)), relative_uncertainty_(relative_uncertainty) {
  validate_ceilings(ceilings_);
}

Prediction RooflineCostModel::predict(const OpShape& op) const {
  double peak = uses_matrix_units(op.kind) || ceilings_.vector_flops_per_s <= 0.0 ? ceilings_.matrix_flops_per_s
                                                                                   : ceilings_.vector_flops_per_s;
  if (uses_matrix_units(op.kind) && op.precision == Precision::fp8) peak = fp8_matrix_peak(ceilings_);
  const double compute_s = op.flops() / (peak * ceilings_.matrix_efficiency);
  const double memory_s = op.min_bytes() / (ceilings_.memory_Bps * ceilings_.memory_efficiency);
  return Prediction{ceilings_.launch_overhead_s + std::max(compute_s, memory_s), relative_uncertainty_};
}

std::string RooflineCostModel::name() const { return "roofline:" + ceilings_.device_kind; }

}  // namespace switchsim::kernels
