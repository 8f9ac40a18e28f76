#include "kernels/shape_aware_cost_model.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/errors.hpp"
#include "kernels/roofline_cost_model.hpp"

namespace switchsim::kernels {

namespace {

bool is_matrix_kind(OpKind kind) {
  return kind == OpKind::matmul || kind == OpKind::batched_matmul || kind == OpKind::router ||
         kind == OpKind::attention;
}

// Shapes reach 1e5 per side and their products 1e15: the arithmetic is in doubles.
double ceil_div(double a, double b) { return std::ceil(a / b); }
double round_up(double a, double b) { return ceil_div(a, b) * b; }

// Systolic array: the product (M, K) x (K, N), `batch` copies (header formula).
double systolic_product(double batch, double m, double k, double n, const MatrixGeometry& g) {
  const auto dim = static_cast<double>(g.mxu_dim);
  const auto mxus = static_cast<double>(g.mxus);
  const double blocks = batch * ceil_div(k, dim) * ceil_div(n, dim);
  const double passes = ceil_div(blocks, mxus);
  return 2.0 * passes * mxus * dim * dim * round_up(m, static_cast<double>(g.row_step));
}

// GPU tiles: the cheapest orientation and split-K factor (header formula).
MatrixWork tiled_product(double batch, double m, double k, double n, const MatrixGeometry& g, double flops_per_s,
                         double bytes_per_s) {
  const auto sms = static_cast<double>(g.sm_count);
  const auto tk = static_cast<double>(g.tile_k);
  const double k_steps = ceil_div(k, tk);
  MatrixWork best;
  double best_s = 0.0;
  for (const auto& [a, b] : {std::pair{g.tile_m, g.tile_n}, std::pair{g.tile_n, g.tile_m}}) {
    const double tile = static_cast<double>(a) * static_cast<double>(b);
    const double tiles = batch * ceil_div(m, static_cast<double>(a)) * ceil_div(n, static_cast<double>(b));
    // Splits worth trying: none when the grid fills a wave; else up to twice the split that fills one.
    const double max_split = tiles >= sms ? 1.0 : std::min(k_steps, 2.0 * ceil_div(sms, tiles));
    for (double s = 1.0; s <= max_split; s += 1.0) {
      MatrixWork w;
      w.padded_flops = 2.0 * ceil_div(tiles * s, sms) * sms * tile * ceil_div(k_steps, s) * tk;
      w.split_k_bytes = s > 1.0 ? 2.0 * s * batch * m * n * 4.0 : 0.0;
      w.split_k = static_cast<std::int64_t>(s);
      const double seconds = w.padded_flops / flops_per_s + w.split_k_bytes / bytes_per_s;
      if (best_s == 0.0 || seconds < best_s) {
        best = w;
        best_s = seconds;
      }
    }
  }
  return best;
}

// GPU attention, FlashAttention-2 style (header formula).
double tiled_attention(const OpShape& op, const MatrixGeometry& g) {
  const auto sms = static_cast<double>(g.sm_count);
  const auto block = static_cast<double>(kAttentionBlock);
  const double ctas = static_cast<double>(op.batch) * ceil_div(static_cast<double>(op.m), block);
  return 4.0 * ceil_div(ctas, sms) * sms * block * round_up(static_cast<double>(op.n), block) *
         round_up(static_cast<double>(op.k), static_cast<double>(kAttentionHeadDimStep));
}

void require_positive(double value, const std::string& what) {
  if (!(value > 0.0) || !std::isfinite(value)) throw InputError(what, "must be a positive finite number");
}

}  // namespace

double useful_matrix_flops(const OpShape& op) {
  const auto b = static_cast<double>(op.batch);
  const double mnk = static_cast<double>(op.m) * static_cast<double>(op.n) * static_cast<double>(op.k);
  switch (op.kind) {
    case OpKind::matmul:
    case OpKind::batched_matmul:
    case OpKind::router: return 2.0 * b * mnk;
    case OpKind::attention: return 4.0 * b * mnk;  // QK^T and PV
    case OpKind::dispatch:
    case OpKind::combine:
    case OpKind::elementwise:
    case OpKind::optimizer: return 0.0;
  }
  return 0.0;
}

MatrixWork matrix_work(const OpShape& op, const MatrixGeometry& g, double flops_per_s, double bytes_per_s) {
  if (!is_matrix_kind(op.kind) || op.batch <= 0 || op.m <= 0 || op.n <= 0 || op.k <= 0) return {};
  const auto b = static_cast<double>(op.batch);
  const auto m = static_cast<double>(op.m);
  const auto k = static_cast<double>(op.k);
  const auto n = static_cast<double>(op.n);
  MatrixWork w;
  if (g.family == MatrixGeometry::Family::systolic) {
    // Attention per head: QK^T is (m, d) x (d, n), PV is (m, n) x (n, d).
    w.padded_flops = op.kind == OpKind::attention ? systolic_product(b, m, k, n, g) + systolic_product(b, m, n, k, g)
                                                  : systolic_product(b, m, k, n, g);
    return w;
  }
  if (op.kind == OpKind::attention) {
    w.padded_flops = tiled_attention(op, g);
    return w;
  }
  return tiled_product(b, m, k, n, g, flops_per_s, bytes_per_s);
}

ShapeAwareCostModel::ShapeAwareCostModel(DeviceCeilings ceilings, MatrixGeometry geometry)
    : ceilings_(std::move(ceilings)), geometry_(geometry) {
  validate_ceilings(ceilings_);
  const MatrixGeometry& g = geometry_;
  if (g.family == MatrixGeometry::Family::systolic) {
    require_positive(static_cast<double>(g.mxu_dim), "geometry.mxu_dim");
    require_positive(static_cast<double>(g.mxus), "geometry.mxus");
    require_positive(static_cast<double>(g.row_step), "geometry.row_step");
  } else {
    require_positive(static_cast<double>(g.sm_count), "geometry.sm_count");
    require_positive(static_cast<double>(g.tile_m), "geometry.tile_m");
    require_positive(static_cast<double>(g.tile_n), "geometry.tile_n");
    require_positive(static_cast<double>(g.tile_k), "geometry.tile_k");
  }
}

// The matrix peak for bf16 products, the fp32 peak for fp32 ones (and for the memory
// kinds, whose FLOPs are 0 anyway); the matrix peak when the fp32 peak is unknown (0).
double ShapeAwareCostModel::peak_for(const OpShape& op) const {
  const DeviceCeilings& c = ceilings_;
  if (op.precision == Precision::fp8 && is_matrix_kind(op.kind)) return fp8_matrix_peak(c);
  const bool fp32 = op.precision == Precision::fp32 || !is_matrix_kind(op.kind);
  return fp32 && c.vector_flops_per_s > 0.0 ? c.vector_flops_per_s : c.matrix_flops_per_s;
}

MatrixWork ShapeAwareCostModel::work(const OpShape& op) const {
  const DeviceCeilings& c = ceilings_;
  return matrix_work(op, geometry_, peak_for(op) * c.matrix_efficiency, c.memory_Bps * c.memory_efficiency);
}

double ShapeAwareCostModel::utilisation(const OpShape& op) const {
  const MatrixWork w = work(op);
  return w.padded_flops > 0.0 ? useful_matrix_flops(op) / w.padded_flops : 1.0;
}

Prediction ShapeAwareCostModel::price(const OpShape& op, const MatrixWork& w) const {
  const DeviceCeilings& c = ceilings_;
  const double flops_per_s = peak_for(op) * c.matrix_efficiency;
  const double bytes_per_s = c.memory_Bps * c.memory_efficiency;
  const double useful = useful_matrix_flops(op);
  const double other_flops = std::max(0.0, op.flops() - useful);  // the softmax terms
  const double ideal_s = (useful + other_flops) / flops_per_s;
  const double compute_s = (w.padded_flops + other_flops) / flops_per_s + w.split_k_bytes / bytes_per_s;
  const double memory_s = op.min_bytes() / bytes_per_s;
  const double body_s = std::max(compute_s, memory_s);
  const double seconds = c.launch_overhead_s + body_s;
  // Uncertainty (header): the body's and the launch's, weighted by their share of the time.
  double body_u = kMemoryUncertainty;
  if (compute_s >= memory_s && compute_s > 0.0) {
    body_u = std::hypot(kLargeGemmUncertainty, 1.0 - std::min(1.0, ideal_s / compute_s));
  }
  const double u = seconds > 0.0 ? (body_u * body_s + kLaunchUncertainty * c.launch_overhead_s) / seconds : 0.0;
  return Prediction{seconds, u};
}

Prediction ShapeAwareCostModel::predict(const OpShape& op) const { return price(op, work(op)); }

Prediction ShapeAwareCostModel::predict_unpadded(const OpShape& op) const {
  MatrixWork w;
  w.padded_flops = useful_matrix_flops(op);
  return price(op, w);
}

std::string ShapeAwareCostModel::name() const { return "shape-aware:" + ceilings_.device_kind; }

}  // namespace switchsim::kernels
