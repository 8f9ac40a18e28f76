// One training step end to end: analytical oracles on the executor's output.
#include <catch2/catch.hpp>

#include "helpers.hpp"

#include "common/errors.hpp"
#include "sim/collective.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_builder.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;

namespace {
const topology::Mesh& small_mesh() {
  static const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");  // 8 devices
  return mesh;
}
StepOptions small_options(std::int64_t sequences_per_device = 2) {
  StepOptions o;
  o.training.batch_tokens = 8 * sequences_per_device * 512;
  return o;
}
}  // namespace

TEST_CASE("a dp-only dense step is its compute plus its gradient all-reduce", "[step]") {
  const Model m = load_model("t5-base");
  const Layout layout = parse_layout("dp=8");
  const StepOptions o = small_options();
  const auto cost = make_cost_model("tpuv3", "");
  const StepResult r = simulate_step(m, small_mesh(), layout, o, *cost);

  // Oracle: every compute op runs back to back on each device (one stream, all chained),
  // then the fp32 gradients of all parameters are all-reduced over the 8 devices, then the update.
  const BuiltStep built = build_step(m, layout, o.training, derive_step_shape(o.training, m, layout), RoutingOptions{}, 8);
  double compute_s = 0.0;
  for (sim::OpId i = 0; i < built.graph.num_ops(); ++i) {
    if (built.graph.op(i).type == sim::OpType::compute) compute_s += cost->predict(built.graph.op(i).shape).seconds;
  }
  sim::CollectiveRequest ar;
  ar.op = sim::CollectiveOp::all_reduce;
  ar.bytes_per_device = count_params(m).total() * 4.0;
  const double allreduce_s = sim::simulate_collective(small_mesh(), ar).time_s;
  CHECK(r.step_time_s == Approx(compute_s + allreduce_s).epsilon(1e-9));
  CHECK(r.breakdown.all_reduce_s == Approx(allreduce_s).epsilon(1e-9));
  CHECK(r.breakdown.compute_s == Approx(compute_s).epsilon(1e-9));
  CHECK(r.breakdown.all_to_all_s == 0.0);
  CHECK(r.drop_fraction == 0.0);
}

TEST_CASE("step time never below the compute lower bound, breakdown sums to the step", "[step]") {
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  for (const char* mode : {"capacity", "dropless"}) {
    for (const char* layout : {"dp=8,ep=8", "dp=4,ep=2,mp=2"}) {
      StepOptions o = small_options();
      o.mode = parse_mode(mode);
      o.routing = parse_routing("zipf:1.0");
      const StepResult r = simulate_step(m, small_mesh(), parse_layout(layout), o, *cost);
      INFO(mode << " " << layout);
      CHECK(r.step_time_s >= r.compute_lower_bound_s * (1.0 - 1e-12));
      CHECK(r.breakdown.total_s() == Approx(r.step_time_s).epsilon(1e-9));
      CHECK(r.breakdown.all_to_all_s > 0.0);  // ep > 1: the all-to-alls are on the path
    }
  }
}

TEST_CASE("step: more capacity never drops more, dropless never drops", "[step]") {
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o = small_options();
  o.routing = parse_routing("dirichlet:2");
  const Layout layout = parse_layout("dp=8,ep=8");
  double previous = 2.0;
  for (double cf : {0.5, 1.0, 1.25, 1.5, 2.0}) {
    o.capacity_factor = cf;
    const StepResult r = simulate_step(m, small_mesh(), layout, o, *cost);
    CHECK(r.drop_fraction <= previous);
    previous = r.drop_fraction;
  }
  o.capacity_factor = 0.5;
  o.mode = ExecutionMode::dropless;
  CHECK(simulate_step(m, small_mesh(), layout, o, *cost).drop_fraction == 0.0);
  o.mode = ExecutionMode::capacity;
  CHECK(simulate_step(m, small_mesh(), layout, o, *cost).drop_fraction > 0.05);  // cf 0.5 must drop
}

TEST_CASE("capacity mode pays for padding: a larger factor never makes the step faster", "[step]") {
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o = small_options();
  const Layout layout = parse_layout("dp=8,ep=8");
  double previous = 0.0;
  for (double cf : {0.5, 1.0, 2.0, 4.0}) {
    o.capacity_factor = cf;
    const StepResult r = simulate_step(m, small_mesh(), layout, o, *cost);
    CHECK(r.step_time_s >= previous);
    previous = r.step_time_s;
  }
}

TEST_CASE("the same seed gives byte-identical JSON, another seed other drops", "[step]") {
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o = small_options();
  o.routing = parse_routing("zipf:1.2");
  o.mode = ExecutionMode::dropless;
  const Layout layout = parse_layout("dp=8,ep=8");
  o.seed = 11;
  const std::string a = dump_json(to_json(simulate_step(m, small_mesh(), layout, o, *cost)));
  const std::string b = dump_json(to_json(simulate_step(m, small_mesh(), layout, o, *cost)));
  CHECK(a == b);
  o.seed = 12;
  const std::string c = dump_json(to_json(simulate_step(m, small_mesh(), layout, o, *cost)));
  CHECK(a != c);
}

TEST_CASE("capacity sweep: one row per factor with spread over seeds", "[step]") {
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o = small_options();
  const auto rows = capacity_sweep(m, small_mesh(), parse_layout("dp=8,ep=8"), o, parse_factors("0.5,1,2"), 3, *cost);
  REQUIRE(rows.size() == 3);
  for (const auto& row : rows) {
    CHECK(row.drop_fraction.min <= row.drop_fraction.mean);
    CHECK(row.drop_fraction.mean <= row.drop_fraction.max);
  }
  CHECK(rows[0].drop_fraction.mean >= rows[2].drop_fraction.mean);
  const json j = to_json(rows);
  CHECK(j.at("rows").size() == 3);
  CHECK(j.at("rows")[0].contains("spread"));
}

TEST_CASE("JSON carries the documented fields", "[step]") {
  const auto cost = make_cost_model("tpuv3", "");
  const json j = to_json(simulate_step(load_model("switch-base"), small_mesh(), parse_layout("dp=8,ep=8"), small_options(), *cost));
  for (const char* key : {"schema_version", "model", "mesh", "layout", "capacity_factor", "group_tokens",
                          "expert_capacity", "step_time_s", "tokens_per_s", "examples_per_s", "drop_fraction",
                          "memory_per_device_bytes", "fits_memory", "breakdown", "provenance"}) {
    CHECK(j.contains(key));
  }
  CHECK(j.at("provenance").at("cost_model") == "roofline:tpuv3");
  for (const char* key : {"compute_s", "all_to_all_s", "all_reduce_s", "idle_s"}) CHECK(j.at("breakdown").contains(key));
}

TEST_CASE("memory: adam needs more than adafactor, remat less activation, oversize is rejected", "[step]") {
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o = small_options();
  const Layout layout = parse_layout("dp=8,ep=8");
  const StepResult base = simulate_step(m, small_mesh(), layout, o, *cost);
  o.training.optimizer = Optimizer::adam;
  CHECK(simulate_step(m, small_mesh(), layout, o, *cost).memory.optimizer_bytes > base.memory.optimizer_bytes);
  o.training.optimizer = Optimizer::adafactor;
  o.training.rematerialize = true;
  const StepResult remat = simulate_step(m, small_mesh(), layout, o, *cost);
  CHECK(remat.memory.activations_bytes < base.memory.activations_bytes);
  CHECK(remat.step_time_s > base.step_time_s);  // the forward pass runs twice
  // Switch-XXL (395B params) on 8 cores of 16 GiB: parameters alone are ~200 GB per device.
  StepOptions x = small_options(1);
  const StepResult xxl = simulate_step(load_model("switch-xxl"), small_mesh(), parse_layout("dp=8,ep=8"), x, *cost);
  CHECK_FALSE(xxl.memory.fits());
  CHECK(xxl.memory.parameters_bytes > 1e11);
  CHECK(xxl.memory.explain("tpuv3").find("GiB") != std::string::npos);
}

TEST_CASE("bad requests are input errors naming the field", "[step]") {
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-2x2";
  q.layout = "dp=8,ep=8";
  q.batch_tokens = 8 * 512;
  CHECK_NOTHROW(resolve_step_request(q));
  StepRequest bad = q;
  bad.model = "switch-q";
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--model");
  bad = q;
  bad.layout = "dp=4,ep=4";
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--layout");
  bad = q;
  bad.layout = "dp=8,ep=3";
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--layout.ep");
  bad = q;
  bad.capacity_factor = 0.0;
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--capacity-factor");
  bad = q;
  bad.batch_tokens = 4 * 512;  // 4 sequences over dp = 8
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--batch-tokens");
  bad = q;
  bad.routing = "trace:/nonexistent/trace.json";
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--routing");
  bad = q;
  bad.mode = "ragged";
  CHECK(field_of([&] { (void)resolve_step_request(bad); }) == "--mode");
}

TEST_CASE("traffic matrix: uniform capacity mode with dp=ep=E sends the padded capacity bytes to every peer",
          "[step][traffic]") {
  Model m = load_model("switch-base");
  m.experts = 8;  // E = 8 = devices of tpuv3-2x2, so dp = ep = E
  const Layout layout = parse_layout("dp=8,ep=8");
  StepOptions o = small_options();
  o.capacity_factor = 1.25;
  o.training.rematerialize = false;  // no forward replay: exactly four all-to-alls per Switch layer
  o.traffic = true;
  const auto cost = make_cost_model("tpuv3", "");
  const StepResult r = simulate_step(m, small_mesh(), layout, o, *cost);
  REQUIRE(r.traffic.has_value());
  REQUIRE(r.traffic->n() == 8);

  // Oracle: in capacity mode each device's dispatch buffer is [E, groups x C, d_model] bf16
  // (E x groups x C x d x 2 B), and an all-to-all over ep = E devices sends 1/E of it, i.e.
  // groups x C x d x 2 B, to every peer. Per Switch layer there are four such all-to-alls
  // (dispatch + combine, forward + backward), with C = ceil(cf x G / E) of that stack.
  const StepShape shape = derive_step_shape(o.training, m, layout);
  const double enc_c = static_cast<double>(expert_capacity(1.25, 1, shape.group_tokens, 8));
  const double dec_c = static_cast<double>(expert_capacity(1.25, 1, shape.decoder_group_tokens, 8));
  const double per_slot_bytes = static_cast<double>(shape.groups_per_device * m.d_model) * 2.0;
  const double expected = 4.0 * per_slot_bytes *
                          (static_cast<double>(m.switch_layers(m.encoder_layers)) * enc_c +
                           static_cast<double>(m.switch_layers(m.decoder_layers)) * dec_c) *
                          static_cast<double>(o.training.micro_batches);
  REQUIRE(expected > 0.0);
  for (std::int32_t i = 0; i < 8; ++i) {
    for (std::int32_t j = 0; j < 8; ++j) {
      INFO(i << " -> " << j);
      if (i != j) CHECK(r.traffic->at(i, j) == Approx(expected).epsilon(1e-12));
      if (i == j) CHECK(r.traffic->at(i, j) == 0.0);  // a device's own share stays local
    }
  }
  const json j = to_json(r);
  REQUIRE(j.contains("traffic_matrix"));
  CHECK(j["traffic_matrix"]["n"] == 8);
  CHECK(j["traffic_matrix"]["bytes"].size() == 64u);
  CHECK(j["traffic_matrix"]["bytes"][1].get<double>() == Approx(expected).epsilon(1e-12));
}

TEST_CASE("traffic matrix: dropless sends each routed assignment out and back, forward and backward",
          "[step][traffic]") {
  Model m = load_model("switch-base");
  m.experts = 8;  // one expert per device of tpuv3-2x2
  StepOptions o = small_options();
  o.mode = ExecutionMode::dropless;
  o.training.rematerialize = false;  // exactly four all-to-alls per Switch layer
  o.traffic = true;
  const auto cost = make_cost_model("tpuv3", "");
  const StepResult r = simulate_step(m, small_mesh(), parse_layout("dp=8,ep=8"), o, *cost);
  REQUIRE(r.traffic.has_value());

  // Oracle: per Switch layer, the forward dispatch sends the routed bytes M (i -> j: the
  // assignments of i's tokens to j's expert x d_model x 2 B), the combine sends them back (M^T),
  // and the backward pass repeats both reversed (M^T, then M). So the summed traffic is
  // 2 (M + M^T) per layer: exactly symmetric (entries are integers x 1536 B, summed exactly).
  // Every assignment is processed (dropless), so traffic + the shares that stay on their device
  // = 4 x 2 B x d_model x (top_k x tokens) summed over Switch layers; uniform routing keeps
  // about 1/8 local.
  const StepShape shape = derive_step_shape(o.training, m, parse_layout("dp=8,ep=8"));
  const double tokens = 8.0 * static_cast<double>(static_cast<std::int64_t>(m.switch_layers(m.encoder_layers)) * shape.local_tokens +
                                                  static_cast<std::int64_t>(m.switch_layers(m.decoder_layers)) * shape.local_decoder_tokens);
  const double all_assignments_bytes = 4.0 * 2.0 * static_cast<double>(m.d_model * m.top_k) * tokens;
  double total = 0.0;
  bool ragged = false;
  for (std::int32_t i = 0; i < 8; ++i) {
    CHECK(r.traffic->at(i, i) == 0.0);
    for (std::int32_t j = 0; j < 8; ++j) {
      INFO(i << " -> " << j);
      CHECK(r.traffic->at(i, j) == r.traffic->at(j, i));
      total += r.traffic->at(i, j);
      if (i != j && j != (i + 1) % 8) ragged = ragged || r.traffic->at(i, j) != r.traffic->at(i, (i + 1) % 8);
    }
  }
  CHECK(total < all_assignments_bytes);
  CHECK(total == Approx(all_assignments_bytes * 7.0 / 8.0).epsilon(0.05));
  CHECK(ragged);  // sampled loads, not the padded uniform buffer of capacity mode
}

TEST_CASE("traffic matrix: a dense model sends nothing in all-to-alls, only computed when asked", "[step][traffic]") {
  StepOptions o = small_options();
  const auto cost = make_cost_model("tpuv3", "");
  CHECK(!simulate_step(load_model("t5-base"), small_mesh(), parse_layout("dp=8"), o, *cost).traffic.has_value());
  o.traffic = true;
  const StepResult r = simulate_step(load_model("t5-base"), small_mesh(), parse_layout("dp=8"), o, *cost);
  REQUIRE(r.traffic.has_value());
  for (const double b : r.traffic->dense()) CHECK(b == 0.0);
}
