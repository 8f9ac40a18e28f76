#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/calibration.hpp"
#include "kernels/profile.hpp"
#include "kernels/validation.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

TEST_CASE("held-out validation shapes are not calibration shapes", "[kernels][calibration]") {
  for (const std::string backend : {"cpu", "cuda"}) {
    for (const bool quick : {false, true}) {
      for (const auto& v : validation_shapes(backend, quick)) {
        for (const auto& c : calibration_shapes(backend, quick)) CHECK(to_json(v) != to_json(c));
      }
    }
  }
}

TEST_CASE("timing one shape gives the four cost-model ops with ordered percentiles", "[kernels][calibration]") {
  SwitchLayerConfig c;
  c.tokens = 64;
  c.d_model = 16;
  c.d_ff = 32;
  c.experts = 4;
  CalibrationOptions o;
  o.seconds_per_shape = 0.0;  // min_repeats
  o.min_repeats = 3;
  auto backend = make_backend("cpu");
  const auto timings = time_switch_layer(*backend, c, o);
  REQUIRE(timings.size() == 4);
  CHECK(timings[0].kernel == "router");
  CHECK(timings[2].op.kind == OpKind::batched_matmul);
  // expert FFN FLOPs: 2 * E*2 * S * d_model * d_ff with S = ceil(1.0 * 64 / 4) = 16
  CHECK(timings[2].op.flops() == 2.0 * 8 * 16 * 16 * 32);
  for (const auto& t : timings) {
    CHECK(t.repeats == 3);
    CHECK(t.seconds.p10 <= t.seconds.median);
    CHECK(t.seconds.median <= t.seconds.p90);
    CHECK(t.seconds.p10 > 0.0);
  }
  // A sample round-trips into a calibrated model that answers at its own shape.
  json profile;
  profile["schema_version"] = kProfileSchemaVersion;
  profile["kind"] = "measured";
  profile["device"] = backend->identity();
  DeviceCeilings ceilings;
  ceilings.matrix_flops_per_s = 1e10;
  ceilings.memory_Bps = 1e10;
  profile["ceilings"] = ceilings_to_json(ceilings);
  profile["samples"] = json::array();
  for (const auto& t : timings) profile["samples"].push_back(sample_to_json(t, to_json(c)));
  const auto model = cost_model_from_profile_json(profile, "cpu", "test");
  // Each kind has one sample: fewer than two points, so the roofline answers.
  CHECK(model->predict(timings[2].op).seconds == Approx(RooflineCostModel(ceilings, 0.5).predict(timings[2].op).seconds));
}

TEST_CASE("the GEGLU expert FFN op carries its GELU elements", "[kernels][calibration]") {
  SwitchLayerConfig c;
  c.tokens = 64;
  c.d_model = 16;
  c.d_ff = 32;
  c.experts = 4;
  c.capacity_factor = 1.0;
  // relu: 2 calls per expert, no GELU.
  auto relu = switch_layer_ops(c, Precision::fp32)[2].second;
  CHECK(relu.batch == 8);
  CHECK(relu.activation_elements == 0);
  // geglu: 3 calls per expert; GELU over E * S * d_ff = 4 * 16 * 32 = 2048 values
  // (S = ceil(1.0 * 64 / 4) = 16).
  c.activation = Activation::geglu;
  auto geglu = switch_layer_ops(c, Precision::fp32)[2].second;
  CHECK(geglu.batch == 12);
  CHECK(geglu.activation_elements == 2048);
  // ... and it survives the profile's JSON.
  CHECK(op_shape_to_json(geglu)["activation_elements"] == 2048);
  // swiglu: the same three calls and the same E * S * d_ff activated values (SiLU priced with the
  // GELU's per-element term: docs/kernels.md); the config round-trips through a profile's JSON.
  c.activation = Activation::swiglu;
  auto swiglu = switch_layer_ops(c, Precision::fp32)[2].second;
  CHECK(swiglu.batch == 12);
  CHECK(swiglu.activation_elements == 2048);
  CHECK(to_json(c)["activation"] == "swiglu");
  CHECK(config_from_json(to_json(c), "config").activation == Activation::swiglu);
  auto bad = to_json(c);
  bad["activation"] = "silu";
  CHECK_THROWS_WITH(config_from_json(bad, "config"), Catch::Contains("config.activation"));
}

TEST_CASE("roofline profiles load as roofline models", "[kernels][calibration]") {
  DeviceCeilings c;
  c.device_kind = "h100";
  c.matrix_flops_per_s = 989e12;
  c.vector_flops_per_s = 67e12;
  c.memory_Bps = 3.35e12;
  const json p = roofline_profile(c, json{{"kind", "h100"}}, json{{"catalog", "test"}});
  CHECK(p["kind"] == "roofline");
  CHECK(p["measured_at"].is_null());
  const auto model = cost_model_from_profile_json(p, "h100", "x");
  CHECK(model->name() == "roofline:h100");
  // 8192^3 bf16 product: 2*8192^3 / (989e12 * 0.7) = 1.588e-3 s, + 5e-6 launch
  OpShape mm{OpKind::matmul, 1, 8192, 8192, 8192, 0, Precision::bf16};
  CHECK(model->predict(mm).seconds == Approx(2.0 * 8192.0 * 8192.0 * 8192.0 / (989e12 * 0.7) + 5e-6));
  CHECK_THROWS_AS(cost_model_from_profile_json(p, "a100", "x"), InputError);
}

TEST_CASE("the drop check matches the real dispatch with the sequential count", "[kernels][calibration]") {
  auto backend = make_backend("cpu");
  const json d = drop_check(*backend, default_drop_counter(), 3);
  REQUIRE(d.size() == 4);
  for (const auto& e : d) {
    CHECK(e["match"].get<bool>());
    CHECK(e["kernel_drops"] == e["simulator_drops"]);
    // 8192 tokens in 16 groups: the realised count is within ~15% of the expectation
    // (sd of the total is ~sqrt(drops) for these sizes; 15% is > 4 sd when drops > 50).
    const double expected = e["expected_drops"].get<double>();
    if (expected > 50.0) CHECK(e["kernel_drops"].get<double>() == Approx(expected).epsilon(0.15));
  }
  // Skewed routing drops more than uniform routing at the same capacity factor.
  CHECK(d[2]["kernel_drops"].get<long long>() > d[0]["kernel_drops"].get<long long>());
  // A counter that disagrees is reported as a mismatch.
  const DropCounter wrong = [](const std::vector<std::int32_t>&, const SwitchLayerConfig&) { return std::int64_t{-1}; };
  CHECK_FALSE(drop_check(*backend, wrong, 3)[0]["match"].get<bool>());
}

TEST_CASE("validate refuses a profile that contains a held-out shape", "[kernels][calibration]") {
  auto backend = make_backend("cpu");
  json profile;
  profile["samples"] = json::array({json{{"config", to_json(validation_shapes("cpu", true)[0])}}});
  DeviceCeilings c;
  c.matrix_flops_per_s = 1e10;
  c.memory_Bps = 1e10;
  const RooflineCostModel model(c);
  ValidationOptions o;
  o.timing.quick = true;
  CHECK_THROWS_AS(validate(*backend, model, profile, o), InputError);
}
