// ZeRO together with pipeline parallelism (issue 16, part 5): each stage shards its own state over
// its own dp group (memory), reduce-scatters its own gradients and all-gathers its own parameters
// (stages 1, 2), or gathers each layer once per step and reduce-scatters it after its last backward
// (stage 3, FSDP2 under a pipeline schedule). Oracles computed by hand from llama3-8b's dimensions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "kernels/cost_model.hpp"
#include "sim/chrome_trace.hpp"
#include "workloads/device_ceilings.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/layout.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/pipeline_memory.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_builder.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using sim::CollectiveOp;

namespace {

// llama3-8b's 32 identical dense layers, 512-token sequences, a vocabulary of 8.
Model uniform_decoder() {
  Model m = load_model("llama3-8b");
  m.vocab = 8;
  m.input_length = 512;
  return m;
}

// Weight elements of one layer and of the LM head (decoder_layer.hpp: qkv d x (H + 2 KV) d_kv,
// out H d_kv x d; SwiGLU wi d x 2 d_ff, wo d_ff x d; logits d x vocab).
double layer_weights(const Model& m) {
  const double d = static_cast<double>(m.d_model), dk = static_cast<double>(m.d_kv);
  const double h = static_cast<double>(m.heads), kv = static_cast<double>(m.kv_head_count());
  const double dff = static_cast<double>(m.d_ff);
  return d * (h + 2.0 * kv) * dk + h * dk * d + 3.0 * d * dff;
}
double head_weights(const Model& m) { return static_cast<double>(m.d_model * m.vocab); }

TrainingSetup adam_setup(std::int64_t micro_batches, std::int64_t dp, std::int32_t zero) {
  TrainingSetup s;
  s.optimizer = Optimizer::adam;
  s.batch_tokens = micro_batches * dp * 512;
  s.micro_batches = micro_batches;
  s.grad_sync.kind = GradSyncKind::fused;
  s.zero_stage = zero;
  s.moe_impl = MoeImpl::einsum;
  return s;
}

BuiltStep build(const Model& m, const Layout& layout, const TrainingSetup& setup) {
  return build_step(m, layout, setup, derive_step_shape(setup, m, layout), RoutingOptions{},
                    static_cast<std::int32_t>(layout.devices()));
}

struct Sum {
  double bytes = 0.0;
  std::int64_t count = 0;
};
// Collectives of one kind whose name contains `part` (and, with stage >= 0, whose groups lie on that stage).
Sum collectives(const sim::OpGraph& g, CollectiveOp op, const std::string& part, const Layout& layout,
                std::int64_t stage = -1) {
  Sum s;
  const std::int64_t per_stage = layout.stage_devices();
  for (sim::OpId i = 0; i < g.num_ops(); ++i) {
    const sim::Op& o = g.op(i);
    if (o.type != sim::OpType::collective || o.collective != op || o.name.find(part) == std::string::npos) continue;
    if (stage >= 0) {
      const std::int32_t first = g.partition(o.partition).front().front();
      if (first / per_stage != stage) continue;
      for (const auto& group : g.partition(o.partition))
        for (std::int32_t dev : group) CHECK(dev / per_stage == stage);  // the stage's own dp group
    }
    s.bytes += o.bytes_per_device;
    ++s.count;
  }
  return s;
}

const sim::Op& op_named(const sim::OpGraph& g, const std::string& name) {
  for (sim::OpId i = 0; i < g.num_ops(); ++i)
    if (g.op(i).name == name) return g.op(i);
  FAIL("no op " << name);
  return g.op(0);
}

// The stages' gradient (= parameter) bytes per device by hand: 16 layers on stage 0 (with the
// embedding lookup, no weights), 16 and the LM head on stage 1, times B / total weights.
std::pair<double, double> stage_bytes(const Model& m) {
  const double B = count_params(m).total() * 2.0;  // adam: bf16 gradients and parameters, mp = 1
  const double w = layer_weights(m), W = 32.0 * w + head_weights(m);
  return {B * 16.0 * w / W, B * (16.0 * w + head_weights(m)) / W};
}

}  // namespace

TEST_CASE("zero + pipeline memory: each stage's optimizer state is its own / dp exactly", "[zero][pipeline]") {
  const Model m = uniform_decoder();
  const Layout layout = parse_layout("dp=2,pp=2");
  // Parameters by hand: 32 identical layers; the ends (embedding table, LM head, final norm) on both end stages.
  Model no_layers = m;
  no_layers.encoder_layers = 0;
  const double ends = count_params(no_layers).total();
  const double per_layer = (count_params(m).total() - ends) / 32.0;
  const double stage_params = 16.0 * per_layer + ends;
  for (std::int64_t s = 0; s < 2; ++s) {
    auto at = [&](std::int32_t zero) {
      const TrainingSetup setup = adam_setup(2, 2, zero);
      return estimate_stage_memory(m, layout, setup, derive_step_shape(setup, m, layout), 0.0, 0.0, 80e9, s).memory;
    };
    const MemoryEstimate z0 = at(0), z1 = at(1), z2 = at(2), z3 = at(3);
    INFO("stage " << s);
    CHECK(z0.optimizer_bytes == stage_params * 12.0);
    CHECK(z0.parameters_bytes == stage_params * 2.0);
    CHECK(z1.optimizer_bytes == z0.optimizer_bytes / 2.0);  // dp = 2
    CHECK(z1.gradients_bytes == z0.gradients_bytes);
    CHECK(z1.parameters_bytes == z0.parameters_bytes);
    CHECK(z2.optimizer_bytes == z0.optimizer_bytes / 2.0);
    CHECK(z2.gradients_bytes == z0.gradients_bytes / 2.0);
    CHECK(z2.parameters_bytes == z0.parameters_bytes);
    CHECK(z3.parameters_bytes == z0.parameters_bytes / 2.0);
    CHECK(z3.gradients_bytes == z0.gradients_bytes / 2.0);
    // Stage 3 under a pipeline: the stage's layers stay gathered and their gradients accumulate unsharded.
    CHECK(z3.gathered_bytes == 2.0 * z0.parameters_bytes);
    CHECK(z0.gathered_bytes == 0.0);
    CHECK(z1.gathered_bytes == 0.0);
    for (const MemoryEstimate* z : {&z1, &z2, &z3}) CHECK(z->activations_bytes == z0.activations_bytes);
  }
  // The busiest device is reported: stage 0 holds 1F1B's pp micro-batches of activations.
  const TrainingSetup setup = adam_setup(2, 2, 1);
  const PipelineMemory pm = estimate_pipeline_memory(m, layout, setup, derive_step_shape(setup, m, layout), 0.0, 0.0, 80e9);
  CHECK(pm.stage == 0);
  CHECK(pm.memory.optimizer_bytes == stage_params * 12.0 / 2.0);
}

TEST_CASE("zero 1 + pipeline: each stage reduce-scatters its gradients and all-gathers its parameters once",
          "[zero][pipeline]") {
  const Model m = uniform_decoder();
  const Layout layout = parse_layout("dp=2,pp=2");
  const auto [b0, b1] = stage_bytes(m);
  const BuiltStep z1 = build(m, layout, adam_setup(4, 2, 1));
  const double expect[2] = {b0, b1};
  for (std::int64_t s = 0; s < 2; ++s) {
    INFO("stage " << s);
    // Built piecewise (g++ 12's false -Wrestrict on "literal" + std::string&&).
    std::string st = "s";
    st += std::to_string(s);
    st += ".";
    const Sum rs = collectives(z1.graph, CollectiveOp::reduce_scatter, "grads." + st, layout, s);
    const Sum ag = collectives(z1.graph, CollectiveOp::all_gather, "params." + st, layout, s);
    CHECK(rs.bytes == Approx(expect[s]).epsilon(1e-12));
    CHECK(rs.count == 1);  // after the stage's last backward
    CHECK(ag.bytes == Approx(expect[s]).epsilon(1e-12));
    CHECK(ag.count == 1);
    // The update runs on the shard (ceil(N / dp) of the stage's N elements), then the all-gather.
    const sim::Op& update = op_named(z1.graph, "optimizer." + st + "update");
    CHECK(update.shape.bytes == static_cast<std::int64_t>(std::ceil(expect[s] / 2.0 / 2.0) * 2.0 * 14.0));
    const sim::Op& gather = op_named(z1.graph, "params." + st + "dense_all_gather");
    REQUIRE(gather.deps.size() == 1);
    CHECK(z1.graph.op(gather.deps.front()).name == "optimizer." + st + "update");
  }
  CHECK(collectives(z1.graph, CollectiveOp::all_reduce, "grads.", layout).count == 0);
  // Stage 0 of the same step unsharded: one all-reduce of the same bytes per stage.
  const BuiltStep z0 = build(m, layout, adam_setup(4, 2, 0));
  CHECK(collectives(z0.graph, CollectiveOp::all_reduce, "grads.s0.", layout, 0).bytes == Approx(b0).epsilon(1e-12));
  CHECK(collectives(z0.graph, CollectiveOp::reduce_scatter, "", layout).count == 0);
  CHECK(collectives(z0.graph, CollectiveOp::all_gather, "", layout).count == 0);
}

TEST_CASE("zero 2 + pipeline: a reduce-scatter after every backward action of each chunk", "[zero][pipeline]") {
  const Model m = uniform_decoder();
  const auto [b0, b1] = stage_bytes(m);
  const double expect[2] = {b0, b1};
  for (const char* text : {"dp=2,pp=2", "dp=2,pp=2,vpp=2"}) {
    const Layout layout = parse_layout(text);
    TrainingSetup setup = adam_setup(4, 2, 2);
    setup.pp_schedule = layout.vpp > 1 ? PipelineSchedule::interleaved : PipelineSchedule::one_f_one_b;
    const BuiltStep z2 = build(m, layout, setup);
    for (std::int64_t s = 0; s < 2; ++s) {
      INFO(text << " stage " << s);
      const Sum rs = collectives(z2.graph, CollectiveOp::reduce_scatter, "grads.", layout, s);
      CHECK(rs.bytes == Approx(4.0 * expect[s]).epsilon(1e-12));  // every micro-batch
      CHECK(rs.count == 4 * layout.vpp);                           // per micro-batch and chunk
      CHECK(collectives(z2.graph, CollectiveOp::all_gather, "params.", layout, s).bytes ==
            Approx(expect[s]).epsilon(1e-12));
    }
  }
}

TEST_CASE("zero 3 + pipeline: each layer gathered once per step, reduce-scattered after its last backward",
          "[zero][pipeline]") {
  const Model m = uniform_decoder();
  const Layout layout = parse_layout("dp=2,pp=2");
  const auto [b0, b1] = stage_bytes(m);
  const double expect[2] = {b0, b1};
  const std::int64_t weighted_layers[2] = {16, 17};  // stage 1: 16 layers and the LM head
  for (std::int64_t mbs : {2, 4}) {
    const BuiltStep z3 = build(m, layout, adam_setup(mbs, 2, 3));
    for (std::int64_t s = 0; s < 2; ++s) {
      INFO(mbs << " micro-batches, stage " << s);
      // One pass of gathers per step, whatever the micro-batch count (kept gathered: torchtitan's PP default).
      const Sum ag = collectives(z3.graph, CollectiveOp::all_gather, "params.", layout, s);
      CHECK(ag.bytes == Approx(expect[s]).epsilon(1e-12));
      CHECK(ag.count == weighted_layers[s]);
      const Sum rs = collectives(z3.graph, CollectiveOp::reduce_scatter, "grads.", layout, s);
      CHECK(rs.bytes == Approx(expect[s]).epsilon(1e-12));
      CHECK(rs.count == weighted_layers[s]);
      std::string after_update = "params.s";  // no all-gather after the update
      after_update += std::to_string(s);
      after_update += ".";
      CHECK(collectives(z3.graph, CollectiveOp::all_gather, after_update, layout).count == 0);
    }
    // Each gather waits for the stage's previous one, and a compute op of the first micro-batch's
    // forward waits for it; gathers and reduce-scatters are on the second communication stream.
    std::int64_t used = 0;
    for (sim::OpId i = 0; i < z3.graph.num_ops(); ++i) {
      const sim::Op& o = z3.graph.op(i);
      if (o.type != sim::OpType::collective || o.point_to_point) continue;
      CHECK(o.comm_stream == 1);
      if (o.collective != CollectiveOp::all_gather) continue;
      for (sim::OpId k = i + 1; k < z3.graph.num_ops(); ++k) {
        const sim::Op& c = z3.graph.op(k);
        if (c.type == sim::OpType::compute && std::find(c.deps.begin(), c.deps.end(), i) != c.deps.end()) {
          CHECK(c.name.rfind("mb0.", 0) == 0);
          ++used;
          break;
        }
      }
    }
    CHECK(used == weighted_layers[0] + weighted_layers[1]);
    // Against stage 2: the per-micro-batch reduce-scatters become one per layer, and the gathers
    // are the per-layer ones (adding up to the parameters once) instead of one after the update.
    const BuiltStep z2 = build(m, layout, adam_setup(mbs, 2, 2));
    CHECK(collectives(z3.graph, CollectiveOp::all_gather, "", layout).bytes ==
          Approx(collectives(z2.graph, CollectiveOp::all_gather, "", layout).bytes).epsilon(1e-12));
  }
}

TEST_CASE("zero + pipeline: experts shard over their replicas on each stage", "[zero][pipeline]") {
  const Model m = load_model("switch-base");
  const Layout layout = parse_layout("dp=4,ep=2,pp=2");
  TrainingSetup setup = adam_setup(2, 4, 1);
  setup.batch_tokens = 2 * 4 * 512;
  setup.moe_impl = MoeImpl::gather;
  const ParamCount pc = count_params(m);
  const BuiltStep z1 = build(m, layout, setup);
  // Over both stages: the model's local bytes of each kind (experts / ep), once.
  CHECK(collectives(z1.graph, CollectiveOp::reduce_scatter, ".expert_", layout).bytes ==
        Approx(pc.experts / 2.0 * 2.0).epsilon(1e-12));
  CHECK(collectives(z1.graph, CollectiveOp::reduce_scatter, ".dense_", layout).bytes ==
        Approx(pc.non_expert() * 2.0).epsilon(1e-12));
  CHECK(collectives(z1.graph, CollectiveOp::all_gather, ".expert_", layout).bytes ==
        Approx(pc.experts / 2.0 * 2.0).epsilon(1e-12));
  for (sim::OpId i = 0; i < z1.graph.num_ops(); ++i) {
    const sim::Op& o = z1.graph.op(i);
    if (o.type != sim::OpType::collective || o.point_to_point) continue;
    if (o.name.find(".expert_") != std::string::npos) {
      for (const auto& group : z1.graph.partition(o.partition)) CHECK(group.size() == 2);  // rep = dp / ep
    } else if (o.name.find(".dense_") != std::string::npos) {
      for (const auto& group : z1.graph.partition(o.partition)) CHECK(group.size() == 4);  // dp
    }
  }
}

TEST_CASE("zero + pipeline: every stage simulates on both network models", "[zero][pipeline]") {
  const Model m = load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const auto cost = make_cost_model(mesh.device_kind, "");
  for (NetworkModel nm : {NetworkModel::shared, NetworkModel::isolated}) {
    for (GradSyncKind sync : {GradSyncKind::fused, GradSyncKind::bucketed}) {
      double previous_optimizer = 0.0;
      for (std::int32_t stage = 0; stage <= 3; ++stage) {
        StepOptions o;
        o.training = adam_setup(4, 2, stage);
        o.training.batch_tokens = 4 * 2 * 512;
        o.training.grad_sync.kind = sync;
        o.training.grad_sync.separate_stream = sync == GradSyncKind::bucketed;
        o.training.moe_impl = MoeImpl::gather;
        o.network_model = nm;
        const StepResult r = simulate_step(m, mesh, parse_layout("dp=2,ep=2,pp=4"), o, *cost);
        INFO("zero " << stage);
        CHECK(r.step_time_s > 0.0);
        CHECK(r.step_time_s >= r.compute_lower_bound_s * (1.0 - 1e-9));
        if (stage == 1) CHECK(r.memory.optimizer_bytes < previous_optimizer);
        previous_optimizer = r.memory.optimizer_bytes;
      }
    }
  }
}

namespace {
// Matrix products at 1 TFLOP/s, everything else free (as test_pipeline.cpp): identical stages,
// each micro-batch's backward of a stage takes seconds, the network microseconds.
class FlopsOnly final : public kernels::CostModel {
 public:
  [[nodiscard]] kernels::Prediction predict(const kernels::OpShape& op) const override { return {op.flops() / 1e12, 0.0}; }
  [[nodiscard]] std::string name() const override { return "flops-only"; }
};
}  // namespace

TEST_CASE("zero 1 + pipeline: the last stage's sync runs during the first stage's cool-down", "[zero][pipeline][trace]") {
  // 1F1B, pp = 4: stage s ends its last backward about s backward-times before stage 0 does, so
  // its reduce-scatter, update and all-gather are done before stage 0's reduce-scatter starts.
  // Nothing in the graph orders the stages' syncs: it comes out of the simulation.
  const Model m = uniform_decoder();
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  StepOptions o;
  o.training = adam_setup(4, 2, 1);
  o.training.pp_schedule = PipelineSchedule::one_f_one_b;
  sim::TraceWriter trace;
  o.trace = &trace;
  o.trace_all_devices = true;
  const StepResult r = simulate_step(m, mesh, parse_layout("dp=2,pp=4"), o, FlopsOnly());
  std::map<std::string, std::pair<double, double>> span;  // name -> (first start, last end), microseconds
  const json t = trace.to_json();
  for (const json& e : t.at("traceEvents")) {
    if (!e.contains("name") || !e.contains("dur")) continue;
    const std::string name = e.at("name").get<std::string>();
    const double ts = e.at("ts").get<double>(), end = ts + e.at("dur").get<double>();
    auto [it, fresh] = span.try_emplace(name, ts, end);
    if (!fresh) it->second = {std::min(it->second.first, ts), std::max(it->second.second, end)};
  }
  for (std::int64_t s = 0; s < 4; ++s) {
    for (const char* prefix : {"grads.s", "optimizer.s", "params.s"}) {
      std::string n = prefix;
      n += std::to_string(s);
      n += std::string(prefix) == "grads.s" ? ".dense_reduce_scatter" : std::string(prefix) == "params.s" ? ".dense_all_gather" : ".update";
      INFO(n);
      CHECK(span.count(n) == 1);
    }
  }
  for (std::int64_t s = 1; s < 4; ++s) {
    std::string later = "params.s", first = "grads.s";
    later += std::to_string(s);
    later += ".dense_all_gather";
    first += std::to_string(s - 1);
    first += ".dense_reduce_scatter";
    INFO(later << " before " << first);
    CHECK(span.at(later).second <= span.at(first).first);
  }
  CHECK(r.step_time_s * 1e6 == Approx(span.at("params.s0.dense_all_gather").second).epsilon(1e-6));  // the last op
}
