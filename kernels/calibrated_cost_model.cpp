#include "kernels/calibrated_cost_model.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::kernels {

bool is_memory_kind(OpKind kind) {
  return kind == OpKind::dispatch || kind == OpKind::combine || kind == OpKind::elementwise ||
         kind == OpKind::optimizer;
}

double op_work(const OpShape& op) { return is_memory_kind(op.kind) ? op.min_bytes() : op.flops(); }

double op_calls(const OpShape& op) { return std::max(1.0, static_cast<double>(op.batch)); }

namespace {

// log-log linear interpolation of time between samples a and b at work w.
double interpolate(const CalibrationSample& a, const CalibrationSample& b, double w) {
  if (b.work <= a.work) return a.median_s;
  const double t = (std::log(w) - std::log(a.work)) / (std::log(b.work) - std::log(a.work));
  return std::exp(std::log(a.median_s) + t * (std::log(b.median_s) - std::log(a.median_s)));
}

// Per-call time at per-call work x (inside the curve's range; clamped to it):
// log-log interpolation between the two neighbouring points, and their spread.
std::pair<double, double> per_call_time(const std::vector<CalibrationSample>& pts, double x) {
  const double w = std::clamp(x, pts.front().work, pts.back().work);
  auto upper = std::lower_bound(pts.begin(), pts.end(), w, [](const auto& p, double v) { return p.work < v; });
  if (upper == pts.begin()) ++upper;
  if (upper == pts.end()) --upper;
  const auto& a = *(upper - 1);
  const auto& b = *upper;
  return {interpolate(a, b, w), std::max(a.relative_spread, b.relative_spread)};
}

}  // namespace

CalibratedCostModel::CalibratedCostModel(std::string name, DeviceCeilings measured_ceilings,
                                         std::vector<CalibrationSample> samples, const MatrixGeometry* geometry)
    : name_(std::move(name)) {
  if (geometry != nullptr) {
    fallback_ = std::make_shared<ShapeAwareCostModel>(std::move(measured_ceilings), *geometry);
  } else {
    fallback_ = std::make_shared<RooflineCostModel>(std::move(measured_ceilings), kOutOfRangeRelativeUncertainty);
  }
  std::map<OpKind, std::vector<CalibrationSample>> by_kind;
  for (const auto& s : samples) {
    if (!(s.work > 0.0) || !(s.median_s > 0.0) || !std::isfinite(s.work) || !std::isfinite(s.median_s)) {
      throw InputError("samples", std::string("a ") + to_string(s.kind) + " sample has non-positive work or time");
    }
    if (!(s.calls >= 1.0) || !std::isfinite(s.calls)) {
      throw InputError("samples", std::string("a ") + to_string(s.kind) + " sample has fewer than one call");
    }
    if (!(s.activation_elements >= 0.0) || !std::isfinite(s.activation_elements)) {
      throw InputError("samples", std::string("a ") + to_string(s.kind) + " sample has negative activation elements");
    }
    by_kind[s.kind].push_back(s);
  }
  for (auto& [kind, all] : by_kind) {
    const bool any_plain = std::any_of(all.begin(), all.end(), [](const auto& s) { return s.activation_elements == 0.0; });
    // Per-call points of the samples without a GELU (all of them if every one has it).
    std::vector<CalibrationSample> points;
    for (const auto& s : all) {
      if (any_plain && s.activation_elements > 0.0) continue;
      CalibrationSample per_call = s;
      per_call.work = s.work / s.calls;
      per_call.median_s = s.median_s / s.calls;
      per_call.calls = 1.0;
      per_call.activation_elements = 0.0;
      points.push_back(per_call);
    }
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
    // beta: median GELU cost per element of the samples with one, beyond their GEMM time.
    std::vector<double> betas;
    if (any_plain && curve.points.size() >= 2) {
      for (const auto& s : all) {
        const double x = s.work / s.calls;
        if (s.activation_elements <= 0.0 || x < curve.points.front().work * (1.0 - 1e-9) ||
            x > curve.points.back().work * (1.0 + 1e-9)) {
          continue;
        }
        betas.push_back((s.median_s - s.calls * per_call_time(curve.points, x).first) / s.activation_elements);
      }
    }
    if (!betas.empty()) {
      std::sort(betas.begin(), betas.end());
      const std::size_t n = betas.size();
      const double median = n % 2 == 1 ? betas[n / 2] : 0.5 * (betas[n / 2 - 1] + betas[n / 2]);
      curve.seconds_per_activation_element = std::max(0.0, median);
    }
    curves_[kind] = std::move(curve);
  }
}

bool CalibratedCostModel::measures(OpKind kind) const {
  const auto it = curves_.find(kind);
  return it != curves_.end() && it->second.points.size() >= 2;
}

bool CalibratedCostModel::in_measured_range(const OpShape& op) const {
  const auto it = curves_.find(op.kind);
  if (it == curves_.end() || it->second.points.size() < 2) return false;
  const double w = op_work(op) / op_calls(op);
  const auto& pts = it->second.points;
  // A relative slack of 1e-9 so that a sample's own shape counts as inside.
  return w >= pts.front().work * (1.0 - 1e-9) && w <= pts.back().work * (1.0 + 1e-9);
}

Prediction CalibratedCostModel::predict(const OpShape& op) const {
  if (!in_measured_range(op)) {
    Prediction p = fallback_->predict(op);
    p.relative_uncertainty = std::max(p.relative_uncertainty, kOutOfRangeRelativeUncertainty);
    return p;
  }
  const auto& curve = curves_.at(op.kind);
  const double calls = op_calls(op);
  const auto [tau, spread] = per_call_time(curve.points, op_work(op) / calls);
  const double seconds =
      calls * tau + curve.seconds_per_activation_element * static_cast<double>(op.activation_elements);
  return Prediction{seconds, std::max(spread, curve.residual)};
}

}  // namespace switchsim::kernels
