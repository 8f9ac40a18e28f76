#include "workloads/fp8.hpp"

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"

namespace switchsim::workloads {

void validate_precision(const TrainingSetup& setup, const std::string& device_kind, bool has_profile) {
  if (setup.fp8_dispatch && setup.precision != Precision::fp8) {
    throw InputError("--fp8-dispatch", "needs --precision fp8 (the experts consume the FP8 tokens it sends)");
  }
  if (setup.precision != Precision::fp8) return;
  if (!topology::device_spec(device_kind).supports_fp8()) {
    throw InputError("--precision", "fp8: device '" + device_kind +
                                        "' has no FP8 matrix path (data/devices.json gives no peak_fp8_flops)");
  }
  if (has_profile) {
    throw InputError("--precision", "fp8 with --profile: a measured profile holds bf16/fp32 products only");
  }
}

kernels::OpShape linear_in_precision(kernels::OpShape shape, const TrainingSetup& setup) {
  const bool product = shape.kind == kernels::OpKind::matmul || shape.kind == kernels::OpKind::batched_matmul;
  if (product && setup.precision == Precision::fp8) shape.precision = kernels::Precision::fp8;
  return shape;
}

double dispatch_element_bytes(const TrainingSetup& setup) {
  return setup.fp8_dispatch ? 1.0 : setup.activation_bytes();
}

}  // namespace switchsim::workloads
