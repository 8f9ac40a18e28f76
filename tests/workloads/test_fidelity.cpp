// The fidelity runner (workloads/fidelity.hpp) on hand-made cases: each kind
// predicts exactly what the simulator's own entry points give.
#include <catch2/catch.hpp>

#include <cmath>

#include "sim/collective.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/fidelity.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

FidelityCase make_case(const std::string& kind, const json& config, const std::string& unit, double value) {
  FidelityCase c;
  c.file = "test.json";
  c.id = "case";
  c.kind = kind;
  c.config = config;
  c.measured.unit = unit;
  c.measured.value = value;
  return c;
}

double collective_time(const std::string& mesh_name, sim::CollectiveOp op, double bytes) {
  const topology::Mesh mesh = topology::build_mesh(mesh_name);
  sim::CollectiveRequest q;
  q.op = op;
  q.bytes_per_device = bytes;
  return sim::simulate_collective(mesh, q).time_s;
}

}  // namespace

TEST_CASE("fidelity: a collective case predicts simulate_collective's busbw, algbw and time", "[fidelity]") {
  const json config = {{"mesh", "dgx-h100-1"}, {"op", "all-reduce"}, {"bytes", 1 << 26}};
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  sim::CollectiveRequest q;
  q.op = sim::CollectiveOp::all_reduce;
  q.bytes_per_device = 1 << 26;
  const sim::CollectiveResult r = sim::simulate_collective(mesh, q);
  const FidelityResult bus = run_fidelity_case(make_case("collective", config, "busbw_GBps", 100.0));
  REQUIRE(bus.status == FidelityStatus::ok);
  CHECK(bus.predicted == Approx(r.busbw_Bps / 1e9));
  CHECK(bus.relative_error == Approx((r.busbw_Bps / 1e9 - 100.0) / 100.0));
  CHECK(run_fidelity_case(make_case("collective", config, "algbw_GBps", 1.0)).predicted == Approx(r.algbw_Bps / 1e9));
  CHECK(run_fidelity_case(make_case("collective", config, "time_us", 1.0)).predicted == Approx(r.time_s * 1e6));
}

TEST_CASE("fidelity: a ratio case divides the two simulated times", "[fidelity]") {
  const json config = {{"numerator", {{"mesh", "tpuv3-4x4"}, {"op", "all-to-all"}, {"bytes", 1 << 20}}},
                       {"denominator", {{"mesh", "tpuv3-2x2"}, {"op", "all-to-all"}, {"bytes", 1 << 20}}}};
  const FidelityResult r = run_fidelity_case(make_case("collective_ratio", config, "ratio", 2.0));
  REQUIRE(r.status == FidelityStatus::ok);
  const double expected = collective_time("tpuv3-4x4", sim::CollectiveOp::all_to_all, 1 << 20) /
                          collective_time("tpuv3-2x2", sim::CollectiveOp::all_to_all, 1 << 20);
  CHECK(r.predicted == Approx(expected));
  CHECK(r.predicted > 1.0);  // more devices, more hops: the all-to-all takes longer
}

TEST_CASE("fidelity: a step case predicts simulate_step's figures, MFU in percent", "[fidelity]") {
  const json config = {{"model", "switch-base"}, {"mesh", "tpuv3-2x2"}, {"layout", "dp=8,ep=8"}, {"batch_tokens", 8192}};
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-2x2";
  q.layout = "dp=8,ep=8";
  q.batch_tokens = 8192;
  ResolvedStep step = resolve_step_request(q);
  const StepResult s = simulate_step(step.model, *step.mesh, step.layout, step.options, *step.cost);
  CHECK(run_fidelity_case(make_case("step", config, "step_time_s", 1.0)).predicted == Approx(s.step_time_s));
  CHECK(run_fidelity_case(make_case("step", config, "tokens_per_s", 1.0)).predicted == Approx(s.tokens_per_s));
  CHECK(run_fidelity_case(make_case("step", config, "mfu_percent", 50.0)).predicted == Approx(100.0 * s.model_flops.mfu));
  CHECK(run_fidelity_case(make_case("step", config, "model_tflops_per_device", 50.0)).predicted ==
        Approx(s.model_flops.per_s_per_device / 1e12));
  // A flag the step rejects is named as its config key.
  json bad = config;
  bad["layout"] = "dp=3";
  const FidelityResult e = run_fidelity_case(make_case("step", bad, "step_time_s", 1.0));
  CHECK(e.status == FidelityStatus::error);
  CHECK(e.error_field == "test.json: case: config.layout");
}

TEST_CASE("fidelity: MAPE is the mean absolute relative error over compared cases only", "[fidelity]") {
  const json config = {{"mesh", "dgx-h100-1"}, {"op", "all-reduce"}, {"bytes", 1 << 26}};
  const double busbw = run_fidelity_case(make_case("collective", config, "busbw_GBps", 1.0)).predicted;
  FidelityCase low = make_case("collective", config, "busbw_GBps", busbw / 0.5);   // error -50%
  FidelityCase high = make_case("collective", config, "busbw_GBps", busbw / 1.25);  // error +25%
  high.id = "high";
  FidelityCase excluded = make_case("collective", config, "busbw_GBps", busbw * 100.0);
  excluded.id = "excluded";
  excluded.exclude_from_mape = "test";
  FidelityCase unsupported = make_case("", json::object(), "mfu_percent", 40.0);
  unsupported.id = "unsupported";
  unsupported.unsupported = "test";
  const FidelityReport r = run_fidelity({low, high, excluded, unsupported});
  REQUIRE(r.mape_percent.has_value());
  CHECK(*r.mape_percent == Approx(37.5));
  CHECK(r.compared == 2);
  CHECK(r.excluded == 1);
  CHECK(r.unsupported == 1);
  CHECK(r.errors == 0);
  // A range is compared at its middle, and says whether it holds the prediction.
  FidelityCase range = make_case("collective", config, "busbw_GBps", 1.0);
  range.measured.value.reset();
  range.measured.low = busbw * 0.9;
  range.measured.high = busbw * 1.3;
  const FidelityResult in = run_fidelity_case(range);
  CHECK(in.within_range);
  CHECK(in.relative_error == Approx(1.0 / 1.1 - 1.0));
}
