// Shape-aware cost model (kernels/shape_aware_cost_model.hpp): MXU and tile
// padding, waves, split-K, memory-bound and launch-bound regimes, hand-computed.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "kernels/profile.hpp"
#include "kernels/shape_aware_cost_model.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

namespace {

// Memory 1e15 B/s makes every product below compute-bound, so the compute term
// can be checked alone: rate = 1e12 * 0.5 = 5e11 FLOP/s.
DeviceCeilings compute_only(const char* kind) {
  DeviceCeilings c;
  c.device_kind = kind;
  c.matrix_flops_per_s = 1e12;
  c.vector_flops_per_s = 2.5e11;
  c.memory_Bps = 1e15;
  c.matrix_efficiency = 0.5;
  c.memory_efficiency = 1.0;
  c.launch_overhead_s = 1e-6;
  return c;
}

// TPU v3 TensorCore: 2 MXUs of 128 x 128, rows in steps of 8.
MatrixGeometry tpu_core() {
  MatrixGeometry g;
  g.family = MatrixGeometry::Family::systolic;
  g.mxu_dim = 128;
  g.mxus = 2;
  g.row_step = 8;
  return g;
}

// H100-like: 132 SMs, 128 x 256 tiles, K in steps of 64.
MatrixGeometry gpu_132() {
  MatrixGeometry g;
  g.family = MatrixGeometry::Family::gpu_tiles;
  g.sm_count = 132;
  g.tile_m = 128;
  g.tile_n = 256;
  g.tile_k = 64;
  return g;
}

OpShape mm(std::int64_t m, std::int64_t k, std::int64_t n, std::int64_t batch = 1) {
  OpShape s;
  s.kind = batch == 1 ? OpKind::matmul : OpKind::batched_matmul;
  s.batch = batch;
  s.m = m;
  s.k = k;
  s.n = n;
  return s;
}

constexpr double kRate = 5e11;  // compute_only(): 1e12 x 0.5

}  // namespace

TEST_CASE("systolic: K and N pad to the 128-wide array, M to 8 rows", "[kernels][shape]") {
  const ShapeAwareCostModel model(compute_only("tpu"), tpu_core());
  // 129 x 129 x 129: K and N take 2 blocks each -> 4 weight blocks over 2 MXUs = 2 passes;
  // M pads to 136 rows. padded = 2 * 2 passes * 2 MXUs * 128^2 * 136 = 17,825,792 FLOPs.
  const OpShape odd = mm(129, 129, 129);
  const double padded = 2.0 * 2 * 2 * 128 * 128 * 136;
  CHECK(matrix_work(odd, tpu_core(), kRate, 1e15).padded_flops == padded);
  CHECK(model.predict(odd).seconds == Approx(1e-6 + padded / kRate).epsilon(1e-12));
  // ... exactly what the padded shape 136 x 256 x 256 costs.
  CHECK(model.predict(odd).seconds == Approx(model.predict(mm(136, 256, 256)).seconds).epsilon(1e-12));
  CHECK(model.utilisation(odd) == Approx(2.0 * 129 * 129 * 129 / padded));
  // One row more than a multiple of 8 costs 8 rows more: 137 rows -> 144.
  CHECK(matrix_work(mm(137, 129, 129), tpu_core(), kRate, 1e15).padded_flops == 2.0 * 2 * 2 * 128 * 128 * 144);
}

TEST_CASE("systolic: a well-shaped product reaches the large-GEMM efficiency", "[kernels][shape]") {
  const ShapeAwareCostModel model(compute_only("tpu"), tpu_core());
  // 128 x 256 x 128: 2 weight blocks fill both MXUs once; no padding.
  const OpShape fit = mm(128, 256, 128);
  CHECK(model.utilisation(fit) == 1.0);
  CHECK(model.predict(fit).seconds == Approx(1e-6 + 2.0 * 128 * 256 * 128 / kRate).epsilon(1e-12));
  // 128 x 128 x 128 is one weight block: one of the 2 MXUs idles (scaling-book: tile
  // dimensions must exceed 128 x the number of MXUs), so half the throughput.
  CHECK(model.utilisation(mm(128, 128, 128)) == 0.5);
  // Experts fill the MXUs too: 2 copies of one block each.
  CHECK(model.utilisation(mm(128, 128, 128, 2)) == 1.0);
}

TEST_CASE("systolic attention with d_kv = 64 fills half of the array", "[kernels][shape]") {
  // QK^T (512, 64) x (64, 512): K = 64 pads to 128; PV (512, 512) x (512, 64): N = 64 pads to 128.
  OpShape attn = mm(512, 64, 512, 12);
  attn.kind = OpKind::attention;
  const ShapeAwareCostModel model(compute_only("tpu"), tpu_core());
  CHECK(model.utilisation(attn) == 0.5);
  // d_kv = 128 fills it.
  attn.k = 128;
  CHECK(model.utilisation(attn) == 1.0);
}

TEST_CASE("gpu: one more row of tiles than a whole number of waves costs one more wave", "[kernels][shape]") {
  const ShapeAwareCostModel model(compute_only("gpu"), gpu_132());
  // M = N = 128 * 132 = 16896, K = 64: 132 x 66 tiles of 128 x 256 = 8712 = 66 waves of 132.
  const std::int64_t side = 128 * 132;
  const OpShape whole = mm(side, 64, side);
  const double per_wave = 2.0 * 132 * 128 * 256 * 64;
  CHECK(matrix_work(whole, gpu_132(), kRate, 1e15).padded_flops == 66.0 * per_wave);
  CHECK(model.utilisation(whole) == 1.0);
  // One row more: 133 x 66 = 8778 tiles (or, the other way round, 67 x 132 = 8844): 67 waves.
  for (const std::int64_t m : {side + 1, side + 128}) {
    CHECK(matrix_work(mm(m, 64, side), gpu_132(), kRate, 1e15).padded_flops == 67.0 * per_wave);
    CHECK(model.predict(mm(m, 64, side)).seconds == Approx(1e-6 + 67.0 * per_wave / kRate).epsilon(1e-12));
  }
  // K pads to the 64-element k-step: K = 65 costs as K = 128.
  CHECK(model.predict(mm(side, 65, side)).seconds == Approx(model.predict(mm(side, 128, side)).seconds));
}

TEST_CASE("gpu: a small output with a long K is split along K", "[kernels][shape]") {
  // A weight gradient 256 x 256 over K = 65536 tokens: 2 tiles of 128 x 256, 1024 k-steps.
  // Without a split: 1 wave of 132 SMs for 2 tiles (useful / padded = 2/132).
  // Split s: ceil(2 s / 132) waves of ceil(1024 / s) k-steps; s = 64 gives 128 tiles in one
  // wave of 16 k-steps, and no s does better (s <= 66 for one wave; ceil(1024/s) = 16 from 64
  // on; more slices only add partial sums): padded = 2 * 132 * 128 * 256 * 16 * 64.
  const MatrixWork w = matrix_work(mm(256, 65536, 256), gpu_132(), kRate, 1e15);
  CHECK(w.split_k == 64);
  CHECK(w.padded_flops == 2.0 * 132 * 128 * 256 * 16 * 64);
  // Partial sums: 64 fp32 copies of the 256 x 256 output, written and read back.
  CHECK(w.split_k_bytes == 2.0 * 64 * 256 * 256 * 4);
  // A grid that fills a wave is not split.
  CHECK(matrix_work(mm(4096, 65536, 4096), gpu_132(), kRate, 1e15).split_k == 1);
  // The partial sums are paid: with a slow memory, splitting costs their traffic.
  const double slow_bytes = 1e9;  // 33.5 MB of partial sums would take 34 ms
  CHECK(matrix_work(mm(256, 65536, 256), gpu_132(), kRate, slow_bytes).split_k < 64);
}

TEST_CASE("gpu attention: one CTA per head and 128 query rows, head dim in steps of 32", "[kernels][shape]") {
  const ShapeAwareCostModel model(compute_only("gpu"), gpu_132());
  // 33 heads x 512 queries / 128 = 132 CTAs = one full wave; keys 512, head dim 64: no padding.
  OpShape attn = mm(512, 64, 512, 33);
  attn.kind = OpKind::attention;
  CHECK(model.utilisation(attn) == 1.0);
  // Head dim 80 pads to 96.
  attn.k = 80;
  CHECK(model.utilisation(attn) == Approx(80.0 / 96.0));
}

TEST_CASE("a 1-row product is memory-bound; a tiny op costs the launch overhead", "[kernels][shape]") {
  // H100-like ceilings: 989e12 x 0.828 FLOP/s, 3.35e12 x 0.8 B/s, 5 us per kernel.
  DeviceCeilings c;
  c.device_kind = "gpu";
  c.matrix_flops_per_s = 989e12;
  c.vector_flops_per_s = 67e12;
  c.memory_Bps = 3.35e12;
  c.matrix_efficiency = 0.828;
  c.memory_efficiency = 0.8;
  c.launch_overhead_s = 5e-6;
  const ShapeAwareCostModel model(c, gpu_132());
  // (1, 4096) x (4096, 4096): bytes = (4096 + 4096^2 + 4096) * 2 = 33,570,816 -> 12.53 us at
  // 2.68e12 B/s. Compute, padded to 128 rows: at most 16 tiles x 128 x 256 x 4096 x 2 =
  // 4.3e9 FLOPs -> 5.2 us at 8.19e14 FLOP/s (split-K only shortens it): memory-bound.
  const OpShape row = mm(1, 4096, 4096);
  const double bytes = (4096.0 + 4096.0 * 4096.0 + 4096.0) * 2.0;
  CHECK(model.predict(row).seconds == Approx(5e-6 + bytes / (3.35e12 * 0.8)).epsilon(1e-12));
  CHECK(model.predict(row).relative_uncertainty ==
        Approx((kMemoryUncertainty * bytes / (3.35e12 * 0.8) + kLaunchUncertainty * 5e-6) /
               (5e-6 + bytes / (3.35e12 * 0.8))));
  // An op that moves nothing costs exactly the launch overhead. An 8 x 8 x 8 product is one
  // tile of one k-step on one SM: the launch plus one SM's time for a 128 x 256 x 64 tile,
  // i.e. one wave (2 * 132 * 128 * 256 * 64 FLOPs at the device's rate), 0.68 us.
  OpShape nothing;
  nothing.kind = OpKind::elementwise;
  CHECK(model.predict(nothing).seconds == 5e-6);
  CHECK(model.predict(mm(8, 8, 8)).seconds ==
        Approx(5e-6 + 2.0 * 132 * 128 * 256 * 64 / (989e12 * 0.828)).epsilon(1e-12));
}

TEST_CASE("fp32 products run at the fp32 peak", "[kernels][shape]") {
  const ShapeAwareCostModel model(compute_only("tpu"), tpu_core());
  OpShape p = mm(1024, 256, 256);
  const double bf16 = model.predict(p).seconds - 1e-6;
  p.precision = Precision::fp32;
  // vector (fp32) peak 2.5e11 is 4x below the matrix peak 1e12.
  CHECK(model.predict(p).seconds - 1e-6 == Approx(4.0 * bf16).epsilon(1e-12));
}

TEST_CASE("shape-aware cost is monotone in every dimension; the unpadded cost bounds it below", "[kernels][shape]") {
  for (const MatrixGeometry& g : {tpu_core(), gpu_132()}) {
    DeviceCeilings c = compute_only("x");
    c.memory_Bps = 2e12;  // both regimes occur
    const ShapeAwareCostModel model(c, g);
    const std::int64_t sizes[] = {1, 7, 8, 64, 100, 128, 129, 255, 256, 1000, 4096, 16896, 16897, 65536};
    for (const std::int64_t m : sizes) {
      for (const std::int64_t k : sizes) {
        for (const std::int64_t n : sizes) {
          const OpShape s = mm(m, k, n);
          const double t = model.predict(s).seconds;
          INFO(m << " x " << k << " x " << n);
          CHECK(model.predict_unpadded(s).seconds <= t);
          CHECK(model.utilisation(s) > 0.0);
          CHECK(model.utilisation(s) <= 1.0);
          CHECK(model.predict(mm(m + 1, k, n)).seconds >= t);
          CHECK(model.predict(mm(m, k + 1, n)).seconds >= t);
          CHECK(model.predict(mm(m, k, n + 1)).seconds >= t);
          CHECK(model.predict(mm(m, k, n, 2)).seconds >= t);
        }
      }
    }
  }
}

TEST_CASE("padding is not convex in the rows; the unpadded cost is", "[kernels][shape]") {
  // Why the planner prices an averaged load with predict_unpadded (planner/bounds.hpp): two
  // devices with 136 and 392 rows of a (M, 1024) x (1024, 4096) product average 264 rows,
  // and the mean's padded cost is above the mean of the two costs (136 rows fit one
  // 256-row tile, 264 and 392 both need two), so the mean is no lower bound of the busier.
  const ShapeAwareCostModel model(compute_only("gpu"), gpu_132());
  auto rows = [&](std::int64_t m) { return model.predict(mm(m, 1024, 4096)).seconds; };
  CHECK(rows(264) > 0.5 * (rows(136) + rows(392)) * 1.1);
  // The unpadded cost is convex in the rows (linear plus a constant, or their maximum).
  for (std::int64_t a = 1; a <= 4096; a += 37) {
    for (const std::int64_t gap : {2, 64, 256, 1000}) {
      const double ua = model.predict_unpadded(mm(a, 1024, 4096)).seconds;
      const double ub = model.predict_unpadded(mm(a + gap, 1024, 4096)).seconds;
      const double um = model.predict_unpadded(mm(a + gap / 2, 1024, 4096)).seconds;
      CHECK(um <= 0.5 * (ua + ub) * (1.0 + 1e-12));
    }
  }
}

TEST_CASE("a measured profile overrides the shape-aware model where it covers the shape", "[kernels][shape]") {
  // Two measured batched_matmul samples per call: 1e8 FLOPs in 2e-4 s, 4e8 FLOPs in 8e-4 s.
  std::vector<CalibrationSample> samples = {
      {OpKind::batched_matmul, 1e8, 2e-4, 0.01, 1.0},
      {OpKind::batched_matmul, 4e8, 8e-4, 0.01, 1.0},
  };
  const MatrixGeometry g = gpu_132();
  const CalibratedCostModel model("profile:test", compute_only("gpu"), samples, &g);
  const ShapeAwareCostModel shape(compute_only("gpu"), g);
  // Inside: 2 * 100 * 1000 * 1000 = 2e8 FLOPs per call -> 4e-4 s from the profile (the model
  // alone says otherwise: its padded tiles at 5e11 FLOP/s take about 1.1 ms).
  OpShape inside{OpKind::batched_matmul, 1, 100, 1000, 1000, 0, Precision::bf16};
  CHECK(model.in_measured_range(inside));
  CHECK(model.predict(inside).seconds == Approx(4e-4).epsilon(1e-9));
  CHECK(std::abs(shape.predict(inside).seconds / 4e-4 - 1.0) > 0.5);
  // Outside (2 * 2000^3 = 1.6e10 FLOPs): the shape-aware model of the profile's ceilings,
  // with at least the out-of-range uncertainty.
  OpShape outside{OpKind::batched_matmul, 1, 2000, 2000, 2000, 0, Precision::bf16};
  CHECK_FALSE(model.in_measured_range(outside));
  CHECK(model.predict(outside).seconds == shape.predict(outside).seconds);
  CHECK(model.predict(outside).relative_uncertainty >= kOutOfRangeRelativeUncertainty);
  // Through the profile loader: the geometry makes the fallback shape-aware.
  json p;
  p["schema_version"] = kProfileSchemaVersion;
  p["kind"] = "measured";
  p["device"] = {{"kind", "gpu"}};
  p["ceilings"] = ceilings_to_json(compute_only("gpu"));
  p["samples"] = json::array();
  for (const auto& s : samples) {
    p["samples"].push_back({{"op", "batched_matmul"}, {"flops", s.work}, {"median_s", s.median_s},
                            {"p10_s", s.median_s}, {"p90_s", s.median_s}, {"shape", {{"batch", 1}}}});
  }
  const auto loaded = cost_model_from_profile_json(p, "gpu", "profile:x", "--profile", &g);
  CHECK(loaded->predict(inside).seconds == Approx(4e-4).epsilon(1e-9));
  CHECK(loaded->predict(outside).seconds == shape.predict(outside).seconds);
}

TEST_CASE("shape-aware model rejects a bad geometry and names it", "[kernels][shape][errors]") {
  MatrixGeometry g = gpu_132();
  g.tile_k = 0;
  try {
    (void)ShapeAwareCostModel(compute_only("gpu"), g);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.field() == "geometry.tile_k");
  }
  CHECK(ShapeAwareCostModel(compute_only("gpu"), gpu_132()).name() == "shape-aware:gpu");
}
