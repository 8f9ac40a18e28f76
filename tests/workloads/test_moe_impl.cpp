// MoE layer implementations (workloads/moe_impl.hpp, workloads/moe_layer.hpp): hand-computed
// FLOPs and bytes for small shapes, the platform defaults, the refusals, and the JSON record.
#include <catch2/catch.hpp>

#include "helpers.hpp"

#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/moe_impl.hpp"
#include "workloads/moe_layer.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;

namespace {

// S = 8 tokens per group, E = 4 experts, C = 4, d = 16, 2 groups (T = 16), d_ff = 32, GEGLU, bf16.
MoeLayerDims small_dims(MoeImpl impl, std::int64_t ep = 4) {
  MoeLayerDims x;
  x.impl = impl;
  x.tokens = 16;
  x.group_tokens = 8;
  x.groups = 2;
  x.capacity = 4;
  x.experts = 4;
  x.ep = ep;
  x.top_k = 1;
  x.d_model = 16;
  x.d_ff = 32;
  x.ffn_matrices = 3;
  x.act_bytes = 2.0;
  return x;
}

// By value: callers pass the temporaries that moe_*_ops return, so a reference would dangle.
MoeOp op_named(const std::vector<MoeOp>& ops, const std::string& name) {
  for (const MoeOp& op : ops) {
    if (op.name == name) return op;
  }
  FAIL("no op " << name);
  return ops.front();
}

// The same small shapes as a whole model: one Switch layer per stack (layer 1 of 2), 8-token
// sequences, 2 sequences per device on 8 devices, routing groups of 8 tokens (2 per device).
Model small_model() {
  Model m = load_model("switch-base");
  m.name = "tiny-switch";
  m.d_model = 16;
  m.d_ff = 32;
  m.d_kv = 8;
  m.heads = 2;
  m.encoder_layers = 2;
  m.decoder_layers = 2;
  m.experts = 4;
  m.expert_every = 2;
  m.top_k = 1;
  m.vocab = 64;
  m.input_length = 8;
  m.target_length = 8;
  validate_model(m, "model");
  return m;
}

StepOptions small_options(MoeImpl impl, ExecutionMode mode, double factor) {
  StepOptions o;
  o.training.batch_tokens = 8 * 2 * 8;
  o.training.group_tokens = 8;
  o.training.moe_impl = impl;
  o.mode = mode;
  o.capacity_factor = factor;
  o.network_model = NetworkModel::isolated;
  return o;
}

const MoeOpRow& moe_row(const StepResult& r, const std::string& name) {
  for (const MoeOpRow& row : r.op_accounting.moe) {
    if (row.name == name) return row;
  }
  FAIL("no MoE op row " << name);
  return r.op_accounting.moe.front();
}

bool has_moe_row(const StepResult& r, const std::string& name) {
  for (const MoeOpRow& row : r.op_accounting.moe) {
    if (row.name == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("einsum: dispatch and combine are 2 S E C d FLOPs per group; backward one and two products", "[moe_impl]") {
  const MoeLayerDims x = small_dims(MoeImpl::einsum);
  // 2 x S x E x C x d per group, 2 groups: 2 * 8 * 4 * 4 * 16 * 2 = 8192.
  const double per_layer = 2.0 * 8 * 4 * 4 * 16 * 2;
  const std::vector<MoeOp> dispatch = moe_dispatch_ops(x);
  const MoeOp de = op_named(dispatch, "dispatch_einsum");
  CHECK(de.forward.flops() == per_layer);
  CHECK(de.backward.flops() == per_layer);  // the one-hot dispatch mask has no gradient: only d inputs
  CHECK_FALSE(de.weighted);
  const MoeOp ce = op_named(moe_combine_ops(x), "combine_einsum");
  CHECK(ce.forward.flops() == per_layer);
  CHECK(ce.backward.flops() == 2.0 * per_layer);  // d expert_outputs and d combine (the gate's path)
  // The [g, S, E, C] mask: S P = 8 x (4 x 2 x 4) = 256 elements; forward 4 + 4 + 2 + 2 = 12 B each
  // (fp32 written and read, bf16 dispatch and combine written), backward 2 + 4 = 6 B each.
  const MoeOp mask = op_named(dispatch, "dispatch_mask");
  CHECK(mask.forward.min_bytes() == 256.0 * 12.0);
  CHECK(mask.backward.min_bytes() == 256.0 * 6.0);
  // No gather-style permutation and no sort on the expert side (the einsum's layout is the operand).
  CHECK(dispatch.size() == 2);
  CHECK(moe_expert_ops(x, 32).size() == 3);
}

TEST_CASE("einsum in a whole step: the ops table shows the einsums' FLOPs, forward and backward", "[moe_impl]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const auto cost = make_cost_model(mesh.device_kind, "");
  const Model m = small_model();
  const StepOptions o = small_options(MoeImpl::einsum, ExecutionMode::capacity, 2.0);  // C = ceil(2 x 8 / 4) = 4
  const StepResult r = simulate_step(m, mesh, parse_layout("dp=8,ep=4"), o, *cost);
  REQUIRE(r.expert_capacity == 4);
  REQUIRE(r.decoder_expert_capacity == 4);
  REQUIRE(r.shape.groups_per_device == 2);
  REQUIRE(r.shape.decoder_groups_per_device == 2);
  // Per device and Switch layer 8192 FLOPs forward; 8 devices, 2 Switch layers (one per stack).
  const double per_layer = 2.0 * 8 * 4 * 4 * 16 * 2;
  const MoeOpRow& de = moe_row(r, "switch.dispatch_einsum");
  CHECK(de.kind == "matmul");
  CHECK(de.count == 4);  // forward + backward, 2 layers
  CHECK(de.flops == 8.0 * 2.0 * (per_layer + per_layer));
  const MoeOpRow& ce = moe_row(r, "switch.combine_einsum");
  CHECK(ce.flops == 8.0 * 2.0 * (per_layer + 2.0 * per_layer));
  CHECK(moe_row(r, "switch.dispatch_mask").bytes == 8.0 * 2.0 * (256.0 * 12.0 + 256.0 * 6.0));
  CHECK_FALSE(has_moe_row(r, "switch.dispatch"));
  CHECK_FALSE(has_moe_row(r, "switch.combine"));
  // Memory: the [S, E, C] tensors kept for the backward, S P (4 + 2 a) = 256 x 8 B per layer.
  CHECK(r.memory.routing_tensors_bytes == 2.0 * 256.0 * 8.0);
}

TEST_CASE("gather: the permutation's bytes, forward and backward", "[moe_impl]") {
  const MoeLayerDims x = small_dims(MoeImpl::gather);
  // kT = 16 assignments, P = E g C = 32 padded slots, rows of d a = 32 B, 8 B of indices per
  // assignment, 4 B of gate.
  const MoeOp dispatch = op_named(moe_dispatch_ops(x), "dispatch");
  CHECK(dispatch.forward.min_bytes() == (16.0 + 32.0) * 32.0 + 8.0 * 16.0);   // read kT rows, write P rows
  CHECK(dispatch.backward.min_bytes() == (16.0 + 16.0) * 32.0 + 8.0 * 16.0);  // gather kT rows, write T
  const MoeOp combine = op_named(moe_combine_ops(x), "combine");
  CHECK(combine.forward.min_bytes() == (16.0 + 16.0) * 32.0 + 12.0 * 16.0);
  CHECK(combine.backward.min_bytes() == (2.0 * 16.0 + 32.0) * 32.0 + 16.0 * 16.0);
  CHECK(dispatch.forward.flops() == 0.0);
  // One local expert per device (ep = E): no reordering; two (ep = 2): read + write the P rows.
  CHECK(moe_expert_ops(x, 32).size() == 3);
  const std::vector<MoeOp> two = moe_expert_ops(small_dims(MoeImpl::gather, 2), 32);
  REQUIRE(two.size() == 5);
  CHECK(op_named(two, "sort_by_expert").forward.min_bytes() == 2.0 * 32.0 * 32.0);
  CHECK(op_named(two, "unsort").backward.min_bytes() == 2.0 * 32.0 * 32.0);
  // Padded expert products: E_l = 2 experts of 16 rows, d x 2 d_ff in.
  CHECK(op_named(two, "expert_wi").forward.flops() == 2.0 * 2 * 16 * 16 * 64);
}

TEST_CASE("grouped: one GEMM over the routed rows, each local expert's weights read once", "[moe_impl]") {
  const std::vector<MoeOp> ops = moe_expert_ops(small_dims(MoeImpl::grouped, 2), 10);  // R = 10, E_l = 2
  const MoeOp wi = op_named(ops, "expert_wi");
  CHECK(wi.weighted);
  CHECK(wi.forward.flops() == 2.0 * 10 * 16 * 64);                                 // 2 R d (n-1) f
  CHECK(wi.forward.min_bytes() == (10.0 * 16 + 2.0 * 16 * 64 + 10.0 * 64) * 2.0);  // (R k + E_l k n + R n) a
  CHECK(op_named(ops, "expert_wo").forward.flops() == 2.0 * 10 * 32 * 16);
  const MoeLayerDims x = small_dims(MoeImpl::grouped);
  CHECK(op_named(moe_dispatch_ops(x), "permute").forward.min_bytes() == 2.0 * 16.0 * 32.0 + 8.0 * 16.0);
  CHECK(op_named(moe_combine_ops(x), "unpermute").backward.min_bytes() == 3.0 * 16.0 * 32.0 + 16.0 * 16.0);
}

TEST_CASE("grouped in a dropless step: expert FLOPs are 2 x routed rows x d x d_ff x matrices, no padding",
          "[moe_impl]") {
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const auto cost = make_cost_model(mesh.device_kind, "");
  const Model m = small_model();
  StepOptions o = small_options(MoeImpl::automatic, ExecutionMode::dropless, 1.0);
  o.training.group_tokens = 0;  // the local batch
  for (const std::uint64_t seed : {0, 7}) {
    o.seed = seed;
    const StepResult r = simulate_step(m, mesh, parse_layout("dp=8,ep=2"), o, *cost);
    REQUIRE(r.training.moe_impl == MoeImpl::grouped);
    // Every token is routed (k = 1): 128 encoder and 128 decoder rows over the 8 devices per layer,
    // however the routing spreads them. Forward 2 x 128 x 16 x 32 x 3 per layer; dgrad and wgrad
    // repeat it (x 3 in all); 2 Switch layers.
    const double forward = 2.0 * 128 * 16 * 32 * 3;
    const double expert_flops = moe_row(r, "switch.expert_wi").flops + moe_row(r, "switch.expert_wo").flops;
    CHECK(expert_flops == 3.0 * 2.0 * forward);
    CHECK(has_moe_row(r, "switch.permute"));
    CHECK(has_moe_row(r, "switch.sort_by_expert"));  // E_l = 2 local experts
    CHECK(r.drop_fraction == 0.0);
  }
  // The padded gather at capacity factor 2 computes twice the rows: C = ceil(2 x 16 / 4) = 8 per
  // expert, E C = 32 slots per device for 16 tokens.
  StepOptions padded = small_options(MoeImpl::gather, ExecutionMode::capacity, 2.0);
  padded.training.group_tokens = 0;
  const StepResult g = simulate_step(m, mesh, parse_layout("dp=8,ep=2"), padded, *cost);
  const double padded_flops = moe_row(g, "switch.expert_wi").flops + moe_row(g, "switch.expert_wo").flops;
  CHECK(padded_flops == 2.0 * 3.0 * 2.0 * (2.0 * 128 * 16 * 32 * 3));
}

TEST_CASE("grouped with a capacity factor computes the truncated loads and sends them as a byte matrix", "[moe_impl]") {
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  const auto cost = make_cost_model(mesh.device_kind, "");
  const Model m = small_model();
  StepOptions o = small_options(MoeImpl::grouped, ExecutionMode::capacity, 1.0);
  o.training.group_tokens = 0;
  o.traffic = true;
  const StepResult r = simulate_step(m, mesh, parse_layout("dp=8,ep=4"), o, *cost);
  REQUIRE(r.drop_fraction > 0.0);  // C = ceil(16 / 4) = 4 per expert: a uniform draw overflows some
  // Processed rows = routed rows minus drops, over both stacks' 256 assignments per layer pair.
  const double processed = 256.0 * (1.0 - r.drop_fraction);
  const double expert_flops = moe_row(r, "switch.expert_wi").flops + moe_row(r, "switch.expert_wo").flops;
  CHECK(expert_flops == Approx(3.0 * 2.0 * processed * 16 * 32 * 3).epsilon(1e-12));
}

TEST_CASE("auto: einsum on TPU meshes, gather on GPU meshes in capacity mode, grouped when dropless", "[moe_impl]") {
  CHECK(resolve_moe_impl(MoeImpl::automatic, true, false) == MoeImpl::einsum);
  CHECK(resolve_moe_impl(MoeImpl::automatic, true, true) == MoeImpl::grouped);
  CHECK(resolve_moe_impl(MoeImpl::automatic, false, false) == MoeImpl::gather);
  CHECK(resolve_moe_impl(MoeImpl::automatic, false, true) == MoeImpl::grouped);
  CHECK(resolve_moe_impl(MoeImpl::grouped, false, false) == MoeImpl::grouped);
  auto resolved = [](const std::string& mesh, const std::string& mode) {
    StepRequest q;
    q.model = "switch-base";
    q.mesh = mesh;
    q.mode = mode;
    q.batch_tokens = 8 * 512;
    return resolve_step_request(q).options.training.moe_impl;
  };
  CHECK(resolved("tpuv3-2x2", "capacity") == MoeImpl::einsum);
  CHECK(resolved("tpuv3-2x2", "dropless") == MoeImpl::grouped);
  CHECK(resolved("dgx-h100-1", "capacity") == MoeImpl::gather);
  CHECK(resolved("dgx-h100-1", "dropless") == MoeImpl::grouped);
}

TEST_CASE("einsum and gather need a capacity: dropless is refused naming --moe-impl", "[moe_impl]") {
  CHECK(field_of([] { (void)resolve_moe_impl(MoeImpl::einsum, true, true); }) == "--moe-impl");
  CHECK(field_of([] { (void)resolve_moe_impl(MoeImpl::gather, false, true); }) == "--moe-impl");
  CHECK(field_of([] { (void)parse_moe_impl("tutel"); }) == "--moe-impl");
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-2x2";
  q.batch_tokens = 8 * 512;
  q.mode = "dropless";
  q.moe_impl = "einsum";
  CHECK(field_of([&] { (void)resolve_step_request(q); }) == "--moe-impl");
  // simulate_step refuses too (library callers).
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const auto cost = make_cost_model(mesh.device_kind, "");
  const StepOptions o = small_options(MoeImpl::einsum, ExecutionMode::dropless, 1.0);
  CHECK(field_of([&] { (void)simulate_step(small_model(), mesh, parse_layout("dp=8,ep=4"), o, *cost); }) ==
        "--moe-impl");
}

TEST_CASE("Mesh-TF group split: at most 1024 tokens, groups a multiple of the batch devices", "[moe_impl]") {
  // Switch-Base, 2^20 tokens on 32 cores: 32768 local tokens -> 32 groups of 1024; the decoder's
  // 64 x 114 = 7296 -> n = 233472, n // 1024 = 228 groups, 8 per core (7.125 rounded up) of 912.
  CHECK(mesh_tf_group_split(32768, 32).groups == 32);
  CHECK(mesh_tf_group_split(32768, 32).group_tokens == 1024);
  CHECK(mesh_tf_group_split(7296, 32).groups == 8);
  CHECK(mesh_tf_group_split(7296, 32).group_tokens == 912);
  // The code, not its docstring: n // max rounds down, so 3000 tokens make 2 groups of 1500.
  CHECK(mesh_tf_group_split(3000, 1).group_tokens == 1500);
  // Divisibility pushes the count up: 2401 = 7^4 tokens -> 7 groups of 343.
  CHECK(mesh_tf_group_split(2401, 1).groups == 7);
  CHECK(mesh_tf_group_split(100, 4).groups == 1);  // small batches: one group
  // The step's shape follows it for einsum, unless --group-tokens is given.
  const Model m = load_model("switch-base");
  TrainingSetup t;
  t.moe_impl = MoeImpl::einsum;
  const StepShape s = derive_step_shape(t, m, parse_layout("dp=32,ep=32"));
  CHECK(s.group_tokens == 1024);
  CHECK(s.groups_per_device == 32);
  CHECK(s.decoder_group_tokens == 912);
  CHECK(s.decoder_groups_per_device == 8);
  t.group_tokens = 4096;
  CHECK(derive_step_shape(t, m, parse_layout("dp=32,ep=32")).groups_per_device == 8);
  t.moe_impl = MoeImpl::gather;
  t.group_tokens = 0;
  CHECK(derive_step_shape(t, m, parse_layout("dp=32,ep=32")).group_tokens == 32768);
  t.group_tokens = 1000;
  CHECK(field_of([&] { (void)derive_step_shape(t, m, parse_layout("dp=32,ep=32")); }) == "--group-tokens");
}

TEST_CASE("JSON records the resolved MoE implementation", "[moe_impl]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const auto cost = make_cost_model(mesh.device_kind, "");
  const StepOptions o = small_options(MoeImpl::automatic, ExecutionMode::capacity, 2.0);
  const StepResult r = simulate_step(small_model(), mesh, parse_layout("dp=8,ep=4"), o, *cost);
  const json j = to_json(r);
  CHECK(j.at("moe_impl") == "einsum");
  CHECK(j.at("provenance").at("moe_impl") == "einsum");
  CHECK(j.at("provenance").at("moe_layer").get<std::string>().find("Mesh-TensorFlow") != std::string::npos);
  CHECK(j.at("ops").at("moe").size() == r.op_accounting.moe.size());
  const json c = to_json(capacity_sweep(small_model(), mesh, parse_layout("dp=8,ep=4"), o, {1.0, 2.0}, 1, *cost));
  CHECK(c.at("moe_impl") == "einsum");
  CHECK(c.at("rows").at(0).at("moe_impl") == "einsum");
  CHECK(c.at("provenance").at("moe_impl") == "einsum");
}
