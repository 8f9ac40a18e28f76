#include <catch2/catch.hpp>

#include <cmath>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "kernels/profile.hpp"
#include "kernels/roofline_cost_model.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

namespace {
DeviceCeilings test_ceilings() {
  DeviceCeilings c;
  c.device_kind = "testdev";
  c.matrix_flops_per_s = 1e12;
  c.vector_flops_per_s = 1e11;
  c.memory_Bps = 1e11;
  c.matrix_efficiency = 0.5;
  c.memory_efficiency = 0.8;
  c.launch_overhead_s = 1e-6;
  return c;
}

// A measured CPU profile with the test ceilings and no samples yet.
json measured_cpu_profile() {
  json p;
  p["schema_version"] = kProfileSchemaVersion;
  p["kind"] = "measured";
  p["device"] = {{"kind", "cpu"}};
  p["backend"] = "cpu";
  p["ceilings"] = ceilings_to_json(test_ceilings());
  p["samples"] = json::array();
  return p;
}
}  // namespace

TEST_CASE("OpShape flops and bytes follow the documented formulas", "[kernels][cost]") {
  OpShape mm{OpKind::matmul, 2, 3, 5, 7, 0, Precision::bf16};
  // 2*batch*m*n*k = 2*2*3*5*7 = 420; bytes = 2*(3*7 + 7*5 + 3*5)*2 = 4*71 = 284
  CHECK(mm.flops() == 420.0);
  CHECK(mm.min_bytes() == 284.0);
  OpShape router{OpKind::router, 1, 4, 8, 16, 0, Precision::fp32};
  // 2*4*8*16 + 5*4*8 = 1024 + 160 = 1184; bytes = 4*16*4 + 16*8*4 + 4*8*4 = 256+512+128 = 896
  CHECK(router.flops() == 1184.0);
  CHECK(router.min_bytes() == 896.0);
  OpShape d{OpKind::dispatch, 1, 0, 0, 0, 1000, Precision::bf16};
  CHECK(d.flops() == 0.0);
  CHECK(d.min_bytes() == 1000.0);
  CHECK(std::string(to_string(OpKind::batched_matmul)) == "batched_matmul");
  CHECK(op_kind_from_string("combine", "x") == OpKind::combine);
  CHECK_THROWS_AS(op_kind_from_string("conv", "x"), InputError);
}

TEST_CASE("roofline takes the slower of compute and memory plus launch overhead", "[kernels][cost]") {
  const RooflineCostModel model(test_ceilings());
  // 1024^3 matmul: flops = 2*1024^3 = 2.147e9 -> 2.147e9 / (1e12*0.5) = 4.295e-3 s;
  // bytes = 3*1024^2*2 = 6.29e6 -> 6.29e6 / 8e10 = 7.86e-5 s: compute-bound.
  OpShape mm{OpKind::matmul, 1, 1024, 1024, 1024, 0, Precision::bf16};
  const double expected = 1e-6 + 2.0 * 1024.0 * 1024.0 * 1024.0 / 5e11;
  CHECK(model.predict(mm).seconds == Approx(expected).epsilon(1e-12));
  CHECK(model.predict(mm).relative_uncertainty == kRooflineRelativeUncertainty);
  // 8e6-byte copy: 8e6 / (1e11*0.8) = 1e-4 s, plus 1e-6 launch.
  OpShape copy{OpKind::elementwise, 1, 0, 0, 0, 8'000'000, Precision::bf16};
  CHECK(model.predict(copy).seconds == Approx(1.01e-4).epsilon(1e-12));
  CHECK(model.name() == "roofline:testdev");
  DeviceCeilings bad = test_ceilings();
  bad.memory_Bps = 0.0;
  CHECK_THROWS_AS(RooflineCostModel(bad), InputError);
}

TEST_CASE("calibrated model interpolates per-call time log-log inside the range and falls back outside",
          "[kernels][cost]") {
  // Three batched samples; per call (x = flops / calls, tau = time / calls):
  //   A: 1e9 flops in 10 calls  -> x = 1e8, tau = 1e-4   (1 TFLOP/s)
  //   B: 4e9 flops in 20 calls  -> x = 2e8, tau = 2.2e-4 (10% slower than 1 TFLOP/s)
  //   C: 1.6e10 flops in 40 calls -> x = 4e8, tau = 4e-4
  std::vector<CalibrationSample> samples = {
      {OpKind::batched_matmul, 1e9, 1e-3, 0.01, 10.0},
      {OpKind::batched_matmul, 4e9, 4.4e-3, 0.02, 20.0},
      {OpKind::batched_matmul, 1.6e10, 1.6e-2, 0.01, 40.0},
  };
  const CalibratedCostModel model("profile:test", test_ceilings(), samples);
  // B's own shape (20 calls of 2*100*1000*1000 = 2e8 flops): exactly its time.
  OpShape at{OpKind::batched_matmul, 20, 100, 1000, 1000, 0, Precision::fp32};
  CHECK(model.predict(at).seconds == Approx(4.4e-3).epsilon(1e-9));
  // The same per-call size in 5 calls: 5 * 2.2e-4 = 1.1e-3 s (a model over total
  // work would see 1e9 flops, A's total, and say 1e-3 s).
  OpShape fewer = at;
  fewer.batch = 5;
  CHECK(model.predict(fewer).seconds == Approx(1.1e-3).epsilon(1e-9));
  // Halfway in log between A and B per call: x = sqrt(2) * 1e8 = 2 * 70710678 flops,
  // tau = sqrt(1e-4 * 2.2e-4); 3 calls -> 3 * tau.
  OpShape mid{OpKind::batched_matmul, 3, 1, 1, 70'710'678, 0, Precision::fp32};
  CHECK(model.predict(mid).seconds == Approx(3.0 * std::sqrt(1e-4 * 2.2e-4)).epsilon(1e-6));
  // Leave-one-out residual: B predicted from A and C per call is 2e-4 (log-linear
  // through 1e-4 @ 1e8 and 4e-4 @ 4e8), relative error 2e-4/2.2e-4 - 1 = -0.0909,
  // larger than the neighbours' spreads (0.01, 0.02).
  CHECK(model.predict(mid).relative_uncertainty == Approx(1.0 - 2.0 / 2.2).epsilon(1e-9));
  CHECK(model.in_measured_range(mid));
  // Per-call work outside [1e8, 4e8] is out of range even when the total work is
  // inside: 1 call of 2*2000^3 = 1.6e10 flops (C's total) -> roofline.
  OpShape big{OpKind::batched_matmul, 1, 2000, 2000, 2000, 0, Precision::fp32};
  CHECK_FALSE(model.in_measured_range(big));
  CHECK(model.predict(big).seconds == Approx(model.fallback().predict(big).seconds));
  CHECK(model.predict(big).relative_uncertainty == kOutOfRangeRelativeUncertainty);
  // A kind never measured: roofline too.
  OpShape attn{OpKind::attention, 8, 128, 128, 64, 0, Precision::bf16};
  CHECK(model.predict(attn).seconds == Approx(model.fallback().predict(attn).seconds));
  // Fewer than one call is malformed.
  CHECK_THROWS_AS(CalibratedCostModel("x", test_ceilings(), {{OpKind::matmul, 1e9, 1e-3, 0.0, 0.5}}), InputError);
}

TEST_CASE("calibrated model adds the GELU cost measured beyond the GEMM curve", "[kernels][cost]") {
  // Plain (relu) samples per call: tau = 1e-12 * x (1e8 -> 1e-4 s, 4e8 -> 4e-4 s).
  // GEGLU samples: GEMM time from that curve plus beta_i * A:
  //   x = 2e8, 15 calls, A = 1e6: 3e-3 + 2e-3   -> beta 2e-9
  //   x = 1e8, 15 calls, A = 2e6: 1.5e-3 + 6e-3 -> beta 3e-9
  //   x = 4e8, 15 calls, A = 1e6: 6e-3 + 1e-3   -> beta 1e-9
  // beta = median = 2e-9 s per element.
  std::vector<CalibrationSample> samples = {
      {OpKind::batched_matmul, 1e9, 1e-3, 0.0, 10.0, 0.0},
      {OpKind::batched_matmul, 4e9, 4e-3, 0.0, 10.0, 0.0},
      {OpKind::batched_matmul, 3e9, 5e-3, 0.0, 15.0, 1e6},
      {OpKind::batched_matmul, 1.5e9, 7.5e-3, 0.0, 15.0, 2e6},
      {OpKind::batched_matmul, 6e9, 7e-3, 0.0, 15.0, 1e6},
  };
  const CalibratedCostModel model("profile:test", test_ceilings(), samples);
  // 30 calls of 2e8 flops with 5e5 GELU elements: 30 * 2e-4 + 5e5 * 2e-9 = 7e-3 s.
  OpShape geglu{OpKind::batched_matmul, 30, 100, 1000, 1000, 0, Precision::fp32};
  geglu.activation_elements = 500'000;
  CHECK(model.predict(geglu).seconds == Approx(7e-3).epsilon(1e-9));
  // Without the GELU: the plain curve alone (the GEGLU samples are not on it): 6e-3 s.
  OpShape relu = geglu;
  relu.activation_elements = 0;
  CHECK(model.predict(relu).seconds == Approx(6e-3).epsilon(1e-9));
}

TEST_CASE("profile samples count calls from shape.batch", "[kernels][cost]") {
  json p = measured_cpu_profile();
  // Two samples of 4 calls each: per call 1e8 flops in 1e-4 s and 4e8 flops in 4e-4 s.
  for (double per_call : {1e8, 4e8}) {
    json s;
    s["op"] = "batched_matmul";
    s["shape"] = {{"batch", 4}, {"m", 1}, {"n", 1}, {"k", per_call / 2}, {"bytes", 0}, {"precision", "fp32"}};
    s["flops"] = 4 * per_call;
    s["bytes"] = 1.0;
    s["median_s"] = 4 * per_call * 1e-12;
    s["p10_s"] = 4 * per_call * 1e-12;
    s["p90_s"] = 4 * per_call * 1e-12;
    p["samples"].push_back(s);
  }
  auto model = cost_model_from_profile_json(p, "cpu", "profile:test");
  // 2 calls of 2e8 flops: per call 2e-4 s (1 TFLOP/s at both ends) -> 4e-4 s.
  OpShape q{OpKind::batched_matmul, 2, 1, 1, 100'000'000, 0, Precision::fp32};
  CHECK(model->predict(q).seconds == Approx(4e-4).epsilon(1e-9));
  json bad = p;
  bad["samples"][0]["shape"]["batch"] = 0;
  CHECK_THROWS_AS(cost_model_from_profile_json(bad, "cpu", "x"), InputError);
}

TEST_CASE("profile loader checks schema version and device kind", "[kernels][cost]") {
  json p = measured_cpu_profile();
  for (double w : {1e8, 1e9}) {
    json s;
    s["kernel"] = "expert_ffn";
    s["op"] = "batched_matmul";
    s["flops"] = w;
    s["bytes"] = w / 10;
    s["median_s"] = w * 1e-12;
    s["p10_s"] = w * 0.9e-12;
    s["p90_s"] = w * 1.1e-12;
    p["samples"].push_back(s);
  }
  auto model = cost_model_from_profile_json(p, "cpu", "profile:test");
  OpShape q{OpKind::batched_matmul, 1, 500, 500, 1000, 0, Precision::fp32};  // 5e8 flops -> 5e-4 s
  CHECK(model->predict(q).seconds == Approx(5e-4).epsilon(1e-9));
  // spread (1.1-0.9)/(2*1.2816) = 0.078
  CHECK(model->predict(q).relative_uncertainty == Approx(0.2 / 2.5632).epsilon(1e-6));

  CHECK_THROWS_AS(cost_model_from_profile_json(p, "h200", "x"), InputError);
  json wrong = p;
  wrong["schema_version"] = 99;
  CHECK_THROWS_AS(cost_model_from_profile_json(wrong, "cpu", "x"), InputError);
  json roof = p;
  roof["kind"] = "roofline";
  auto r = cost_model_from_profile_json(roof, "", "x");
  CHECK(r->name() == "roofline:cpu");
  CHECK_THROWS_AS(load_profile_cost_model("/nonexistent/profile.json", "cpu"), InputError);
}
