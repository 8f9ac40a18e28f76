#pragma once
// Calibrated cost model: interpolates measured kernel times over shape.
//
// A profile holds, per op kind, samples (shape, median time, spread). Each
// sample is reduced to one point (x, tau) per CALL: an op of `batch` equal
// independent products (batched_matmul: one GEMM per expert and projection)
// is `calls = batch` calls of work
//     x = work / calls,   tau = median_s / calls,
// where the work is OpShape::flops() for compute kinds (matmul,
// batched_matmul, router, attention) and OpShape::min_bytes() for memory kinds
// (dispatch, combine, elementwise, optimizer); kinds with batch 1 have one
// call. Per-call work is what sets a GEMM's efficiency (OpenBLAS blocks and
// threads each call on its own), so equal total work split into few large or
// many small expert products, or top-2's twice the rows per expert, get
// different times. For a query op of one kind, with calls = batch:
//
//  * x inside the measured range [x_min, x_max] of that kind: time =
//    calls * tau(x), tau by piecewise-linear interpolation of log(tau) over
//    log(x) between the two neighbouring points (exact at the points; between
//    them it follows the local per-call throughput). Relative uncertainty =
//    max(measurement spread of the two neighbours, the kind's interpolation
//    residual), where the residual is the RMS relative error of predicting
//    each interior point from its two neighbours with the point left out
//    (computed once at construction).
//  * a fused GELU (OpShape::activation_elements = A > 0) adds beta * A, where
//    beta (seconds per element) is the median over the kind's samples with
//    A_i > 0 of (median_i - calls_i * tau(x_i)) / A_i, at least 0, and the
//    curve tau comes from the samples without a GELU (all of them if none is
//    without). So GEGLU experts are predicted from relu experts' GEMM times
//    plus the measured cost per GELU element.
//  * outside the measured range, or for a kind with fewer than two points:
//    the fallback model built from the profile's measured ceilings: the
//    shape-aware model (shape_aware_cost_model.hpp) when the device's matrix
//    geometry is given (a catalog device), else the roofline
//    (roofline_cost_model.hpp); relative uncertainty at least
//    kOutOfRangeRelativeUncertainty. So a measured profile overrides the model
//    exactly where it covers the shape.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cost_model.hpp"
#include "kernels/roofline_cost_model.hpp"
#include "kernels/shape_aware_cost_model.hpp"

namespace switchsim::kernels {

inline constexpr double kOutOfRangeRelativeUncertainty = 0.50;

// One measured point of one op kind.
struct CalibrationSample {
  OpKind kind = OpKind::matmul;
  double work = 0.0;          // flops (compute kinds) or bytes (memory kinds) of the whole op, > 0
  double median_s = 0.0;      // > 0
  double relative_spread = 0.0;  // (p90 - p10) / (2 * 1.2816 * median): ~one std dev, relative
  double calls = 1.0;         // independent equal products in the op (OpShape::batch), >= 1
  double activation_elements = 0.0;  // OpShape::activation_elements (GELU values), >= 0
};

// True for kinds interpolated over bytes (dispatch, combine, elementwise, optimizer).
[[nodiscard]] bool is_memory_kind(OpKind kind);
// The work of `op`: flops() or min_bytes().
[[nodiscard]] double op_work(const OpShape& op);
// Calls of `op` (see above): max(1, batch).
[[nodiscard]] double op_calls(const OpShape& op);

class CalibratedCostModel final : public CostModel {
 public:
  // `name` is reported by name() (e.g. "profile:data/profiles/h200-2026-11-28.json").
  // `geometry` (may be null): the device's matrix units, for a shape-aware fallback.
  // Throws InputError("samples", ...) for a sample with non-positive work or time.
  CalibratedCostModel(std::string name, DeviceCeilings measured_ceilings, std::vector<CalibrationSample> samples,
                      const MatrixGeometry* geometry = nullptr);

  [[nodiscard]] Prediction predict(const OpShape& op) const override;
  [[nodiscard]] std::string name() const override { return name_; }
  // True when `op` falls inside the measured range of its kind.
  [[nodiscard]] bool in_measured_range(const OpShape& op) const;
  // True when the profile has at least two samples of `kind` (an interpolation curve).
  [[nodiscard]] bool measures(OpKind kind) const;
  // What prices the shapes outside the measured range (see above).
  [[nodiscard]] const CostModel& fallback() const { return *fallback_; }

 private:
  struct Curve {
    std::vector<CalibrationSample> points;  // per call (work = x, median_s = tau, calls = 1), sorted by x, duplicates merged
    double residual = 0.0;                  // leave-one-out RMS relative error
    double seconds_per_activation_element = 0.0;  // beta
  };
  std::string name_;
  std::shared_ptr<const CostModel> fallback_;
  std::map<OpKind, Curve> curves_;
};

}  // namespace switchsim::kernels
