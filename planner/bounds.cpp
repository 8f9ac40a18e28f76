#include "planner/bounds.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/shape_aware_cost_model.hpp"
#include "topology/metrics.hpp"
#include "workloads/backward_shapes.hpp"
#include "workloads/decoder_layer.hpp"
#include "workloads/expert_tensor_parallel.hpp"
#include "workloads/fp8.hpp"
#include "workloads/layer_dims.hpp"
#include "workloads/moe_layer.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "workloads/zero_sharding.hpp"

namespace switchsim::planner {
namespace {

using kernels::matmul;
using kernels::OpKind;
using kernels::OpShape;

// Forward and backward seconds of a set of compute ops for one micro-batch: `f` one forward pass,
// `b` the backward pass (with rematerialization its second forward, then dgrad and wgrad). The
// pipeline bound (below) needs them apart; a pp = 1 step only their sum.
struct FB {
  double f = 0.0;
  double b = 0.0;
  [[nodiscard]] double total() const { return f + b; }
  FB& operator+=(const FB& o) {
    f += o.f;
    b += o.b;
    return *this;
  }
  friend FB operator+(FB x, const FB& y) { return x += y; }
  friend FB operator*(double k, const FB& x) { return FB{k * x.f, k * x.b}; }
};

double out_capacity_Bps(const topology::Topology& t, topology::VertexId v) {
  double sum = 0.0;
  for (topology::LinkId l : t.out_links(v)) sum += t.link(l).bandwidth_Bps;
  return sum;
}

// Lower bound of a pipelined step (layout.pp = p > 1, schedule gpipe, 1f1b or interleaved with
// v = layout.vpp chunks per device, m micro-batches). Model chunk j (of p v, consecutive layers,
// workloads::chunk_first_layer) runs on stage j mod p; F_j, B_j are its forward and backward
// seconds for one micro-batch (layer_cost, summed over the chunk's layers) and C_s = sum over
// stage s's chunks of F_j + B_j. Each stage's compute stream runs its ops one at a time, so:
//   compute_s  = max_s m C_s: the busiest stage's compute (every device of stage s runs it).
//   chain_s    = max over stages s* of  fill(s*) + m C_s* + m x the forward collectives of the
//                stage's first device, with
//                fill(s*) = sum over s < s* of (min_c F_{c p + s} + min_c B_{c p + s} + 2 x p2p).
//     Why: stage s* runs m C_s* of compute. It cannot start before some micro-batch's forward
//     has passed the model chunks before its first one, which includes one chunk on each stage
//     s < s* (its forward >= min_c F there) and s* activation sends; and the backward it runs
//     last must still pass one chunk on each stage s < s* (>= min_c B) and s* gradient sends
//     before the step ends. Each send moves one micro-batch's activations of a device, T d a
//     bytes (an encoder-decoder's decoder adds its own; not counted), at most at the device's
//     line rate: p2p = T d a / (largest out capacity of a device). A forward collective leaves
//     the compute stream idle (as for pp = 1 below); each stage's are priced for its first
//     device (layout.device(0, 0, 0, s)) in that device's own groups (the first mp and ep
//     groups of the stage), by the same cache call the executor makes; the chip cut only on
//     stage 0 (it is device 0's chip).
//     With equal chunks (F + B = t / v per chunk, a device's layers taking t per micro-batch)
//     and free sends, s* = p - 1 gives (p - 1) t / v + m t = m t (v m + p - 1) / (v m): for
//     gpipe and 1f1b (v = 1) the textbook m t (m + p - 1) / m, a bubble (p - 1) / (m + p - 1);
//     interleaved (p - 1) / (v m + p - 1) (pipeline_schedule.hpp).
//   communication_s = max over stages of m x its first device's collectives (its stream 0;
//                the sends have streams of their own).
// Each stage's gradient sync, ZeRO collectives and optimizer update (StageSync) add to its
// streams and chain (derived in the loop below). Not counted (a looser but still valid bound):
// the latencies of the sends, backward collectives on the chain.
// A stage's gradient sync, ZeRO collectives and update (step_lower_bound prices them), seconds.
struct StageSync {
  std::int32_t zero = 0;
  bool fsdp = false;               // ZeRO 3: per-layer gathers and scatters on stream 1
  double sync_s = 0.0;             // ZeRO 0: all-reduces, 1: reduce-scatters; after the last micro-batch's backward
  double per_micro_batch_s = 0.0;  // ZeRO 2: the reduce-scatters of every micro-batch
  double after_update_s = 0.0;     // ZeRO 1, 2: the parameters' all-gathers after the update
  double own_stream_s = 0.0;       // ZeRO 3: the step's gathers and scatters
  double update_s = 0.0;           // the optimizer update (compute stream, after the sync)
};

StepBound pipeline_bound(const workloads::Layout& layout, const workloads::TrainingSetup& setup,
                         const std::vector<FB>& layer_cost, const std::vector<std::vector<double>>& stage_comm,
                         double forwards, double send_bytes, double device_out_Bps, const std::vector<StageSync>& sync) {
  const std::int64_t p = layout.pp, v = layout.vpp, chunks = p * v;
  const auto L = static_cast<std::int64_t>(layer_cost.size());
  const auto mb = static_cast<double>(setup.micro_batches);
  std::vector<FB> chunk(static_cast<std::size_t>(chunks));
  std::vector<double> chunk_comm(static_cast<std::size_t>(chunks), 0.0);  // in the stage's own groups
  for (std::int64_t j = 0; j < chunks; ++j) {
    const std::vector<double>& layer_comm = stage_comm[static_cast<std::size_t>(j % p)];
    for (std::int64_t i = workloads::chunk_first_layer(L, chunks, j); i < workloads::chunk_first_layer(L, chunks, j + 1); ++i) {
      chunk[static_cast<std::size_t>(j)] += layer_cost[static_cast<std::size_t>(i)];
      chunk_comm[static_cast<std::size_t>(j)] += layer_comm[static_cast<std::size_t>(i)];
    }
  }
  const double p2p = device_out_Bps > 0.0 ? send_bytes / device_out_Bps : 0.0;
  StepBound b;
  double fill = 0.0;
  double forward_fill = 0.0;  // sum over s' < s of min_c F + p2p: before stage s's first compute op
  const bool bucketed = setup.grad_sync.kind == workloads::GradSyncKind::bucketed;
  for (std::int64_t s = 0; s < p; ++s) {
    double stage = 0.0;
    double collectives = 0.0;  // the stage's first device's, per micro-batch
    double min_f = HUGE_VAL, min_b = HUGE_VAL;
    for (std::int64_t c = 0; c < v; ++c) {
      const auto j = static_cast<std::size_t>(workloads::model_chunk(p, s, c));
      stage += chunk[j].total();
      collectives += chunk_comm[j];
      min_f = std::min(min_f, chunk[j].f);
      min_b = std::min(min_b, chunk[j].b);
    }
    b.compute_s = std::max(b.compute_s, mb * stage);
    const double forward_comm = mb * collectives * forwards / (forwards + 1.0);
    b.chain_s = std::max(b.chain_s, fill + mb * stage + forward_comm);
    b.communication_s = std::max(b.communication_s, mb * collectives);

    // The stage's gradient sync and update (StageSync). Communication streams: the sync runs on
    // stream 1 with --grad-sync's separate stream, else on stream 0 after the stage's collectives;
    // ZeRO 3's gathers and scatters on stream 1.
    const StageSync& y = sync[static_cast<std::size_t>(s)];
    const double grads = y.sync_s + mb * y.per_micro_batch_s + y.after_update_s;
    const double stream1 = (setup.grad_sync.separate_stream ? grads : 0.0) + y.own_stream_s;
    const double stream0 = mb * collectives + (setup.grad_sync.separate_stream ? 0.0 : grads);
    b.communication_s = std::max({b.communication_s, stream0, stream1});
    // Chain: stage s's compute stream runs its actions in stage_actions order, one op at a time,
    // starting no earlier than forward_fill (its first action needs one model chunk on each stage
    // before it and s sends); a forward action takes F_j + its forward collectives (idle compute, as
    // above), a backward one B_j. The update waits for all of the stage's compute and sync, and
    // ZeRO 1 and 2 all-gather after it, so with `end` = forward_fill + every action:
    //   step >= end + update + after_update.
    // The sync of ZeRO 0 and 1 waits for a wgrad of the last micro-batch's backward (buckets are
    // filled only then; fused: after `end`), so with `start` = forward_fill + the actions before
    // the stage's first backward action of micro-batch m - 1 (bucketed) or `end` (fused):
    //   step >= start + sync + update + after_update.
    double end = forward_fill, start = -1.0;
    const std::int64_t last_mb = setup.micro_batches - 1;
    for (const workloads::PipelineAction& act :
         workloads::stage_actions(setup.pp_schedule, p, v, setup.micro_batches, s)) {
      const auto j = static_cast<std::size_t>(workloads::model_chunk(p, s, act.chunk));
      if (act.backward && act.micro_batch == last_mb && start < 0.0) start = end;
      end += act.backward ? chunk[j].b : chunk[j].f + chunk_comm[j] * forwards / (forwards + 1.0);
    }
    if (start < 0.0 || !bucketed) start = end;
    b.chain_s = std::max(b.chain_s, end + y.update_s + y.after_update_s);
    if (y.zero <= 1) b.chain_s = std::max(b.chain_s, start + y.sync_s + y.update_s + y.after_update_s);
    fill += min_f + min_b + 2.0 * p2p;
    forward_fill += min_f + p2p;
  }
  return b;
}

}  // namespace

MeshCuts compute_mesh_cuts(const topology::Mesh& mesh) {
  MeshCuts c;
  c.tpu = mesh.is_tpu();
  const topology::Topology& t = mesh.topology;
  for (topology::VertexId d = 0; d < t.num_devices(); ++d) c.device_out_Bps = std::max(c.device_out_Bps, out_capacity_Bps(t, d));
  // Device 0's chip: a chip router it links to, and the devices that router links to.
  if (t.num_devices() > 0) {
    for (topology::LinkId l : t.out_links(0)) {
      const topology::VertexId r = t.link(l).dst;
      if (t.vertex(r).kind != topology::VertexKind::chip_router) continue;
      for (topology::LinkId rl : t.out_links(r)) {
        const topology::VertexId v = t.link(rl).dst;
        if (v < t.num_devices()) {
          c.chip_devices.push_back(v);
        } else {
          c.chip_out_Bps += t.link(rl).bandwidth_Bps;
        }
      }
      break;
    }
  }
  std::sort(c.chip_devices.begin(), c.chip_devices.end());
  c.cores_per_chip = std::max<std::int32_t>(1, static_cast<std::int32_t>(c.chip_devices.size()));
  if (c.chip_devices.size() <= 1) {
    c.chip_devices.clear();
    c.chip_out_Bps = 0.0;
  }
  // The bisection closed form is cheap for tori; max-flow elsewhere only on small meshes.
  if (mesh.structure.family == topology::MeshFamily::torus || t.num_vertices() <= 4096) {
    c.bisection_Bps = topology::compute_metrics(mesh).bisection_bandwidth_Bps;
  }
  return c;
}

StepBound step_lower_bound(const workloads::Model& m, const workloads::Layout& layout,
                           const workloads::TrainingSetup& setup, const workloads::StepShape& shape,
                           double capacity_factor, workloads::ExecutionMode mode, const kernels::CostModel& cost,
                           const MeshCuts& cuts, sim::CollectiveCache* cache) {
  StepBound b;
  const bool dropless = mode == workloads::ExecutionMode::dropless;
  // The implementation the step runs (the caller's resolved one; auto resolved here for the mesh).
  const workloads::MoeImpl impl = m.is_moe() ? workloads::resolve_moe_impl(setup.moe_impl, cuts.tpu, dropless)
                                             : setup.moe_impl;
  const bool uneven = impl == workloads::MoeImpl::grouped;  // expert loads follow the routing
  // Short names for the per-device dimensions (workloads/layer_dims.hpp).
  const workloads::LayerDims dims = workloads::layer_dims(m, layout, shape);
  const std::int64_t d = dims.d_model, mp = dims.mp, inner = dims.inner, heads = dims.heads, dff = dims.d_ff;
  const std::int64_t nm = dims.ffn_matrices, seqs = dims.sequences, T_enc = dims.encoder_tokens;
  const std::int64_t T_dec = dims.decoder_tokens, E = dims.experts;
  const double a = setup.activation_bytes();
  const double forwards = setup.rematerialize ? 2.0 : 1.0;  // forward passes per micro-batch
  // Folded layouts (etp != mp): each device routes T / s tokens, s = mp / etp token slices
  // (workloads/expert_tensor_parallel.hpp); 1 otherwise.
  const std::int64_t slices = layout.token_slices();

  // --precision fp8: every product priced at the fp8 rate (the builder keeps the output layer
  // and the einsum dispatch products in bf16, so this stays a lower bound; workloads/fp8.hpp).
  auto predict = [&](const OpShape& s) { return cost.predict(workloads::linear_in_precision(s, setup)).seconds; };
  // A weighted op runs forward (x forwards), dgrad and wgrad, each with its own product
  // shape (workloads/backward_shapes.hpp), as the step builder emits them.
  // Weight elements of the weighted ops priced while `sink` is set (per pipeline layer, dense and
  // expert apart: the step builder splits each stage's gradient bytes by these, step_builder.cpp).
  struct Weights {
    double dense = 0.0, expert = 0.0;
  };
  Weights* sink = nullptr;
  auto count_weights = [&](const OpShape& s) {
    if (sink == nullptr) return;
    const double w = static_cast<double>(s.batch) * static_cast<double>(s.k) * static_cast<double>(s.n);
    (s.kind == OpKind::batched_matmul ? sink->expert : sink->dense) += w;
  };
  auto weighted = [&](const OpShape& s) {
    count_weights(s);
    const double f = predict(s);
    return FB{f, (forwards - 1.0) * f + predict(workloads::dgrad_shape(s)) + predict(workloads::wgrad_shape(s))};
  };
  // Dropless expert products are priced at the mean load, a lower bound of the busiest
  // device only for a cost convex in the rows (Jensen, summed over layers). Padding (MXU
  // blocks, GPU tiles and waves) is a step function of the rows, so a shape-aware model
  // prices them without padding: <= the padded cost, convex, and the same for dgrad and
  // wgrad (kernels/shape_aware_cost_model.hpp).
  const auto* shape_aware = dynamic_cast<const kernels::ShapeAwareCostModel*>(&cost);
  auto weighted_at_mean = [&](const OpShape& s) {
    if (shape_aware == nullptr) return weighted(s);
    count_weights(s);
    const double u = shape_aware->predict_unpadded(s).seconds;
    return FB{u, (forwards + 1.0) * u};
  };
  auto attention = [&](std::int64_t lq, std::int64_t lk) {
    const OpShape f = matmul(lq, m.d_kv, lk, seqs * heads, OpKind::attention);
    OpShape bwd = f;
    bwd.batch *= 2;
    const double pf = predict(f);
    return FB{pf, (forwards - 1.0) * pf + predict(bwd)};
  };
  // Memory-bound ops (norms, residuals, activations, dispatch, combine, embeddings, loss)
  // run forward (x forwards) and once backward, all on the chain.
  auto memory_op = [&](OpKind kind, double bytes) {
    OpShape s;
    s.kind = kind;
    s.bytes = static_cast<std::int64_t>(bytes);
    const double p = predict(s);
    return FB{p, forwards * p};
  };
  auto norm = [&](std::int64_t T) { return memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T * d) * a); };
  auto residual = [&](std::int64_t T) { return memory_op(OpKind::elementwise, 3.0 * static_cast<double>(T * d) * a); };
  // Rows a device's experts process per Switch layer: padded exactly; routed loads at least
  // the mean (dropless), or at least groups x min(k G, C) (grouped with a capacity factor:
  // planner/candidates.hpp).
  auto slots = [&](std::int64_t G, std::int64_t groups) -> std::int64_t {
    if (dropless) return m.top_k * G * groups;  // the mean load
    const std::int64_t C = workloads::expert_capacity(capacity_factor, m.top_k, G, E);
    if (uneven) return groups * std::min(m.top_k * G, C);
    return E * groups * C;
  };
  // The MoE implementation's ops (workloads/moe_layer.hpp), as the builder emits them.
  auto moe_ops = [&](const std::vector<workloads::MoeOp>& ops) {
    FB s;
    // Uneven (grouped) expert products have rows that are only a lower bound of the busiest
    // device's: priced at_mean (padding-free, convex) as the dropless products above.
    for (const workloads::MoeOp& op : ops) {
      if (op.weighted) {
        s += uneven ? weighted_at_mean(op.forward) : weighted(op.forward);
      } else {
        const double pf = predict(op.forward);
        s += FB{pf, (forwards - 1.0) * pf + predict(op.backward)};
      }
    }
    return s;
  };
  auto ffn = [&](std::int64_t T, std::int64_t G, std::int64_t groups, bool is_switch) {
    if (!is_switch) {
      return norm(T) + weighted(matmul(T, d, (nm - 1) * dff)) +
             memory_op(OpKind::elementwise, static_cast<double>(nm * T * dff) * a) + weighted(matmul(T, dff, d)) +
             residual(T);
    }
    // A folded layout's device routes its token slice (expert_tensor_parallel.hpp), as the builder.
    const workloads::RouteSplit rs = workloads::split_routing(T, groups, G, slices);
    OpShape router = matmul(rs.tokens, d, E, 1, OpKind::router);
    router.precision = kernels::Precision::fp32;
    FB s = norm(T) + weighted(router) + residual(T);
    if (dims.shared_d_ff > 0) {  // shared experts (decoder-only), as the builder emits them
      const std::int64_t sff = dims.shared_d_ff;
      s += weighted(matmul(T, d, (nm - 1) * sff)) + memory_op(OpKind::elementwise, static_cast<double>(nm * T * sff) * a) +
           weighted(matmul(T, sff, d));
    }
    const workloads::MoeLayerDims md = workloads::moe_layer_dims(
        impl, m, layout, dims, rs.tokens, rs.group_tokens, rs.groups,
        workloads::expert_capacity(dropless ? 1.0 : capacity_factor, m.top_k, rs.group_tokens, E), a);
    s += moe_ops(workloads::moe_dispatch_ops(md)) +
         moe_ops(workloads::moe_expert_ops(md, slots(rs.group_tokens, rs.groups))) + moe_ops(workloads::moe_combine_ops(md));
    return s;
  };

  // Per pipeline layer (encoder layers, then decoder layers: workloads::pipeline_layers) the
  // seconds of its ops for one micro-batch, with the model's ends where the step builder puts
  // them (step_builder.cpp, pipeline_positions): the embeddings with the first layer (the
  // decoder's with the first decoder layer), the LM head and the loss with the last layer.
  const std::int64_t L_pipe = workloads::pipeline_layers(m);
  std::vector<FB> layer_cost(static_cast<std::size_t>(std::max<std::int64_t>(L_pipe, 1)));
  auto at_layer = [&](std::int64_t i) -> FB& {
    return layer_cost[static_cast<std::size_t>(std::clamp<std::int64_t>(i, 0, static_cast<std::int64_t>(layer_cost.size()) - 1))];
  };
  FB head;  // the LM head and the loss: with the last layer
  std::vector<Weights> layer_w(layer_cost.size());
  auto weights_at = [&](std::int64_t i) {
    return &layer_w[static_cast<std::size_t>(std::clamp<std::int64_t>(i, 0, static_cast<std::int64_t>(layer_w.size()) - 1))];
  };
  Weights attn_w, head_w;
  if (m.decoder_only()) {
    // The builder's decoder-only layers (step_builder.cpp): the same op list.
    at_layer(0) += memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_enc * d) * a);  // embeddings
    head += memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_enc) * static_cast<double>(m.vocab / mp) * 4.0);
    const std::int64_t L = m.input_length;
    FB attn = norm(T_enc) + residual(T_enc);
    sink = &attn_w;
    for (const workloads::Projection& x : workloads::attention_in_projections(m, mp)) attn += weighted(matmul(T_enc, x.in, x.out));
    const workloads::Projection o = workloads::attention_out_projection(m, mp);
    attn += weighted(matmul(T_enc, o.in, o.out));
    sink = nullptr;
    {
      const OpShape f = matmul(L, workloads::attention_op_dim(m), workloads::causal_keys(L), seqs * heads, OpKind::attention);
      OpShape bwd = f;
      bwd.batch *= 2;
      const double pf = predict(f);
      attn += FB{pf, (forwards - 1.0) * pf + predict(bwd)};
    }
    for (std::int64_t i = 0; i < m.encoder_layers; ++i) {
      sink = weights_at(i);
      sink->dense += attn_w.dense;
      sink->expert += attn_w.expert;
      at_layer(i) += attn + ffn(T_enc, shape.group_tokens, dims.groups, m.is_switch_layer(i));
    }
    sink = &head_w;
    head += weighted(matmul(T_enc, d, m.vocab / mp));
    sink = nullptr;
  } else {
    at_layer(0) += memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_enc * d) * a);  // embeddings
    at_layer(m.encoder_layers) += memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_dec * d) * a);
    head += memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_dec) * static_cast<double>(m.vocab / mp) * 4.0);
    for (std::int64_t i = 0; i < m.encoder_layers; ++i) {
      FB& c = at_layer(i);
      sink = weights_at(i);
      c += norm(T_enc) + residual(T_enc);
      c += weighted(matmul(T_enc, d, 3 * inner)) + attention(m.input_length, m.input_length) +
           weighted(matmul(T_enc, inner, d));
      c += ffn(T_enc, shape.group_tokens, dims.groups, m.is_switch_layer(i));
    }
    for (std::int64_t i = 0; i < m.decoder_layers; ++i) {
      FB& c = at_layer(m.encoder_layers + i);
      sink = weights_at(m.encoder_layers + i);
      c += 2.0 * (norm(T_dec) + residual(T_dec));
      c += weighted(matmul(T_dec, d, 3 * inner)) + attention(m.target_length, m.target_length) +
           weighted(matmul(T_dec, inner, d));
      c += weighted(matmul(T_dec, d, inner)) + weighted(matmul(seqs * m.input_length, d, 2 * inner)) +
           attention(m.target_length, m.input_length) + weighted(matmul(T_dec, inner, d));
      c += ffn(T_dec, shape.decoder_group_tokens, dims.decoder_groups, m.is_switch_layer(i));
    }
    sink = &head_w;
    head += weighted(matmul(T_dec, d, m.vocab / mp));
    sink = nullptr;
  }
  at_layer(L_pipe - 1) += head;
  weights_at(L_pipe - 1)->dense += head_w.dense;
  weights_at(L_pipe - 1)->expert += head_w.expert;
  double compute = 0.0;
  for (const FB& c : layer_cost) compute += c.total();
  b.compute_s = compute * static_cast<double>(setup.micro_batches);

  // Communication of device 0.
  const double dev_Bps = cuts.device_out_Bps;
  const std::int64_t devices = layout.devices();
  auto by_device = [&](double bytes, std::int64_t n) {
    return dev_Bps > 0.0 && n > 1 ? bytes * static_cast<double>(n - 1) / static_cast<double>(n) / dev_Bps : 0.0;
  };
  // Members of device 0's ep group on device 0's chip.
  std::int64_t ep_on_chip = 1;
  if (!cuts.chip_devices.empty() && layout.ep > 1) {
    ep_on_chip = 0;
    for (std::int64_t e = 0; e < layout.ep; ++e) {
      const std::int32_t id = layout.device(0, e, 0);
      if (std::binary_search(cuts.chip_devices.begin(), cuts.chip_devices.end(), id)) ++ep_on_chip;
    }
  }
  // Device 0's group of each partition (the executor runs the group that contains it). With
  // pp > 1 each stage's first device in turn (below): its groups are the first of its stage.
  auto ep_group = layout.ep > 1 ? layout.ep_groups().front() : std::vector<std::int32_t>{};
  auto mp_group = mp > 1 ? layout.mp_groups().front() : std::vector<std::int32_t>{};
  // Folded layouts (etp != mp): the expert output's etp group and the token slices' group.
  const bool folded_moe = m.is_moe() && layout.folded();
  auto etp_group = folded_moe ? layout.etp_groups().front() : std::vector<std::int32_t>{};
  auto slice_group = folded_moe ? layout.token_slice_groups().front() : std::vector<std::int32_t>{};
  auto exact = [&](sim::CollectiveOp op, const std::vector<std::int32_t>& group, double bytes) {
    if (cache == nullptr || group.size() <= 1) return 0.0;
    const std::vector<topology::VertexId> members(group.begin(), group.end());
    return cache->duration_s(op, sim::CollectiveAlgorithm::automatic, members, bytes, nullptr);
  };
  auto all_to_all = [&](double bytes) {
    const std::int64_t n = layout.ep;
    if (uneven) return 0.0;  // how much of its own load a device keeps is random: no safe bound
    double t = std::max(by_device(bytes, n), exact(sim::CollectiveOp::all_to_all, ep_group, bytes));
    if (cuts.chip_out_Bps > 0.0 && ep_on_chip < n) {
      const double k = static_cast<double>(ep_on_chip);
      t = std::max(t, k * bytes * (static_cast<double>(n) - k) / static_cast<double>(n) / cuts.chip_out_Bps);
    }
    if (cuts.bisection_Bps > 0.0 && n == devices) {
      t = std::max(t, static_cast<double>(n) * bytes / 4.0 / cuts.bisection_Bps);
    }
    return t;
  };
  // Device 0's collectives of one micro-batch per pipeline layer (its forward and backward passes).
  std::vector<double> layer_comm(layer_cost.size(), 0.0);
  auto collect = [&] {
    std::fill(layer_comm.begin(), layer_comm.end(), 0.0);
    for (int stack = 0; stack < 2; ++stack) {
      const bool dec = stack == 1;
      const std::int64_t layers = dec ? m.decoder_layers : m.encoder_layers;
      const std::int64_t T = dec ? T_dec : T_enc;
      const std::int64_t G = dec ? shape.decoder_group_tokens : shape.group_tokens;
      const std::int64_t groups = dec ? dims.decoder_groups : dims.groups;
      for (std::int64_t i = 0; i < layers; ++i) {
        const bool sw = m.is_switch_layer(i);
        double& comm = layer_comm[static_cast<std::size_t>(
            std::clamp<std::int64_t>(dec ? m.encoder_layers + i : i, 0, static_cast<std::int64_t>(layer_comm.size()) - 1))];
        // The rows a device's experts process: its routed slice's (folded layouts: T / s tokens).
        const workloads::RouteSplit rs = sw ? workloads::split_routing(T, groups, G, slices) : workloads::RouteSplit{};
        const double expert_rows = sw ? static_cast<double>(slots(rs.group_tokens, rs.groups)) : 0.0;
        if (sw && layout.ep > 1) {
          // Per forward pass a dispatch (de bytes per element: 1 with --fp8-dispatch) and a combine
          // (a); backward both in a (workloads/fp8.hpp).
          const double elements = expert_rows * static_cast<double>(d);
          const double de = workloads::dispatch_element_bytes(setup);
          comm += forwards * (all_to_all(elements * de) + all_to_all(elements * a)) + 2.0 * all_to_all(elements * a);
        }
        if (mp > 1) {
          const double attn_blocks = dec ? 2.0 : 1.0;
          const double act = static_cast<double>(T) * static_cast<double>(d) * a;
          const double ffn_bytes = sw ? expert_rows * static_cast<double>(d) * a : act;
          auto reduce_over = [&](const std::vector<std::int32_t>& group, double bytes) {
            const auto n = static_cast<std::int64_t>(group.size());
            return std::max(by_device(bytes, n), exact(sim::CollectiveOp::all_reduce, group, bytes));
          };
          // Decoder-only MoE layers with shared experts: one more all-reduce of the tokens.
          const double shared = sw && m.shared_experts > 0 ? reduce_over(mp_group, act) : 0.0;
          // The expert output's all-reduce: over the mp group, or (folded) over the etp group,
          // followed by the all-gather of the s token slices (T d a bytes; its by_device form is not
          // used: it would price what the device receives at its out rate); forward and backward.
          double expert_side = 0.0;
          if (!sw || !layout.folded()) {
            expert_side = reduce_over(mp_group, ffn_bytes);
          } else {
            if (etp_group.size() > 1) expert_side += reduce_over(etp_group, ffn_bytes);
            if (slice_group.size() > 1) expert_side += exact(sim::CollectiveOp::all_gather, slice_group, act);
          }
          comm += (forwards + 1.0) * (attn_blocks * reduce_over(mp_group, act) + expert_side + shared);
        }
      }
    }
  };
  collect();
  if (layout.pp > 1) {
    // Per stage s, the collectives of its first device (layout.device(0, 0, 0, s)), in its own
    // groups; device 0's chip term only on stage 0 (cuts.chip_devices is device 0's chip).
    std::vector<std::vector<double>> stage_comm{layer_comm};
    for (std::int64_t st = 1; st < layout.pp; ++st) {
      if (layout.ep > 1) ep_group = layout.ep_groups(st).front();
      if (mp > 1) mp_group = layout.mp_groups(st).front();
      if (folded_moe) {
        etp_group = layout.etp_groups(st).front();
        slice_group = layout.token_slice_groups(st).front();
      }
      ep_on_chip = layout.ep;
      collect();
      stage_comm.push_back(layer_comm);
    }
    // Each stage's gradient sync, ZeRO collectives and optimizer update, as emit_pipeline
    // (step_builder.cpp) emits them: the stage's gradient bytes of a kind are the device's local
    // bytes of that kind times the stage's share of the kind's weight elements (layer_w, counted
    // from the same weighted ops); each collective over the stage's first device's group priced
    // as max(line rate, the cache's duration of the whole bytes) -- buckets, chunks and layers
    // split it into parts that take at least that together (the ZeRO argument below, pp = 1).
    const workloads::ParamCount pcs = workloads::count_params(m);
    const double gb = setup.optimizer == workloads::Optimizer::adam ? 2.0 : 4.0;
    const double per_element = setup.optimizer == workloads::Optimizer::adam ? 28.0 : 12.0;
    const double dense_local = pcs.non_expert() / static_cast<double>(mp) * gb;
    const double expert_local = m.is_moe() ? pcs.experts / static_cast<double>(layout.ep * layout.expert_tp()) * gb : 0.0;
    const std::int64_t chunks = layout.pp * layout.vpp;
    const std::int32_t zero = setup.zero_stage;
    const bool has_rep = m.is_moe() && layout.replicas() > 1;
    const bool fsdp = zero >= 3 && (layout.dp > 1 || has_rep);
    Weights total;
    for (const Weights& w : layer_w) {
      total.dense += w.dense;
      total.expert += w.expert;
    }
    std::vector<StageSync> sync(static_cast<std::size_t>(layout.pp));
    for (std::int64_t st = 0; st < layout.pp; ++st) {
      Weights w;
      for (std::int64_t j = st; j < chunks; j += layout.pp) {
        for (std::int64_t i = workloads::chunk_first_layer(L_pipe, chunks, j); i < workloads::chunk_first_layer(L_pipe, chunks, j + 1); ++i) {
          w.dense += layer_w[static_cast<std::size_t>(i)].dense;
          w.expert += layer_w[static_cast<std::size_t>(i)].expert;
        }
      }
      const double bytes_d = total.dense > 0.0 ? dense_local * w.dense / total.dense : 0.0;
      const double bytes_x = total.expert > 0.0 ? expert_local * w.expert / total.expert : 0.0;
      StageSync& y = sync[static_cast<std::size_t>(st)];
      y.zero = zero;
      y.fsdp = fsdp;
      const std::vector<std::int32_t> dp_g = layout.dp > 1 ? layout.dp_groups(st).front() : std::vector<std::int32_t>{};
      const std::vector<std::int32_t> xr_g = has_rep ? layout.expert_replica_groups(st).front() : std::vector<std::int32_t>{};
      for (const auto& [bytes, group] : {std::pair{bytes_d, &dp_g}, std::pair{bytes_x, &xr_g}}) {
        const auto n = static_cast<std::int64_t>(group->size());
        if (bytes <= 0.0 || n <= 1) continue;
        auto price = [&](sim::CollectiveOp op) { return std::max(by_device(bytes, n), exact(op, *group, bytes)); };
        if (zero == 0) {
          y.sync_s += price(sim::CollectiveOp::all_reduce);
        } else if (zero == 1) {
          y.sync_s += price(sim::CollectiveOp::reduce_scatter);
          y.after_update_s += price(sim::CollectiveOp::all_gather);
        } else if (zero == 2) {
          y.per_micro_batch_s += price(sim::CollectiveOp::reduce_scatter);
          y.after_update_s += price(sim::CollectiveOp::all_gather);
        } else {
          y.own_stream_s += price(sim::CollectiveOp::reduce_scatter) + price(sim::CollectiveOp::all_gather);
        }
      }
      OpShape update;
      update.kind = OpKind::optimizer;
      const double elements = zero >= 1 ? workloads::shard_elements(bytes_d / gb, layout.dp) +
                                              workloads::shard_elements(bytes_x / gb, m.is_moe() ? layout.replicas() : 1)
                                        : (bytes_d + bytes_x) / gb;
      update.bytes = static_cast<std::int64_t>(elements * per_element);
      y.update_s = predict(update);
    }
    return pipeline_bound(layout, setup, layer_cost, stage_comm, forwards, static_cast<double>(T_enc * d) * a, dev_Bps,
                          sync);
  }
  double comm = 0.0;
  for (double c : layer_comm) comm += c;
  comm *= static_cast<double>(setup.micro_batches);
  const double forward_comm = comm * forwards / (forwards + 1.0);  // each pass moves the same collectives
  const workloads::ParamCount pc = workloads::count_params(m);
  const double grad_bytes = setup.optimizer == workloads::Optimizer::adam ? 2.0 : 4.0;
  double grad_comm = 0.0;
  double chain_grads = 0.0;  // the part of grad_comm on device 0's compute chain
  const std::int32_t zero = setup.zero_stage;
  const double dense_bytes = pc.non_expert() / static_cast<double>(mp) * grad_bytes;
  const double expert_bytes = m.is_moe() ? pc.experts / static_cast<double>(layout.ep * layout.expert_tp()) * grad_bytes : 0.0;
  if (zero == 0) {
    if (layout.dp > 1) {
      grad_comm += std::max(by_device(dense_bytes, layout.dp),
                            exact(sim::CollectiveOp::all_reduce, layout.dp_groups().front(), dense_bytes));
    }
    if (m.is_moe() && layout.replicas() > 1) {
      grad_comm += std::max(by_device(expert_bytes, layout.replicas()),
                            exact(sim::CollectiveOp::all_reduce, layout.expert_replica_groups().front(), expert_bytes));
    }
    chain_grads = grad_comm;
  } else {
    // ZeRO (workloads/step_builder.hpp): a reduce-scatter and an all-gather of each kind's bytes B
    // over its group; stage 2 reduce-scatters every micro-batch; stage 3 reduce-scatters every
    // micro-batch and all-gathers the parameters before each forward and backward pass
    // (2 x micro-batches), layer by layer. Each is priced as max(line rate, the cache's duration
    // of the whole B): a pass split into layers or buckets of b_i <= B, sum b_i = B, takes at
    // least the duration of B when the time per byte does not grow with the size (true of a
    // fixed transfer graph, latency + bytes / rate, and of the fastest of several such, as the
    // executor picks). Stage 3's collectives (and any on a second stream) run on a stream of
    // their own: they count against the step as max(the other stream, theirs), not added.
    // On the chain: stages 1 and 2 all-gather after the update, which waits for all compute.
    const double mb = static_cast<double>(setup.micro_batches);
    const double scatters = zero >= 2 ? mb : 1.0;
    const double gathers = zero >= 3 ? 2.0 * mb : 1.0;
    // Device 0's groups (copies: the layout returns its groups by value).
    const std::vector<std::int32_t> dp_group = layout.dp > 1 ? layout.dp_groups().front() : std::vector<std::int32_t>{};
    const std::vector<std::int32_t> xr_group =
        m.is_moe() && layout.replicas() > 1 ? layout.expert_replica_groups().front() : std::vector<std::int32_t>{};
    double zero_comm = 0.0;
    for (const auto& [bytes, group] : {std::pair{dense_bytes, &dp_group}, std::pair{expert_bytes, &xr_group}}) {
      const auto n = static_cast<std::int64_t>(group->size());
      if (bytes <= 0.0 || n <= 1) continue;
      const double rs = std::max(by_device(bytes, n), exact(sim::CollectiveOp::reduce_scatter, *group, bytes));
      const double ag = std::max(by_device(bytes, n), exact(sim::CollectiveOp::all_gather, *group, bytes));
      zero_comm += scatters * rs + gathers * ag;
      if (zero <= 2) chain_grads += ag;
    }
    const bool own_stream = zero >= 3 || setup.grad_sync.separate_stream;
    if (own_stream) {
      comm = std::max(comm, zero_comm);
    } else {
      grad_comm = zero_comm;
    }
  }
  {
    OpShape update;
    update.kind = OpKind::optimizer;
    const double dense_local = pc.non_expert() / static_cast<double>(mp);
    const double expert_local = pc.experts / static_cast<double>(layout.ep * layout.expert_tp());
    const double local = zero >= 1 ? workloads::shard_elements(dense_local, layout.dp) +
                                         workloads::shard_elements(expert_local, m.is_moe() ? layout.replicas() : 1)
                                   : dense_local + expert_local;
    update.bytes = static_cast<std::int64_t>(local * (setup.optimizer == workloads::Optimizer::adam ? 28.0 : 12.0));
    b.compute_s += predict(update);
  }
  const double grads = grad_comm;
  comm += grads;
  b.communication_s = comm;
  b.chain_s = b.compute_s + forward_comm + chain_grads;
  return b;
}

}  // namespace switchsim::planner
