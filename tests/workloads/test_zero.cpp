// ZeRO / FSDP sharding (--zero, workloads/zero_sharding.hpp): memory divided by the right group,
// the step's collectives, and stage 0 left exactly as it was. Oracles computed by hand from the
// parameter counts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "helpers.hpp"

#include "sim/collective.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/memory.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_builder.hpp"
#include "workloads/step_request.hpp"
#include "workloads/zero_sharding.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;

namespace {

MemoryEstimate memory_at(const Model& m, const Layout& layout, TrainingSetup setup, std::int32_t stage) {
  setup.zero_stage = stage;
  setup.moe_impl = m.is_moe() ? MoeImpl::gather : MoeImpl::einsum;
  const StepShape shape = derive_step_shape(setup, m, layout);
  return estimate_memory(m, layout, setup, shape, 100.0, 100.0, 16.0 * (1ull << 30));
}

// Sum of the bytes of the step's collectives of one kind whose name contains `part`.
double collective_bytes(const sim::OpGraph& g, sim::CollectiveOp op, const std::string& part) {
  double bytes = 0.0;
  for (sim::OpId i = 0; i < g.num_ops(); ++i) {
    const sim::Op& o = g.op(i);
    if (o.type == sim::OpType::collective && o.collective == op && o.name.find(part) != std::string::npos) {
      bytes += o.bytes_per_device;
    }
  }
  return bytes;
}

const sim::Op& op_named(const sim::OpGraph& g, const std::string& name) {
  for (sim::OpId i = 0; i < g.num_ops(); ++i)
    if (g.op(i).name == name) return g.op(i);
  FAIL("no op " << name);
  return g.op(0);
}

BuiltStep build(const Model& m, const Layout& layout, TrainingSetup setup, std::int32_t stage) {
  setup.zero_stage = stage;
  setup.moe_impl = m.is_moe() ? MoeImpl::gather : MoeImpl::einsum;
  return build_step(m, layout, setup, derive_step_shape(setup, m, layout), RoutingOptions{},
                    static_cast<std::int32_t>(layout.devices()));
}

}  // namespace

TEST_CASE("zero: the stage is 0..3, anything else names --zero", "[zero]") {
  for (std::int64_t s = 0; s <= 3; ++s) CHECK(parse_zero_stage(s) == s);
  CHECK(field_of([] { (void)parse_zero_stage(4); }) == "--zero");
  CHECK(field_of([] { (void)parse_zero_stage(-1); }) == "--zero");
  StepRequest q;
  q.model = "t5-base";
  q.mesh = "tpuv3-2x2";
  q.zero = 5;
  CHECK(field_of([&] { (void)resolve_step_request(q); }) == "--zero");
  CHECK(shard_elements(10.0, 4) == 3.0);  // ceil for uneven
  CHECK(shard_elements(12.0, 4) == 3.0);
  CHECK(shard_elements(7.0, 1) == 7.0);
}

TEST_CASE("zero memory: stage 1 divides the optimizer state by dp, 2 also gradients, 3 also parameters", "[zero]") {
  // Dense T5-Base on dp = 8, adam: 2 B parameters and gradients, 12 B optimizer state per parameter.
  const Model m = load_model("t5-base");
  const Layout layout = parse_layout("dp=8");
  TrainingSetup setup;
  setup.optimizer = Optimizer::adam;
  setup.batch_tokens = 8 * 2 * 512;
  const double P = count_params(m).total();
  const double shard = std::ceil(P / 8.0);
  const MemoryEstimate z0 = memory_at(m, layout, setup, 0);
  const MemoryEstimate z1 = memory_at(m, layout, setup, 1);
  const MemoryEstimate z2 = memory_at(m, layout, setup, 2);
  const MemoryEstimate z3 = memory_at(m, layout, setup, 3);
  CHECK(z0.optimizer_bytes == P * 12.0);
  CHECK(z0.parameters_bytes == P * 2.0);
  CHECK(z1.optimizer_bytes == shard * 12.0);
  CHECK(z1.gradients_bytes == P * 2.0);
  CHECK(z1.parameters_bytes == P * 2.0);
  CHECK(z2.optimizer_bytes == shard * 12.0);
  CHECK(z2.gradients_bytes == shard * 2.0);
  CHECK(z2.parameters_bytes == P * 2.0);
  CHECK(z3.optimizer_bytes == shard * 12.0);
  CHECK(z3.gradients_bytes == shard * 2.0);
  CHECK(z3.parameters_bytes == shard * 2.0);
  // Stage 3's transient: two gathered layers and one layer's gradients (the largest layer).
  CHECK(z3.gathered_bytes == largest_layer_local_params(m, layout) * 2.0 * 3.0);
  CHECK(z0.gathered_bytes == 0.0);
  CHECK(z2.gathered_bytes == 0.0);
  for (const MemoryEstimate* z : {&z1, &z2, &z3}) CHECK(z->activations_bytes == z0.activations_bytes);
  CHECK(z3.total_bytes() ==
        z3.parameters_bytes + z3.gradients_bytes + z3.optimizer_bytes + z3.activations_bytes + z3.gathered_bytes);
  // A parameter count divisible by dp divides exactly.
  if (std::fmod(P, 8.0) == 0.0) CHECK(z1.optimizer_bytes * 8.0 == z0.optimizer_bytes);
}

TEST_CASE("zero memory: expert parameters shard over the expert replicas (dp / ep), dense over dp", "[zero]") {
  const Model m = load_model("switch-base");
  TrainingSetup setup;
  setup.optimizer = Optimizer::adam;
  setup.batch_tokens = 8 * 2 * 512;
  const ParamCount pc = count_params(m);
  SECTION("dp=8, ep=4: rep = 2") {
    const Layout layout = parse_layout("dp=8,ep=4");
    const double dense = pc.non_expert(), expert = pc.experts / 4.0;
    const MemoryEstimate z1 = memory_at(m, layout, setup, 1);
    const MemoryEstimate z3 = memory_at(m, layout, setup, 3);
    CHECK(z1.optimizer_bytes == (std::ceil(dense / 8.0) + std::ceil(expert / 2.0)) * 12.0);
    CHECK(z3.parameters_bytes == (std::ceil(dense / 8.0) + std::ceil(expert / 2.0)) * 2.0);
    CHECK(z3.gradients_bytes == (std::ceil(dense / 8.0) + std::ceil(expert / 2.0)) * 2.0);
  }
  SECTION("dp=ep=8: rep = 1, the experts are not sharded") {
    const Layout layout = parse_layout("dp=8,ep=8");
    const double dense = pc.non_expert(), expert = pc.experts / 8.0;
    const MemoryEstimate z1 = memory_at(m, layout, setup, 1);
    CHECK(z1.optimizer_bytes == (std::ceil(dense / 8.0) + expert) * 12.0);
  }
  SECTION("adafactor's factored moments shrink, between 1/dp and 1/rep of the total") {
    setup.optimizer = Optimizer::adafactor;
    const Layout layout = parse_layout("dp=8,ep=4");
    const MemoryEstimate z0 = memory_at(m, layout, setup, 0);
    const MemoryEstimate z1 = memory_at(m, layout, setup, 1);
    CHECK(z1.optimizer_bytes >= z0.optimizer_bytes / 8.0);
    CHECK(z1.optimizer_bytes <= z0.optimizer_bytes / 2.0 + 8.0);
    CHECK(z1.parameters_bytes == z0.parameters_bytes);
  }
}

TEST_CASE("zero step: stages 1-2 reduce-scatter the gradients and all-gather the parameters; 3 gathers per pass",
          "[zero]") {
  // Dense T5-Base, dp = 8, adam (2 B gradients and parameters), 2 micro-batches, fused sync.
  const Model m = load_model("t5-base");
  const Layout layout = parse_layout("dp=8");
  TrainingSetup setup;
  setup.optimizer = Optimizer::adam;
  setup.batch_tokens = 8 * 2 * 512;
  setup.micro_batches = 2;
  const double P = count_params(m).total();
  const double B = P * 2.0;  // one copy of the local gradients (or parameters)
  using sim::CollectiveOp;

  const BuiltStep z0 = build(m, layout, setup, 0);
  CHECK(collective_bytes(z0.graph, CollectiveOp::all_reduce, "grads.") == B);
  CHECK(collective_bytes(z0.graph, CollectiveOp::reduce_scatter, "") == 0.0);
  CHECK(collective_bytes(z0.graph, CollectiveOp::all_gather, "") == 0.0);
  CHECK(op_named(z0.graph, "optimizer.update").shape.bytes == static_cast<std::int64_t>(P * 28.0));

  const BuiltStep z1 = build(m, layout, setup, 1);
  CHECK(collective_bytes(z1.graph, CollectiveOp::all_reduce, "grads.") == 0.0);
  CHECK(collective_bytes(z1.graph, CollectiveOp::reduce_scatter, "grads.") == B);  // once, after the last micro-batch
  CHECK(collective_bytes(z1.graph, CollectiveOp::all_gather, "params.") == B);
  CHECK(op_named(z1.graph, "optimizer.update").shape.bytes == static_cast<std::int64_t>(std::ceil(P / 8.0) * 28.0));
  // The all-gather follows the update.
  const sim::Op& ag = op_named(z1.graph, "params.dense_all_gather");
  REQUIRE(ag.deps.size() == 1);
  CHECK(z1.graph.op(ag.deps.front()).name == "optimizer.update");

  const BuiltStep z2 = build(m, layout, setup, 2);
  CHECK(collective_bytes(z2.graph, CollectiveOp::reduce_scatter, "grads.") == 2.0 * B);  // every micro-batch
  CHECK(collective_bytes(z2.graph, CollectiveOp::all_gather, "params.") == B);

  const BuiltStep z3 = build(m, layout, setup, 3);
  // Per micro-batch: one gather of all parameters before the forward passes, one before the backward passes.
  CHECK(collective_bytes(z3.graph, CollectiveOp::all_gather, "params.") == Approx(2.0 * 2.0 * B).epsilon(1e-12));
  CHECK(collective_bytes(z3.graph, CollectiveOp::reduce_scatter, "grads.") == Approx(2.0 * B).epsilon(1e-12));
  CHECK(collective_bytes(z3.graph, CollectiveOp::all_reduce, "grads.") == 0.0);
  // ZeRO-3 adds exactly the gathers to stage 2's traffic: stage 2's final all-gather is gone.
  const double added = collective_bytes(z3.graph, CollectiveOp::all_gather, "") -
                       collective_bytes(z2.graph, CollectiveOp::all_gather, "");
  CHECK(added == Approx(2.0 * 2.0 * B - B).epsilon(1e-12));
  // Prefetch depth 1: each gather waits for the previous one, and the first op of its layer's
  // pass waits for it (one gather per layer and pass here: a dense model).
  sim::OpId previous = -1;
  std::int64_t gathers = 0;
  for (sim::OpId i = 0; i < z3.graph.num_ops(); ++i) {
    const sim::Op& o = z3.graph.op(i);
    if (o.type != sim::OpType::collective || o.collective != CollectiveOp::all_gather) continue;
    ++gathers;
    if (previous >= 0) CHECK(std::find(o.deps.begin(), o.deps.end(), previous) != o.deps.end());
    previous = i;
    bool used = false;
    for (sim::OpId k = i + 1; k < z3.graph.num_ops() && !used; ++k) {
      const auto& d = z3.graph.op(k).deps;
      used = z3.graph.op(k).type == sim::OpType::compute && std::find(d.begin(), d.end(), i) != d.end();
    }
    CHECK(used);
  }
  // Weighted layers: 12 encoder + 12 decoder layers and the LM head, x 2 passes x 2 micro-batches.
  CHECK(gathers == (m.encoder_layers + m.decoder_layers + 1) * 2 * 2);
  // Every gather and reduce-scatter of stage 3 is on the second communication stream.
  for (sim::OpId i = 0; i < z3.graph.num_ops(); ++i) {
    const sim::Op& o = z3.graph.op(i);
    if (o.type == sim::OpType::collective) CHECK(o.comm_stream == 1);
  }
}

TEST_CASE("zero step: experts gather over their replicas, dense parameters over dp", "[zero]") {
  const Model m = load_model("switch-base");
  const Layout layout = parse_layout("dp=8,ep=4");
  TrainingSetup setup;
  setup.optimizer = Optimizer::adam;
  setup.batch_tokens = 8 * 2 * 512;
  const ParamCount pc = count_params(m);
  using sim::CollectiveOp;
  const BuiltStep z3 = build(m, layout, setup, 3);
  CHECK(collective_bytes(z3.graph, CollectiveOp::all_gather, ".dense_all_gather") ==
        Approx(2.0 * pc.non_expert() * 2.0).epsilon(1e-12));
  CHECK(collective_bytes(z3.graph, CollectiveOp::all_gather, ".expert_all_gather") ==
        Approx(2.0 * pc.experts / 4.0 * 2.0).epsilon(1e-12));
  const BuiltStep z1 = build(m, layout, setup, 1);
  CHECK(collective_bytes(z1.graph, CollectiveOp::reduce_scatter, "grads.expert") == pc.experts / 4.0 * 2.0);
  CHECK(collective_bytes(z1.graph, CollectiveOp::all_gather, "params.expert") == pc.experts / 4.0 * 2.0);
  const double shard = std::ceil(pc.non_expert() / 8.0) + std::ceil(pc.experts / 4.0 / 2.0);
  CHECK(op_named(z1.graph, "optimizer.update").shape.bytes == static_cast<std::int64_t>(shard * 28.0));
}

TEST_CASE("zero 1 on a dense dp-only step: compute, then reduce-scatter, update, all-gather", "[zero]") {
  // As test_step.cpp's dp-only oracle: one stream (TPU, fused), every op chained, so the step is the
  // compute plus the reduce-scatter and the all-gather of the fp32 gradients / parameters over 8 devices.
  const Model m = load_model("t5-base");
  const Layout layout = parse_layout("dp=8");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  StepOptions o;
  o.training.batch_tokens = 8 * 2 * 512;
  o.training.zero_stage = 1;
  const auto cost = make_cost_model("tpuv3", "");
  const StepResult r = simulate_step(m, mesh, layout, o, *cost);
  TrainingSetup setup = o.training;
  setup.moe_impl = MoeImpl::einsum;
  const BuiltStep built = build_step(m, layout, setup, derive_step_shape(setup, m, layout), RoutingOptions{}, 8);
  double compute_s = 0.0;
  for (sim::OpId i = 0; i < built.graph.num_ops(); ++i) {
    if (built.graph.op(i).type == sim::OpType::compute) compute_s += cost->predict(built.graph.op(i).shape).seconds;
  }
  sim::CollectiveRequest rs;
  rs.op = sim::CollectiveOp::reduce_scatter;
  rs.bytes_per_device = count_params(m).total() * 4.0;
  sim::CollectiveRequest ag = rs;
  ag.op = sim::CollectiveOp::all_gather;
  const double comm_s = sim::simulate_collective(mesh, rs).time_s + sim::simulate_collective(mesh, ag).time_s;
  CHECK(r.step_time_s == Approx(compute_s + comm_s).epsilon(1e-9));
  CHECK(r.memory.optimizer_bytes < memory_at(m, layout, o.training, 0).optimizer_bytes);
}

TEST_CASE("zero step: every stage simulates on both network models, on TPU and GPU meshes", "[zero]") {
  const Model m = load_model("switch-base");
  for (const char* mesh_name : {"tpuv3-2x2", "dgx-h100-1"}) {
    const topology::Mesh mesh = topology::build_mesh(mesh_name);
    const auto cost = make_cost_model(mesh.device_kind, "");
    for (NetworkModel nm : {NetworkModel::shared, NetworkModel::isolated}) {
      for (std::int32_t stage = 0; stage <= 3; ++stage) {
        StepOptions o;
        o.training.batch_tokens = 8 * 2 * 512;
        o.training.micro_batches = 2;
        o.training.zero_stage = stage;
        o.training.grad_sync = default_grad_sync(mesh.is_tpu());
        o.training.moe_impl = resolve_moe_impl(MoeImpl::automatic, mesh.is_tpu(), false);
        o.network_model = nm;
        const StepResult r = simulate_step(m, mesh, parse_layout("dp=8,ep=4"), o, *cost);
        INFO(mesh_name << " stage " << stage);
        CHECK(r.step_time_s > 0.0);
        CHECK(r.step_time_s >= r.compute_lower_bound_s * (1.0 - 1e-9));
        if (stage == 3) CHECK(r.overlapped_communication_s > 0.0);  // gathers prefetched behind compute
      }
    }
  }
}

TEST_CASE("zero 0 leaves the step's JSON as it was; other stages record themselves", "[zero]") {
  const Model m = load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o;
  o.training.batch_tokens = 8 * 2 * 512;
  o.training.moe_impl = MoeImpl::einsum;
  const std::string before = to_json(simulate_step(m, mesh, parse_layout("dp=8,ep=4"), o, *cost)).dump();
  o.training.zero_stage = 0;
  const json zero0 = to_json(simulate_step(m, mesh, parse_layout("dp=8,ep=4"), o, *cost));
  CHECK(zero0.dump() == before);
  CHECK_FALSE(zero0.contains("zero"));
  CHECK_FALSE(zero0["memory"].contains("zero_gathered_bytes"));
  o.training.zero_stage = 3;
  const json zero3 = to_json(simulate_step(m, mesh, parse_layout("dp=8,ep=4"), o, *cost));
  CHECK(zero3["zero"] == 3);
  CHECK(zero3["memory"]["zero_gathered_bytes"].get<double>() > 0.0);
  CHECK(zero3["memory_per_device_bytes"].get<double>() < zero0["memory_per_device_bytes"].get<double>());
}
