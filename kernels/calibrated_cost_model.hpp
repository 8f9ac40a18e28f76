#pragma once
// Calibrated cost model: interpolates measured kernel times over shape.
//
// A profile holds, per op kind, samples (work, median time, spread), where the
// work is OpShape::flops() for compute kinds (matmul, batched_matmul, router,
// attention) and OpShape::min_bytes() for memory kinds (dispatch, combine,
// elementwise, optimizer). For a query of work w of one kind:
//
//  * inside the measured range [w_min, w_max] of that kind: piecewise-linear
//    interpolation of log(time) over log(work) between the two neighbouring
//    samples (exact at the samples; between them it follows the local
//    throughput trend). Relative uncertainty = max(measurement spread of the
//    two neighbours, the kind's interpolation residual), where the residual is
//    the RMS relative error of predicting each interior sample from its two
//    neighbours with the sample left out (computed once at construction).
//  * outside the measured range, or for a kind with fewer than two samples:
//    the roofline (roofline_cost_model.hpp) built from the profile's measured
//    ceilings, with relative uncertainty kOutOfRangeRelativeUncertainty.

#include <map>
#include <string>
#include <vector>

#include "kernels/cost_model.hpp"
#include "kernels/roofline_cost_model.hpp"

namespace switchsim::kernels {

inline constexpr double kOutOfRangeRelativeUncertainty = 0.50;

// One measured point of one op kind.
struct CalibrationSample {
  OpKind kind = OpKind::matmul;
  double work = 0.0;          // flops (compute kinds) or bytes (memory kinds), > 0
  double median_s = 0.0;      // > 0
  double relative_spread = 0.0;  // (p90 - p10) / (2 * 1.2816 * median): ~one std dev, relative
};

// True for kinds interpolated over bytes (dispatch, combine, elementwise, optimizer).
[[nodiscard]] bool is_memory_kind(OpKind kind);
// The interpolation coordinate of `op`: flops() or min_bytes().
[[nodiscard]] double op_work(const OpShape& op);

class CalibratedCostModel final : public CostModel {
 public:
  // `name` is reported by name() (e.g. "profile:data/profiles/cpu-2026-11-28.json").
  // Throws InputError("samples", ...) for a sample with non-positive work or time.
  CalibratedCostModel(std::string name, DeviceCeilings measured_ceilings, std::vector<CalibrationSample> samples);

  [[nodiscard]] Prediction predict(const OpShape& op) const override;
  [[nodiscard]] std::string name() const override { return name_; }
  // True when `op` falls inside the measured range of its kind.
  [[nodiscard]] bool in_measured_range(const OpShape& op) const;
  [[nodiscard]] const RooflineCostModel& roofline() const { return roofline_; }

 private:
  struct Curve {
    std::vector<CalibrationSample> points;  // sorted by work, duplicates merged
    double residual = 0.0;                  // leave-one-out RMS relative error
  };
  std::string name_;
  RooflineCostModel roofline_;
  std::map<OpKind, Curve> curves_;
};

}  // namespace switchsim::kernels
