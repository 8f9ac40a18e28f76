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

TEST_CASE("calibrated model interpolates log-log inside the range and falls back outside", "[kernels][cost]") {
  // Samples on time = 1e-12 * flops^1 (constant 1 TFLOP/s) except the middle one
  // at 2e9 flops, which is measured 10% slow (2.2e-3 s instead of 2e-3 s).
  std::vector<CalibrationSample> samples = {
      {OpKind::batched_matmul, 1e9, 1e-3, 0.01},
      {OpKind::batched_matmul, 2e9, 2.2e-3, 0.02},
      {OpKind::batched_matmul, 4e9, 4e-3, 0.01},
  };
  const CalibratedCostModel model("profile:test", test_ceilings(), samples);
  // At a sample: exactly its time.
  OpShape at{OpKind::batched_matmul, 1, 1000, 1000, 1000, 0, Precision::fp32};  // 2e9 flops
  CHECK(model.predict(at).seconds == Approx(2.2e-3).epsilon(1e-9));
  // Between 1e9 and 2e9 at sqrt(2)*1e9 (halfway in log): geometric mean of 1e-3 and 2.2e-3.
  OpShape mid{OpKind::batched_matmul, 1, 1, 1, 1, 0, Precision::fp32};
  mid.m = 1;
  mid.n = 1;
  mid.k = 1;
  mid.batch = 707'106'781;  // 2 * batch flops = 1.414213562e9
  CHECK(model.predict(mid).seconds == Approx(std::sqrt(1e-3 * 2.2e-3)).epsilon(1e-6));
  // Leave-one-out residual: predicting 2e9 from neighbours gives 2e-3 (log-linear
  // through 1e-3 @1e9 and 4e-3 @4e9), relative error 2e-3/2.2e-3 - 1 = -0.0909.
  CHECK(model.predict(mid).relative_uncertainty == Approx(1.0 - 2.0 / 2.2).epsilon(1e-9));
  CHECK(model.in_measured_range(mid));
  // Outside: roofline of the measured ceilings, with the out-of-range uncertainty.
  OpShape big{OpKind::batched_matmul, 1, 2000, 2000, 2000, 0, Precision::fp32};  // 1.6e10 flops
  CHECK_FALSE(model.in_measured_range(big));
  CHECK(model.predict(big).seconds == Approx(model.roofline().predict(big).seconds));
  CHECK(model.predict(big).relative_uncertainty == kOutOfRangeRelativeUncertainty);
  // A kind never measured: roofline too.
  OpShape attn{OpKind::attention, 8, 128, 128, 64, 0, Precision::bf16};
  CHECK(model.predict(attn).seconds == Approx(model.roofline().predict(attn).seconds));
}

TEST_CASE("profile loader checks schema version and device kind", "[kernels][cost]") {
  json p;
  p["schema_version"] = kProfileSchemaVersion;
  p["kind"] = "measured";
  p["device"] = {{"kind", "cpu"}};
  p["backend"] = "cpu";
  p["ceilings"] = ceilings_to_json(test_ceilings());
  p["samples"] = json::array();
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
