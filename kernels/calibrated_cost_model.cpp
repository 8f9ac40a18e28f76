#include "kernels/calibrated_cost_model.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"

namespace switchsim::kernels {

bool is_memory_kind(OpKind kind) {
  return kind == OpKind::dispatch || kind == OpKind::combine || kind == OpKind::elementwise ||
         kind == OpKind::optimizer;
}

double op_work(const OpShape& op) { return is_memory_kind(op.kind) ? op.min_bytes() : op.flops(); }

namespace {

// log-log linear interpolation of time between samples a and b at work w.
double interpolate(const CalibrationSample& a, const CalibrationSample& b, double w) {
  if (b.work <= a.work) return a.median_s;
  const double t = (std::log(w) - std::log(a.work)) / (std::log(b.work) - std::log(a.work));
  return std::exp(std::log(a.median_s) + t * (std::log(b.median_s) - std::log(a.median_s)));
}

}  // namespace

CalibratedCostModel::CalibratedCostModel(std::string name, DeviceCeilings measured_ceilings,
                                         std::vector<CalibrationSample> samples)
    : name_(std::move(name)), roofline_(std::move(measured_ceilings), kOutOfRangeRelativeUncertainty) {
  std::map<OpKind, std::vector<CalibrationSample>> by_kind;
  for (const auto& s : samples) {
    if (!(s.work > 0.0) || !(s.median_s > 0.0) || !std::isfinite(s.work) || !std::isfinite(s.median_s)) {
      throw InputError("samples", std::string("a ") + to_string(s.kind) + " sample has non-positive work or time");
    }
    by_kind[s.kind].push_back(s);
  }
  for (auto& [kind, points] : by_kind) {
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.work < b.work; });
    // Merge samples of (nearly) equal work: geometric mean of their times.
    Curve curve;
    for (const auto& p : points) {
      if (!curve.points.empty() && p.work <= curve.points.back().work * (1.0 + 1e-9)) {
        auto& q = curve.points.back();
        q.median_s = std::sqrt(q.median_s * p.median_s);
        q.relative_spread = std::max(q.relative_spread, p.relative_spread);
        continue;
      }
      curve.points.push_back(p);
    }
    // Leave-one-out residual over interior points.
    double sum_sq = 0.0;
    int count = 0;
    for (std::size_t i = 1; i + 1 < curve.points.size(); ++i) {
      const double predicted = interpolate(curve.points[i - 1], curve.points[i + 1], curve.points[i].work);
      const double rel = predicted / curve.points[i].median_s - 1.0;
      sum_sq += rel * rel;
      ++count;
    }
    curve.residual = count > 0 ? std::sqrt(sum_sq / count) : 0.0;
    curves_[kind] = std::move(curve);
  }
}

bool CalibratedCostModel::in_measured_range(const OpShape& op) const {
  const auto it = curves_.find(op.kind);
  if (it == curves_.end() || it->second.points.size() < 2) return false;
  const double w = op_work(op);
  const auto& pts = it->second.points;
  // A relative slack of 1e-9 so that a sample's own shape counts as inside.
  return w >= pts.front().work * (1.0 - 1e-9) && w <= pts.back().work * (1.0 + 1e-9);
}

Prediction CalibratedCostModel::predict(const OpShape& op) const {
  if (!in_measured_range(op)) return roofline_.predict(op);
  const auto& curve = curves_.at(op.kind);
  const auto& pts = curve.points;
  const double w = std::clamp(op_work(op), pts.front().work, pts.back().work);
  auto upper = std::lower_bound(pts.begin(), pts.end(), w, [](const auto& p, double x) { return p.work < x; });
  if (upper == pts.begin()) ++upper;
  if (upper == pts.end()) --upper;
  const auto& a = *(upper - 1);
  const auto& b = *upper;
  const double seconds = interpolate(a, b, w);
  const double spread = std::max(a.relative_spread, b.relative_spread);
  return Prediction{seconds, std::max(spread, curve.residual)};
}

}  // namespace switchsim::kernels
