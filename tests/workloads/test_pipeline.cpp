// Pipeline parallelism (issue 16, part 1): the layout grammar, the schedules, the simulated
// bubble against the textbook formulas, per-stage memory and the point-to-point sends.
#include <catch2/catch.hpp>

#include "helpers.hpp"

#include <set>
#include <string>

#include "sim/chrome_trace.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/layout.hpp"
#include "workloads/memory.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/pipeline_memory.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_builder.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;

namespace {

// Matrix products at 1 TFLOP/s, everything memory-bound free: each layer's time is its FLOPs, so
// every stage of a model of identical layers costs the same (the embedding lookup is free; the LM
// head is made negligible below) and the network's microseconds are ~1e-5 of a stage's time.
class FlopsOnly final : public kernels::CostModel {
 public:
  [[nodiscard]] kernels::Prediction predict(const kernels::OpShape& op) const override {
    return {op.flops() / 1e12, 0.0};
  }
  [[nodiscard]] std::string name() const override { return "flops-only"; }
};

// llama3-8b's 32 identical dense layers, 512-token sequences, a vocabulary of 8 (LM head ~1e-4 of a layer).
Model uniform_decoder() {
  Model m = load_model("llama3-8b");
  m.vocab = 8;
  m.input_length = 512;
  return m;
}

StepResult run(const Model& m, const topology::Mesh& mesh, const std::string& layout, PipelineSchedule schedule,
               std::int64_t micro_batches, std::int64_t dp = 1, sim::TraceWriter* trace = nullptr) {
  StepOptions o;
  o.training.batch_tokens = micro_batches * dp * m.input_length;  // one sequence per device and micro-batch
  o.training.micro_batches = micro_batches;
  o.training.pp_schedule = schedule;
  o.training.grad_sync.kind = GradSyncKind::fused;
  o.trace = trace;
  o.trace_all_devices = trace != nullptr;
  return simulate_step(m, mesh, parse_layout(layout), o, FlopsOnly());
}

}  // namespace

TEST_CASE("pipeline layout: pp, vpp, tp as mp, stages outermost, printed form", "[layout][pipeline]") {
  const Layout l = parse_layout("dp=2,tp=4,pp=4");
  CHECK(l.mp == 4);
  CHECK(l.pp == 4);
  CHECK(l.devices() == 32);
  CHECK(l.stage_devices() == 8);
  CHECK(l.to_string() == "dp=2,ep=1,mp=4,pp=4,order=mp.ep.rep.pp");
  CHECK(parse_layout(l.to_string()).to_string() == l.to_string());
  // pp = 1 prints exactly as before the pipeline existed.
  CHECK(parse_layout("dp=8,mp=2").to_string() == "dp=8,ep=1,mp=2,order=mp.ep.rep");
  CHECK(parse_layout("dp=8,tp=2,pp=1").to_string() == "dp=8,ep=1,mp=2,order=mp.ep.rep");
  CHECK(parse_layout("dp=4,pp=2,vpp=3,order=tp.ep.rep.pp").to_string() == "dp=4,ep=1,mp=1,pp=2,vpp=3,order=mp.ep.rep.pp");
  // Stage s owns ids [s dp mp, (s + 1) dp mp); inside a stage the order as before.
  CHECK(l.device(1, 0, 3, 0) == 7);
  CHECK(l.device(1, 0, 3, 2) == 2 * 8 + 7);
  CHECK(l.mp_groups(3).front() == std::vector<std::int32_t>{24, 25, 26, 27});
  CHECK(l.dp_groups(1).front() == std::vector<std::int32_t>{8, 12});
  CHECK(l.stage_members(2).front() == 16);
  CHECK(l.stage_members(2).back() == 23);
  const auto pairs = l.stage_pairs(1, 2);
  REQUIRE(pairs.size() == 8);
  for (const auto& p : pairs) CHECK(p[1] == p[0] + 8);
}

TEST_CASE("pipeline layout errors name the field", "[layout][pipeline]") {
  CHECK(field_of([] { (void)parse_layout("dp=8,mp=2,tp=2"); }) == "--layout.mp");
  CHECK(field_of([] { (void)parse_layout("dp=8,pp=0"); }) == "--layout.pp");
  CHECK(field_of([] { (void)parse_layout("dp=8,vpp=2"); }) == "--layout.vpp");
  CHECK(field_of([] { (void)parse_layout("dp=8,pp=2,order=pp.mp.ep.rep"); }) == "--layout.order");
  CHECK(field_of([] { (void)parse_layout("dp=8,pp=2,order=mp.pp.ep.rep"); }) == "--layout.order");
  const Model t5 = load_model("t5-base");  // 12 + 12 layers: one sequence of 24
  CHECK(pipeline_layers(t5) == 24);
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,pp=24"), t5, 24); }) == "(no error)");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,pp=25"), t5, 25); }) == "--layout.pp");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=2,pp=4"), t5, 16); }) == "--layout");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,pp=4,vpp=3"), t5, 4); }) == "(no error)");  // 6 per stage
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,pp=4,vpp=4"), t5, 4); }) == "--layout.vpp");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,pp=5,vpp=2"), t5, 5); }) == "--layout.vpp");  // 24/5 not whole
}

TEST_CASE("pipeline chunks: consecutive blocks, the first ones a layer longer", "[pipeline]") {
  CHECK(chunk_first_layer(10, 4, 0) == 0);
  CHECK(chunk_first_layer(10, 4, 1) == 3);
  CHECK(chunk_first_layer(10, 4, 2) == 6);
  CHECK(chunk_first_layer(10, 4, 3) == 8);
  CHECK(chunk_first_layer(10, 4, 4) == 10);
}

TEST_CASE("pipeline schedules: orders, in-flight micro-batches, errors", "[pipeline]") {
  CHECK(parse_pipeline_schedule("1f1b") == PipelineSchedule::one_f_one_b);
  CHECK(std::string(to_string(PipelineSchedule::interleaved)) == "interleaved");
  CHECK(field_of([] { (void)parse_pipeline_schedule("zigzag"); }) == "--pp-schedule");
  CHECK(field_of([] { validate_pipeline_schedule(PipelineSchedule::gpipe, 4, 2, 8); }) == "--pp-schedule");
  CHECK(field_of([] { validate_pipeline_schedule(PipelineSchedule::interleaved, 4, 2, 6); }) == "--micro-batches");
  CHECK(field_of([] { validate_pipeline_schedule(PipelineSchedule::interleaved, 4, 2, 8); }) == "(no error)");

  // 1F1B, pp = 4, m = 6, stage 1: 2 warm-up forwards, then F B pairs, then 2 backwards.
  const auto a = stage_actions(PipelineSchedule::one_f_one_b, 4, 1, 6, 1);
  std::string seq;
  for (const auto& x : a) {  // appended piecewise: g++ 12 warns -Wrestrict, falsely, on "literal" + std::string&&
    seq += x.backward ? 'B' : 'F';
    seq += std::to_string(x.micro_batch);
    seq += ' ';
  }
  CHECK(seq == "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5 ");
  // Peaks: GPipe m; 1F1B pp - s (pp on the first stage); interleaved pp + (pp - 1) / vpp on the first.
  CHECK(peak_in_flight(PipelineSchedule::gpipe, 4, 1, 8, 0) == 8.0);
  CHECK(peak_in_flight(PipelineSchedule::one_f_one_b, 4, 1, 8, 0) == 4.0);
  CHECK(peak_in_flight(PipelineSchedule::one_f_one_b, 4, 1, 8, 3) == 1.0);
  CHECK(peak_in_flight(PipelineSchedule::one_f_one_b, 4, 1, 2, 0) == 2.0);  // fewer micro-batches than stages
  CHECK(peak_in_flight(PipelineSchedule::interleaved, 4, 2, 8, 0) == Approx(4.0 + 3.0 / 2.0));
  // Interleaved: every (micro-batch, chunk) once forward and once backward on every stage.
  for (std::int64_t s = 0; s < 4; ++s) {
    std::set<std::tuple<bool, std::int64_t, std::int64_t>> seen;
    for (const auto& x : stage_actions(PipelineSchedule::interleaved, 4, 2, 8, s)) {
      seen.insert({x.backward, x.micro_batch, x.chunk});
    }
    CHECK(seen.size() == 2 * 8 * 2);
  }
  CHECK(pipeline_emission_order(PipelineSchedule::interleaved, 4, 3, 8).size() == 4 * 2 * 8 * 3);
}

TEST_CASE("pipeline bubble: GPipe and 1F1B take (m + p - 1) stage times", "[pipeline][slow]") {
  const Model m = uniform_decoder();
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const std::int64_t p = 8;
  for (const std::int64_t micro : {8, 16}) {
    for (const PipelineSchedule s : {PipelineSchedule::gpipe, PipelineSchedule::one_f_one_b}) {
      const StepResult r = run(m, mesh, "dp=1,pp=8", s, micro);
      // The busiest device's compute over m micro-batches is one micro-batch's stage time t_f + t_b.
      const double stage_time = r.compute_lower_bound_s / static_cast<double>(micro);
      CAPTURE(to_string(s), micro, r.step_time_s, stage_time);
      CHECK(r.step_time_s == Approx(static_cast<double>(micro + p - 1) * stage_time).epsilon(1e-4));
      const double bubble = 1.0 - r.compute_lower_bound_s / r.step_time_s;
      CHECK(bubble == Approx(static_cast<double>(p - 1) / static_cast<double>(micro + p - 1)).epsilon(1e-3));
    }
  }
}

TEST_CASE("pipeline bubble: interleaved takes (m + (p - 1) / v) stage times", "[pipeline][slow]") {
  // Megatron's interleaved 1F1B (Narayanan et al. 2021, section 2.2.2): the bubble shrinks by v,
  // (p - 1) / (v m + p - 1) of the step.
  const Model m = uniform_decoder();
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const std::int64_t p = 8, micro = 16;
  for (const std::int64_t v : {2, 4}) {
    const StepResult r = run(m, mesh, "dp=1,pp=8,vpp=" + std::to_string(v), PipelineSchedule::interleaved, micro);
    const double stage_time = r.compute_lower_bound_s / static_cast<double>(micro);
    CAPTURE(v, r.step_time_s, stage_time);
    const double vm = static_cast<double>(v * micro);
    CHECK(r.step_time_s == Approx((static_cast<double>(micro) + static_cast<double>(p - 1) / static_cast<double>(v)) *
                                  stage_time).epsilon(1e-4));
    CHECK(1.0 - r.compute_lower_bound_s / r.step_time_s == Approx(static_cast<double>(p - 1) / (vm + static_cast<double>(p - 1))).epsilon(1e-3));
  }
}

TEST_CASE("pipeline pp = 1 is the step without a pipeline", "[pipeline]") {
  const Model m = uniform_decoder();
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const StepResult a = run(m, mesh, "dp=8", PipelineSchedule::one_f_one_b, 2, 8);
  const StepResult b = run(m, mesh, "dp=8,pp=1", PipelineSchedule::gpipe, 2, 8);
  CHECK(a.step_time_s == b.step_time_s);
  CHECK(a.ops == b.ops);
  CHECK(a.layout == b.layout);
  CHECK(to_json(a).count("pp_schedule") == 0);
}

TEST_CASE("pipeline memory: per stage, activations held in flight by the schedule", "[pipeline][memory]") {
  const Model m = load_model("llama3-8b");
  const Layout l = parse_layout("dp=1,pp=8");
  TrainingSetup setup;
  setup.batch_tokens = 16 * m.input_length;
  setup.micro_batches = 16;
  setup.optimizer = Optimizer::adam;
  setup.moe_impl = MoeImpl::gather;
  const StepShape shape = derive_step_shape(setup, m, l);
  auto stage = [&](PipelineSchedule s, std::int64_t st) {
    TrainingSetup t = setup;
    t.pp_schedule = s;
    return estimate_stage_memory(m, l, t, shape, 0.0, 0.0, 80e9, st);
  };
  const StageMemory g0 = stage(PipelineSchedule::gpipe, 0);
  const StageMemory f0 = stage(PipelineSchedule::one_f_one_b, 0);
  const StageMemory f7 = stage(PipelineSchedule::one_f_one_b, 7);
  CHECK(g0.in_flight == 16.0);
  CHECK(f0.in_flight == 8.0);  // pp micro-batches on the first stage
  CHECK(f7.in_flight == 1.0);
  CHECK(g0.memory.activations_bytes == Approx(2.0 * f0.memory.activations_bytes).epsilon(1e-12));
  CHECK(g0.memory.parameters_bytes == f0.memory.parameters_bytes);
  // One micro-batch's activations of stage 0 (layers 0-3): 4 layers' worth of the whole model's
  // layer activations (the model's activations less its logits, E(32) - E(0)).
  const MemoryEstimate whole = estimate_memory(m, Layout{}, setup, shape, 0.0, 0.0, 80e9);
  Model none = m;
  none.encoder_layers = 0;
  const MemoryEstimate ends = estimate_memory(none, Layout{}, setup, shape, 0.0, 0.0, 80e9);
  CHECK(f0.memory.activations_bytes / 8.0 == Approx((whole.activations_bytes - ends.activations_bytes) / 8.0).epsilon(1e-12));
  // Parameters over all stages: the model's, plus the second copy of the end stages' (embedding, head).
  double params = 0.0;
  for (std::int64_t s = 0; s < 8; ++s) params += stage(PipelineSchedule::one_f_one_b, s).memory.parameters_bytes;
  CHECK(params == Approx(whole.parameters_bytes + ends.parameters_bytes).epsilon(1e-12));
  // The busiest device: the first stage under 1F1B (8 micro-batches of activations, the embedding).
  TrainingSetup t = setup;
  t.pp_schedule = PipelineSchedule::one_f_one_b;
  const PipelineMemory pm = estimate_pipeline_memory(m, l, t, shape, 0.0, 0.0, 80e9);
  CHECK(pm.stage == 0);
  CHECK(pm.memory.total_bytes() == f0.memory.total_bytes());
}

TEST_CASE("pipeline p2p sends go between the matching devices of neighbouring stages", "[pipeline][trace]") {
  const Model m = uniform_decoder();
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const Layout l = parse_layout("dp=2,pp=4");
  TrainingSetup setup;
  setup.batch_tokens = 2 * 4 * m.input_length;
  setup.micro_batches = 4;
  setup.moe_impl = MoeImpl::gather;
  const StepShape shape = derive_step_shape(setup, m, l);
  const BuiltStep step = build_step(m, l, setup, shape, RoutingOptions{}, 8);
  const double bytes = 512.0 * 4096.0 * 2.0;  // local tokens x d_model x bf16
  int fwd = 0, bwd = 0;
  for (std::int32_t i = 0; i < step.graph.num_ops(); ++i) {
    const sim::Op& op = step.graph.op(i);
    if (!op.point_to_point) continue;
    CHECK(op.category() == sim::OpCategory::other_communication);
    const auto& groups = step.graph.partition(op.partition);
    REQUIRE(groups.size() == 2);
    REQUIRE(op.matrices.size() == 2);
    const bool forward = op.name.find("send_activations") != std::string::npos;
    (forward ? fwd : bwd) += 1;
    for (std::size_t g = 0; g < 2; ++g) {
      REQUIRE(groups[g].size() == 2);
      CHECK(groups[g][1] == groups[g][0] + 2);  // the same (rep, e, m) one stage later
      CHECK(op.matrices[g]->at(forward ? 0 : 1, forward ? 1 : 0) == bytes);
      CHECK(op.matrices[g]->at(forward ? 1 : 0, forward ? 0 : 1) == 0.0);
    }
  }
  CHECK(fwd == 4 * 3);  // m micro-batches x (pp - 1) boundaries
  CHECK(bwd == 4 * 3);

  // In the trace: every send slice names its pair and its peer.
  sim::TraceWriter trace;
  (void)run(m, mesh, "dp=2,pp=4", PipelineSchedule::one_f_one_b, 4, 2, &trace);
  const json t = trace.to_json();
  int slices = 0;
  const std::set<std::string> pairs{"0,2", "1,3", "2,4", "3,5", "4,6", "5,7"};
  for (const json& e : t.at("traceEvents")) {
    if (!e.contains("name") || e.at("name").get<std::string>().find(".send_") == std::string::npos) continue;
    if (!e.contains("args")) continue;
    ++slices;
    const std::string members = e.at("args").at("members").get<std::string>();
    CHECK(pairs.count(members) == 1);
    CHECK(e.at("cat").get<std::string>() == "other_communication");
  }
  CHECK(slices == 2 * (12 + 12) * 2);  // sends x 2 groups x 2 members
}
