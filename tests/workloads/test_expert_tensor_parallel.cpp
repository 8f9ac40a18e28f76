// Expert tensor parallelism (layout etp=..; Megatron-Core's MoE parallel folding, layout.hpp and
// expert_tensor_parallel.hpp): the grammar and its rules, the expert grid's groups, and the step's
// and memory model's numbers against hand counts on the tiny decoder model (d_model 64, 4 experts
// of width 32, top-2, SwiGLU: 3 matrices; layer 0 dense, layer 1 MoE).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "decoder_fixture.hpp"
#include "helpers.hpp"

#include "workloads/expert_tensor_parallel.hpp"
#include "workloads/layout.hpp"
#include "workloads/memory.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/model.hpp"
#include "workloads/step_builder.hpp"
#include "workloads/zero_sharding.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;
using Groups = std::vector<std::vector<std::int32_t>>;

namespace {

// The tiny decoder with 4 K/V heads (so tp = 4 divides them).
Model tiny(std::int64_t kv_heads = 2) {
  json j = test::tiny_decoder_json();
  j["kv_heads"] = kv_heads;
  return model_from_json(j, "tiny");
}

TrainingSetup setup_gather() {
  TrainingSetup s;
  s.batch_tokens = 64;  // 8 sequences of 8 tokens
  s.micro_batches = 1;
  s.moe_impl = MoeImpl::gather;  // padded capacity buffers: every device the same rows
  s.optimizer = Optimizer::adam;  // 2-byte parameters and gradients
  return s;
}

BuiltStep build(const Model& m, const Layout& l, const TrainingSetup& s = setup_gather()) {
  validate_layout(l, m, l.devices());
  return build_step(m, l, s, derive_step_shape(s, m, l), RoutingOptions{}, static_cast<std::int32_t>(l.devices()));
}

const sim::Op& op_named(const sim::OpGraph& g, const std::string& name) {
  for (sim::OpId i = 0; i < g.num_ops(); ++i)
    if (g.op(i).name == name) return g.op(i);
  FAIL("no op " << name);
  return g.op(0);
}

bool has_op(const sim::OpGraph& g, const std::string& name) {
  for (sim::OpId i = 0; i < g.num_ops(); ++i)
    if (g.op(i).name == name) return true;
  return false;
}

}  // namespace

TEST_CASE("etp: the grammar, the canonical text and the default (etp = tp)", "[workloads][etp]") {
  const Layout none = parse_layout("dp=2,ep=2,tp=2");
  CHECK(none.etp == 0);
  CHECK(none.expert_tp() == 2);
  CHECK_FALSE(none.folded());
  CHECK(none.to_string() == "dp=2,ep=2,mp=2,order=mp.ep.rep");
  const Layout same = parse_layout("dp=2,ep=2,tp=2,etp=2");  // etp = tp: today's layout, printed as before
  CHECK_FALSE(same.folded());
  CHECK(same.to_string() == none.to_string());
  CHECK(same.replicas() == 1);
  const Layout f = parse_layout("dp=2,tp=2,ep=4,etp=1");  // ep = 4 > dp = 2: only folding allows it
  CHECK(f.folded());
  CHECK(f.expert_tp() == 1);
  CHECK(f.token_slices() == 2);
  CHECK(f.replicas() == 1);  // edp = (2 x 2) / (4 x 1)
  CHECK(f.to_string() == "dp=2,ep=4,mp=2,etp=1,order=mp.ep.rep");
  CHECK(parse_layout(f.to_string()).to_string() == f.to_string());
}

TEST_CASE("etp: bad layouts name --layout.etp", "[workloads][etp]") {
  const Model m = tiny(4);
  CHECK(field_of([] { (void)parse_layout("dp=2,tp=2,ep=2,etp=3"); }) == "--layout.etp");  // 3 does not divide tp = 2
  CHECK(field_of([] { (void)parse_layout("dp=2,tp=2,ep=1,etp=4"); }) == "--layout.etp");  // etp > tp
  CHECK(field_of([] { (void)parse_layout("dp=2,tp=2,ep=3,etp=1"); }) == "--layout.etp");  // 3 x 1 does not divide 4
  CHECK(field_of([] { (void)parse_layout("dp=2,tp=2,ep=8,etp=1"); }) == "--layout.etp");  // 8 > 4 devices
  CHECK(field_of([] { (void)parse_layout("dp=2,tp=2,etp=0"); }) == "--layout.etp");
  CHECK(field_of([] { (void)parse_layout("dp=2,tp=2,etp=1,etp=1"); }) == "--layout.etp");  // given twice
  // The tp axis must be innermost.
  CHECK(field_of([&] { validate_layout(parse_layout("dp=2,tp=2,ep=4,etp=1,order=ep.mp.rep"), m, 4); }) ==
        "--layout.etp");
  // A dense model has no expert layers to fold.
  const Model dense = model_from_json(json::parse(R"({"name": "d", "family": "decoder", "d_model": 64, "d_ff": 128,
    "heads": 4, "head_dim": 16, "layers": 2, "seq_len": 8, "vocab": 100, "attention": "gqa", "kv_heads": 4,
    "ffn": "swiglu"})"), "d");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=2,tp=2,etp=1"), dense, 4); }) == "--layout.etp");
  // etp must divide the expert width (tp need not when folded).
  json j = test::tiny_decoder_json();
  j["heads"] = 8;
  j["kv_heads"] = 8;
  j["expert_d_ff"] = 18;  // 8 does not divide it, 4 does not, 2 does
  const Model odd = model_from_json(j, "odd");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,tp=8,ep=2,etp=4"), odd, 8); }) == "--layout.etp");
  CHECK_NOTHROW(validate_layout(parse_layout("dp=1,tp=8,ep=2,etp=2"), odd, 8));
  CHECK(field_of([&] { validate_layout(parse_layout("dp=1,tp=8,ep=1"), odd, 8); }) == "--layout.mp");  // unfolded: mp | width
  // Routing groups that do not split into tp / etp slices.
  CHECK(field_of([] { (void)split_routing(6, 3, 2, 4); }) == "--layout.etp");
  CHECK(field_of([] { (void)split_routing(12, 3, 6, 4); }) == "--layout.etp");  // 4 | 12, not 3 groups nor 6 tokens
}

TEST_CASE("etp: routing splits whole groups first, else each group", "[workloads][etp]") {
  const RouteSplit one = split_routing(64, 4, 16, 1);
  CHECK((one.tokens == 64 && one.groups == 4 && one.group_tokens == 16));
  const RouteSplit whole = split_routing(64, 4, 16, 2);
  CHECK((whole.tokens == 32 && whole.groups == 2 && whole.group_tokens == 16));
  const RouteSplit sliced = split_routing(64, 1, 64, 4);
  CHECK((sliced.tokens == 16 && sliced.groups == 1 && sliced.group_tokens == 16));
}

TEST_CASE("etp: the expert grid's groups (etp innermost, then ep, then edp)", "[workloads][etp]") {
  // dp = 2, tp = 4, ep = 2, etp = 2 on 8 devices: dense id m + 4 d; expert id t + 2 (e + 2 x); edp = 2.
  const Layout l = parse_layout("dp=2,tp=4,ep=2,etp=2");
  CHECK(l.replicas() == 2);
  CHECK(l.mp_groups() == Groups{{0, 1, 2, 3}, {4, 5, 6, 7}});
  CHECK(l.dp_groups() == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
  CHECK(l.etp_groups() == Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}});
  CHECK(l.ep_groups() == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
  CHECK(l.expert_replica_groups() == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
  CHECK(l.token_slice_groups() == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
  // Every etp group inside one tp group (the tokens it shares are that tp group's slice).
  for (const auto& g : l.etp_groups()) CHECK(g.front() / 4 == g.back() / 4);
  // Stage 1 of a pipeline: the same groups shifted by a stage's 8 devices.
  const Layout p = parse_layout("dp=2,tp=4,ep=2,etp=2,pp=2");
  CHECK(p.etp_groups(1) == Groups{{8, 9}, {10, 11}, {12, 13}, {14, 15}});
  CHECK(p.stage_pairs(0, 1).front() == std::vector<std::int32_t>{0, 8});
  // Unfolded, the etp groups are the mp groups.
  const Layout u = parse_layout("dp=4,ep=2,tp=2");
  CHECK(u.etp_groups() == u.mp_groups());
}

TEST_CASE("etp: the edp gradient group is (dp x tp) / (ep x etp), the expert gradients' bytes its shard", "[workloads][etp]") {
  const Model m = tiny();
  const Layout l = parse_layout("dp=4,tp=2,ep=2,etp=1");  // edp = 8 / 2 = 4
  REQUIRE(l.replicas() == 4);
  const BuiltStep s = build(m, l);
  const sim::Op& sync = op_named(s.graph, "grads.expert_allreduce");
  const Groups& groups = s.graph.partition(sync.partition);
  CHECK(groups == Groups{{0, 2, 4, 6}, {1, 3, 5, 7}});  // same (e, t = 0): e + 2 x
  for (const auto& g : groups) CHECK(g.size() == static_cast<std::size_t>((4 * 2) / (2 * 1)));
  // Each device holds experts / (ep x etp) expert weights, 2-byte gradients (adam).
  CHECK(sync.bytes_per_device == Approx(count_params(m).experts / (2.0 * 1.0) * 2.0).epsilon(1e-12));
  const sim::Op& dense = op_named(s.graph, "grads.dense_allreduce");
  CHECK(s.graph.partition(dense.partition) == Groups{{0, 2, 4, 6}, {1, 3, 5, 7}});  // same tp rank m
}

TEST_CASE("etp = 1 with tp = 2: the expert products per device, the router and the slice all-gather by hand",
          "[workloads][etp]") {
  const Model m = tiny();
  const Layout l = parse_layout("dp=1,tp=2,ep=2,etp=1");
  const BuiltStep s = build(m, l);
  // T = 64 tokens per device (dp = 1), 2 slices: 32 routed per device in one group of G = 32;
  // capacity ceil(1.0 x 2 x 32 / 4) = 16; padded rows E g C = 4 x 1 x 16 = 64 per device; 2 local
  // experts, 32 rows each, the full width 32 (etp = 1).
  CHECK(s.encoder_capacity == 16);
  const sim::Op& wi = op_named(s.graph, "layer1.switch.expert_wi.fwd");
  CHECK((wi.shape.batch == 2 && wi.shape.m == 32 && wi.shape.k == 64 && wi.shape.n == 2 * 32));
  CHECK(wi.shape.flops() == Approx(2.0 * 2 * 32 * 64 * 64));  // 524288
  const sim::Op& wo = op_named(s.graph, "layer1.switch.expert_wo.fwd");
  CHECK((wo.shape.batch == 2 && wo.shape.m == 32 && wo.shape.k == 32 && wo.shape.n == 64));
  CHECK(wo.shape.flops() == Approx(2.0 * 2 * 32 * 32 * 64));  // 262144
  // Unfolded tp = 2 (etp = tp): every device routes all 64 tokens (C = 32, 128 rows, 4 local experts)
  // over half the width: the same expert FLOPs per device, a different split.
  const BuiltStep u = build(m, parse_layout("dp=1,tp=2,ep=1"));
  const sim::Op& uwi = op_named(u.graph, "layer1.switch.expert_wi.fwd");
  CHECK((uwi.shape.batch == 4 && uwi.shape.m == 32 && uwi.shape.n == 2 * 16));
  CHECK(uwi.shape.flops() == Approx(wi.shape.flops()));
  // The router sees the device's slice.
  CHECK(op_named(s.graph, "layer1.switch.router.fwd").shape.m == 32);
  CHECK(op_named(u.graph, "layer1.switch.router.fwd").shape.m == 64);
  // No expert all-reduce with etp = 1; the dispatch over the ep group {0, 1}: padded 64 rows x d x 2 B.
  CHECK_FALSE(has_op(s.graph, "layer1.switch.expert_allreduce.fwd"));
  CHECK(has_op(u.graph, "layer1.switch.expert_allreduce.fwd"));
  const sim::Op& a2a = op_named(s.graph, "layer1.switch.dispatch_a2a.fwd");
  CHECK(s.graph.partition(a2a.partition) == Groups{{0, 1}});
  CHECK(a2a.bytes_per_device == Approx(64.0 * 64 * 2));
  // The slice all-gather: T d a = 64 x 64 x 2 B over the tp group's two slices, forward and backward.
  for (const char* pass : {"fwd", "bwd"}) {
    const sim::Op& ag = op_named(s.graph, std::string("layer1.switch.token_all_gather.") + pass);
    CHECK(ag.collective == sim::CollectiveOp::all_gather);
    CHECK(ag.bytes_per_device == Approx(64.0 * 64 * 2));
    CHECK(s.graph.partition(ag.partition) == Groups{{0, 1}});
  }
  CHECK_FALSE(has_op(u.graph, "layer1.switch.token_all_gather.fwd"));
}

TEST_CASE("etp = 2 with tp = 4: the expert all-reduce over the etp group by hand", "[workloads][etp]") {
  const Model m = tiny(4);
  const Layout l = parse_layout("dp=1,tp=4,ep=2,etp=2");  // edp = 1, 2 slices
  const BuiltStep s = build(m, l);
  // 32 routed tokens per device, C = 16, 64 padded rows; the expert output all-reduced over the
  // etp group: 64 rows x d 64 x 2 B = 8192 B, forward and backward.
  const sim::Op& ar = op_named(s.graph, "layer1.switch.expert_allreduce.fwd");
  CHECK(ar.collective == sim::CollectiveOp::all_reduce);
  CHECK(ar.bytes_per_device == Approx(64.0 * 64 * 2));
  CHECK(s.graph.partition(ar.partition) == Groups{{0, 1}, {2, 3}});
  CHECK(op_named(s.graph, "layer1.switch.expert_allreduce.bwd").bytes_per_device == Approx(64.0 * 64 * 2));
  // The expert width per device: 32 / etp = 16 (wi: 2 matrices of 16).
  CHECK(op_named(s.graph, "layer1.switch.expert_wi.fwd").shape.n == 2 * 16);
  // The dense layers keep tp = 4: attention's all-reduce over {0, 1, 2, 3}.
  CHECK(s.graph.partition(op_named(s.graph, "layer1.self.allreduce.fwd").partition) == Groups{{0, 1, 2, 3}});
}

TEST_CASE("etp: expert parameter memory divides by ep x etp exactly", "[workloads][etp]") {
  const Model m = tiny();
  const ParamCount pc = count_params(m);
  TrainingSetup s = setup_gather();
  for (const char* text : {"dp=2,tp=2,ep=4,etp=1", "dp=2,tp=2,ep=2,etp=1", "dp=4,tp=2,ep=4,etp=1"}) {
    const Layout l = parse_layout(text);
    const MemoryEstimate e = estimate_memory(m, l, s, derive_step_shape(s, m, l), 64.0, 0.0, 1e12);
    const double expert_local = pc.experts / static_cast<double>(l.ep * 1);
    CHECK(e.parameters_bytes == Approx((pc.non_expert() / 2.0 + expert_local) * 2.0).epsilon(1e-12));
    CHECK(e.optimizer_bytes == Approx((pc.non_expert() / 2.0 + expert_local) * 12.0).epsilon(1e-12));
    // ZeRO-1: the expert optimizer state sharded over edp = (dp x tp) / (ep x etp).
    s.zero_stage = 1;
    const MemoryEstimate z = estimate_memory(m, l, s, derive_step_shape(s, m, l), 64.0, 0.0, 1e12);
    s.zero_stage = 0;
    CHECK(zero_groups(m, l).expert == l.stage_devices() / l.ep);
    CHECK(z.optimizer_bytes == Approx((shard_elements(pc.non_expert() / 2.0, l.dp) +
                                       shard_elements(expert_local, l.stage_devices() / l.ep)) * 12.0)
                                   .epsilon(1e-12));
  }
}

TEST_CASE("etp: etp = tp given builds exactly the step of etp left out", "[workloads][etp]") {
  const Model m = tiny();
  const BuiltStep a = build(m, parse_layout("dp=2,ep=2,tp=2"));
  const BuiltStep b = build(m, parse_layout("dp=2,ep=2,tp=2,etp=2"));
  REQUIRE(a.graph.num_ops() == b.graph.num_ops());
  for (sim::OpId i = 0; i < a.graph.num_ops(); ++i) {
    CHECK(a.graph.op(i).name == b.graph.op(i).name);
    CHECK(a.graph.op(i).bytes_per_device == b.graph.op(i).bytes_per_device);
    CHECK(a.graph.op(i).shape.flops() == b.graph.op(i).shape.flops());
  }
}

TEST_CASE("etp with a pipeline: each stage's expert groups are its own", "[workloads][etp]") {
  const Model m = tiny(4);
  TrainingSetup s = setup_gather();
  s.micro_batches = 2;
  const BuiltStep b = build(m, parse_layout("dp=1,tp=4,ep=2,etp=2,pp=2"), s);
  // Layer 1 (the MoE layer) sits on stage 1: devices 4..7.
  const sim::Op& ar = op_named(b.graph, "mb0.layer1.switch.expert_allreduce.fwd");
  CHECK(b.graph.partition(ar.partition) == Groups{{4, 5}, {6, 7}});
  const sim::Op& ag = op_named(b.graph, "mb0.layer1.switch.token_all_gather.fwd");
  CHECK(b.graph.partition(ag.partition) == Groups{{4, 6}, {5, 7}});
}

TEST_CASE("etp: the micro-batch plan counts the sliced groups' received slots", "[workloads][etp]") {
  const Model m = tiny();
  // T = 64, one group of 64: unfolded C = ceil(2 x 64 / 4) = 32, E g C = 128 slots; folded (2 slices)
  // one group of 32: C = 16, 64 slots.
  CHECK(planned_received_slots(m, parse_layout("dp=1,tp=2,ep=1"), 64, 1, 1.0, ExecutionMode::capacity,
                               MoeImpl::gather) == 128.0);
  CHECK(planned_received_slots(m, parse_layout("dp=1,tp=2,ep=2,etp=1"), 64, 1, 1.0, ExecutionMode::capacity,
                               MoeImpl::gather) == 64.0);
  // Two groups of 32 split whole: one group of 32 per device, the same 64 slots.
  CHECK(planned_received_slots(m, parse_layout("dp=1,tp=2,ep=2,etp=1"), 32, 2, 1.0, ExecutionMode::capacity,
                               MoeImpl::gather) == 64.0);
}
