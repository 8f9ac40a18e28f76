#pragma once
// Roofline cost model: a device is a compute ceiling and a memory ceiling.
//
//   time = launch_overhead_s + max( flops / (peak_flops * efficiency_compute),
//                                   bytes / (memory_Bps  * memory_efficiency) )
//
// peak_flops is `matrix_flops_per_s` for kinds whose work is matrix products
// (matmul, batched_matmul, router, attention) and `vector_flops_per_s` (or the
// matrix peak when that is 0) for the others; an fp8 op of a matrix kind runs at
// `fp8_matrix_flops_per_s` (InputError("--precision") when the device has none), so a
// compute-bound fp8 product on a device whose fp8 peak is twice its bf16 peak takes
// exactly half the bf16 time; flops and bytes are
// OpShape::flops() and OpShape::min_bytes(). Every prediction carries the fixed
// relative uncertainty kRooflineRelativeUncertainty: a roofline is a bound
// scaled by assumed efficiencies, and real kernels land within roughly +-30% of
// it for shapes large enough to saturate the device (smaller shapes are slower
// than the roofline says, which is why calibrated profiles exist).

#include <string>

#include "kernels/cost_model.hpp"

namespace switchsim::kernels {

inline constexpr double kRooflineRelativeUncertainty = 0.30;

// The checks every ceilings-based model makes: the matrix peak, memory bandwidth and both
// efficiencies positive and finite, the vector peak and launch overhead not negative.
// InputError("ceilings.<field>" or "ceilings") otherwise.
void validate_ceilings(const DeviceCeilings& ceilings);
// The fp8 matrix peak; InputError("--precision", naming the device) when it is 0.
[[nodiscard]] double fp8_matrix_peak(const DeviceCeilings& ceilings);

class RooflineCostModel final : public CostModel {
 public:
  // Throws InputError("ceilings", ...) when a ceiling is not positive.
  explicit RooflineCostModel(DeviceCeilings ceilings, double relative_uncertainty = kRooflineRelativeUncertainty);

  [[nodiscard]] Prediction predict(const OpShape& op) const override;
  [[nodiscard]] std::string name() const override;  // "roofline:<device_kind>"
  [[nodiscard]] const DeviceCeilings& ceilings() const { return ceilings_; }

 private:
  DeviceCeilings ceilings_;
  double relative_uncertainty_;
};

}  // namespace switchsim::kernels
