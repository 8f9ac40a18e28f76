#include "workloads/step_builder.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "workloads/backward_shapes.hpp"
#include "workloads/decoder_layer.hpp"
#include "workloads/layer_dims.hpp"
#include "workloads/layer_routing.hpp"
#include "workloads/moe_layer.hpp"

namespace switchsim::workloads {
namespace {

using kernels::matmul;
using kernels::memory_op;
using kernels::OpKind;
using kernels::OpShape;
using sim::ByteMatrix;
using sim::CollectiveOp;
using sim::OpId;

// How a forward op's backward pass is priced: weighted (dgrad + wgrad, each the forward's shape),
// doubled (one op of twice the batch), same (the forward's shape), once (its own `bwd_shape`).
enum class Backward : std::uint8_t { weighted, doubled, same, once };

// One forward op of a layer, replayed for the backward pass.
struct Item {
  bool collective = false;
  std::string name;
  OpShape shape;
  std::vector<OpShape> member_shapes;
  Backward backward = Backward::same;
  OpShape bwd_shape;                       // Backward::once
  std::vector<OpShape> bwd_member_shapes;  // Backward::once, per member (or empty)
  sim::PartitionId partition = 0;
  CollectiveOp op = CollectiveOp::all_reduce;
  double bytes = 0.0;
  std::vector<std::shared_ptr<const ByteMatrix>> matrices;      // forward
  std::vector<std::shared_ptr<const ByteMatrix>> matrices_bwd;  // backward (transposes)
};

struct Layer {
  std::string name;
  std::vector<Item> items;
};

Item compute(std::string name, const OpShape& shape, Backward backward) {
  Item it;
  it.name = std::move(name);
  it.shape = shape;
  it.backward = backward;
  return it;
}

Item collective(std::string name, sim::PartitionId partition, CollectiveOp op, double bytes) {
  Item it;
  it.collective = true;
  it.name = std::move(name);
  it.partition = partition;
  it.op = op;
  it.bytes = bytes;
  return it;
}

// Gradient buckets of one parameter kind over its data-parallel partition
// (training.hpp, GradSync::bucketed): gradients join the open bucket in the
// order the backward pass produces them; a bucket is all-reduced, depending on
// the wgrad ops that filled it, once it holds bucket_bytes.
class GradBuckets {
 public:
  GradBuckets(sim::OpGraph& graph, sim::PartitionId partition, std::string name, double bytes_per_weight,
              double bucket_bytes, std::uint8_t stream)
      : g_(graph),
        partition_(partition),
        name_(std::move(name)),
        bytes_per_weight_(bytes_per_weight),
        bucket_bytes_(bucket_bytes),
        stream_(stream) {}

  void add(double weights, OpId wgrad) {
    bytes_ += weights * bytes_per_weight_;
    deps_.push_back(wgrad);
    if (bytes_ >= bucket_bytes_) flush();
  }
  void flush() {
    if (deps_.empty()) return;
    const OpId id = g_.add_collective("grads." + name_ + std::to_string(emitted_.size()), "grads", partition_,
                                      CollectiveOp::all_reduce, bytes_, deps_);
    g_.op(id).comm_stream = stream_;
    emitted_.push_back(id);
    bytes_ = 0.0;
    deps_.clear();
  }
  [[nodiscard]] const std::vector<OpId>& emitted() const { return emitted_; }

 private:
  sim::OpGraph& g_;
  sim::PartitionId partition_;
  std::string name_;
  double bytes_per_weight_;
  double bucket_bytes_;
  std::uint8_t stream_;
  double bytes_ = 0.0;
  std::vector<OpId> deps_;
  std::vector<OpId> emitted_;
};

// Weights (elements) of a weighted op: batch x k x n; batched matmuls are expert weights.
double weights_of(const OpShape& shape) {
  return static_cast<double>(shape.batch) * static_cast<double>(shape.k) * static_cast<double>(shape.n);
}
bool is_expert_weight(const OpShape& shape) { return shape.kind == OpKind::batched_matmul; }

class Emitter {
 public:
  explicit Emitter(sim::OpGraph& graph) : g_(graph), all_(graph.add_all_devices()) {}

  // `shape_of` (dgrad_shape / wgrad_shape, workloads/backward_shapes.hpp) maps the
  // forward shape to the backward product's; null keeps it.
  OpId emit(const Item& it, const std::string& layer, const std::string& suffix, bool backward,
            std::int64_t batch_mult, std::vector<OpId> deps, OpShape (*shape_of)(const OpShape&) = nullptr) {
    OpId id = 0;
    if (it.collective) {
      id = g_.add_collective(layer + "." + it.name + suffix, layer, it.partition, it.op, it.bytes, std::move(deps));
      g_.op(id).matrices = backward ? it.matrices_bwd : it.matrices;
    } else {
      // Backward::once items carry their own backward shapes (moe_layer.hpp); dgrad and wgrad
      // map the forward shape through `shape_of`.
      const bool own_backward = backward && it.backward == Backward::once;
      OpShape s = own_backward ? it.bwd_shape : (shape_of != nullptr ? shape_of(it.shape) : it.shape);
      s.batch *= batch_mult;
      id = g_.add_compute(layer + "." + it.name + suffix, layer, all_, s, std::move(deps));
      const std::vector<OpShape>& members = own_backward ? it.bwd_member_shapes : it.member_shapes;
      if (!members.empty()) {
        auto& ms = g_.op(id).member_shapes;
        ms = members;
        for (auto& x : ms) {
          if (shape_of != nullptr && !own_backward) x = shape_of(x);
          x.batch *= batch_mult;
        }
      }
      last_compute_ = id;
    }
    return id;
  }

  void forward(const Layer& layer) {
    for (const Item& it : layer.items) chain_ = emit(it, layer.name, ".fwd", false, 1, chain_deps());
  }

  // With buckets (the last micro-batch under bucketed sync), each wgrad feeds
  // the dense or the expert bucket.
  void backward(const Layer& layer, GradBuckets* dense = nullptr, GradBuckets* expert = nullptr) {
    for (auto it = layer.items.rbegin(); it != layer.items.rend(); ++it) {
      if (it->collective) {
        chain_ = emit(*it, layer.name, ".bwd", true, 1, chain_deps());
      } else if (it->backward == Backward::weighted) {
        const std::vector<OpId> deps = chain_deps();
        const OpId dgrad = emit(*it, layer.name, ".dgrad", true, 1, deps, &dgrad_shape);
        const OpId wgrad = emit(*it, layer.name, ".wgrad", true, 1, deps, &wgrad_shape);
        GradBuckets* bucket = is_expert_weight(it->shape) ? expert : dense;
        if (bucket != nullptr) bucket->add(weights_of(it->shape), wgrad);
        chain_ = dgrad;
      } else {
        chain_ = emit(*it, layer.name, ".bwd", true, it->backward == Backward::doubled ? 2 : 1, chain_deps());
      }
    }
  }

  [[nodiscard]] std::vector<OpId> chain_deps() const { return chain_ >= 0 ? std::vector<OpId>{chain_} : std::vector<OpId>{}; }
  [[nodiscard]] std::vector<OpId> all_done() const {
    std::vector<OpId> d = chain_deps();
    if (last_compute_ >= 0 && last_compute_ != chain_) d.push_back(last_compute_);
    return d;
  }
  OpId& chain() { return chain_; }
  [[nodiscard]] sim::DeviceSetId all() const { return all_; }

 private:
  sim::OpGraph& g_;
  sim::DeviceSetId all_;
  OpId chain_ = -1;
  OpId last_compute_ = -1;
};

}  // namespace

BuiltStep build_step(const Model& m, const Layout& layout, const TrainingSetup& setup, const StepShape& shape,
                     const RoutingOptions& ro, std::int32_t num_devices) {
  SWITCHSIM_ASSERT(layout.devices() == num_devices, "layout validated against the mesh first");
  BuiltStep out;
  out.graph = sim::OpGraph(num_devices);
  sim::OpGraph& g = out.graph;
  Emitter em(g);

  const double a = setup.activation_bytes();
  // Short names for the per-device dimensions (workloads/layer_dims.hpp).
  const LayerDims dims = layer_dims(m, layout, shape);
  const std::int64_t d = dims.d_model, mp = dims.mp, inner = dims.inner, heads = dims.heads, dff = dims.d_ff;
  const std::int64_t nm = dims.ffn_matrices, seqs = dims.sequences, T_enc = dims.encoder_tokens;
  const std::int64_t T_dec = dims.decoder_tokens, groups = dims.groups, E = dims.experts;
  const bool moe = m.is_moe();
  const MoeImpl impl = setup.moe_impl;
  SWITCHSIM_ASSERT(!moe || impl != MoeImpl::automatic, "the MoE implementation is resolved before building (simulate.cpp)");

  const sim::PartitionId mp_part = mp > 1 ? g.add_partition(layout.mp_groups()) : -1;
  const sim::PartitionId ep_part = moe && layout.ep > 1 ? g.add_partition(layout.ep_groups()) : -1;

  if (moe) {
    out.encoder_capacity = expert_capacity(ro.capacity_factor, m.top_k, shape.group_tokens, E);
    if (m.decoder_layers > 0) out.decoder_capacity = expert_capacity(ro.capacity_factor, m.top_k, shape.decoder_group_tokens, E);
  }

  // Inverse of layout.device(): coordinates of each device id.
  std::vector<std::int64_t> rep_of(static_cast<std::size_t>(num_devices));
  std::vector<std::int64_t> ep_of(static_cast<std::size_t>(num_devices));
  for (std::int64_t r = 0; r < layout.replicas(); ++r)
    for (std::int64_t e = 0; e < layout.ep; ++e)
      for (std::int64_t k = 0; k < mp; ++k) {
        const auto id = static_cast<std::size_t>(layout.device(r, e, k));
        rep_of[id] = r;
        ep_of[id] = e;
      }

  auto mp_reduce = [&](std::vector<Item>& items, const std::string& name, double tokens) {
    if (mp > 1) items.push_back(collective(name, mp_part, CollectiveOp::all_reduce, tokens * static_cast<double>(d) * a));
  };
  auto attention_block = [&](std::vector<Item>& items, const std::string& p, std::int64_t T, std::int64_t Lq,
                             std::int64_t Lk, bool cross) {
    items.push_back(compute(p + ".norm", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T * d) * a), Backward::same));
    if (cross) {
      items.push_back(compute(p + ".q", matmul(T, d, inner), Backward::weighted));
      items.push_back(compute(p + ".kv", matmul(seqs * m.input_length, d, 2 * inner), Backward::weighted));
    } else {
      items.push_back(compute(p + ".qkv", matmul(T, d, 3 * inner), Backward::weighted));
    }
    items.push_back(compute(p + ".attention", matmul(Lq, m.d_kv, Lk, seqs * heads, OpKind::attention), Backward::doubled));
    items.push_back(compute(p + ".out", matmul(T, inner, d), Backward::weighted));
    mp_reduce(items, p + ".allreduce", static_cast<double>(T));
    items.push_back(compute(p + ".residual", memory_op(OpKind::elementwise, 3.0 * static_cast<double>(T * d) * a), Backward::same));
  };
  // Decoder-only self-attention (workloads/decoder_layer.hpp): causal, each of the L queries priced
  // against causal_keys(L) keys (model.hpp), K/V with kv_heads heads (gqa) or MLA's projections.
  auto causal_attention = [&](std::vector<Item>& items, const std::string& p, std::int64_t T) {
    items.push_back(compute(p + ".norm", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T * d) * a), Backward::same));
    for (const Projection& x : attention_in_projections(m, mp)) {
      items.push_back(compute(p + "." + x.name, matmul(T, x.in, x.out), Backward::weighted));
    }
    const std::int64_t L = m.input_length;
    items.push_back(compute(p + ".attention", matmul(L, attention_op_dim(m), causal_keys(L), seqs * heads, OpKind::attention),
                            Backward::doubled));
    const Projection o = attention_out_projection(m, mp);
    items.push_back(compute(p + ".out", matmul(T, o.in, o.out), Backward::weighted));
    mp_reduce(items, p + ".allreduce", static_cast<double>(T));
    items.push_back(compute(p + ".residual", memory_op(OpKind::elementwise, 3.0 * static_cast<double>(T * d) * a), Backward::same));
  };
  auto dense_ffn = [&](std::vector<Item>& items, const std::string& p, std::int64_t T) {
    items.push_back(compute(p + ".norm", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T * d) * a), Backward::same));
    items.push_back(compute(p + ".wi", matmul(T, d, (nm - 1) * dff), Backward::weighted));
    items.push_back(compute(p + ".act", memory_op(OpKind::elementwise, static_cast<double>(nm * T * dff) * a), Backward::same));
    items.push_back(compute(p + ".wo", matmul(T, dff, d), Backward::weighted));
    mp_reduce(items, p + ".allreduce", static_cast<double>(T));
    items.push_back(compute(p + ".residual", memory_op(OpKind::elementwise, 3.0 * static_cast<double>(T * d) * a), Backward::same));
  };
  // A MoE op of moe_layer.hpp as a layer item ("switch." + its name).
  auto moe_item = [](const std::string& p, const MoeOp& op) {
    if (op.weighted) return compute(p + "." + op.name, op.forward, Backward::weighted);
    Item it = compute(p + "." + op.name, op.forward, Backward::once);
    it.bwd_shape = op.backward;
    return it;
  };
  auto switch_ffn = [&](std::vector<Item>& items, const std::string& p, std::int64_t T, std::int64_t G,
                        std::int64_t layer_groups, std::int64_t C, std::uint64_t stream, bool decoder) {
    const MoeLayerDims md = moe_layer_dims(impl, m, layout, dims, T, G, layer_groups, C, a);
    const bool uneven = md.uneven();
    LayerRouting lr = route_layer(m, layout, G, layer_groups, C, ro, stream, static_cast<double>(d) * a, uneven);
    (decoder ? out.decoder_drops : out.encoder_drops).assignments += lr.drops.assignments;
    (decoder ? out.decoder_drops : out.encoder_drops).dropped += lr.drops.dropped;
    const double padded = md.padded_slots();  // slots per device, padded buffers
    const double busiest = *std::max_element(lr.received.begin(), lr.received.end());
    double mean = 0.0;
    for (double x : lr.received) mean += x;
    mean /= static_cast<double>(lr.received.size());
    if (mean > 0.0) out.max_expert_load_ratio = std::max(out.max_expert_load_ratio, busiest / mean);
    double& recv_slot = decoder ? out.decoder_received_slots : out.encoder_received_slots;
    recv_slot = std::max(recv_slot, uneven ? busiest : padded);

    items.push_back(compute(p + ".norm", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T * d) * a), Backward::same));
    OpShape router = matmul(T, d, E, 1, OpKind::router);
    router.precision = kernels::Precision::fp32;
    items.push_back(compute(p + ".router", router, Backward::weighted));
    if (dims.shared_d_ff > 0) {
      // Shared experts (decoder-only): one dense FFN of shared_experts x expert_d_ff on every local
      // token, no all-to-all; its partial sums join the mp all-reduce of their own.
      const std::int64_t sff = dims.shared_d_ff;
      items.push_back(compute(p + ".shared_wi", matmul(T, d, (nm - 1) * sff), Backward::weighted));
      items.push_back(compute(p + ".shared_act", memory_op(OpKind::elementwise, static_cast<double>(nm * T * sff) * a), Backward::same));
      items.push_back(compute(p + ".shared_wo", matmul(T, sff, d), Backward::weighted));
      mp_reduce(items, p + ".shared_allreduce", static_cast<double>(T));
    }
    for (const MoeOp& op : moe_dispatch_ops(md)) items.push_back(moe_item(p, op));
    Item a2a;
    if (ep_part >= 0) {
      a2a = collective(p + ".dispatch_a2a", ep_part, CollectiveOp::all_to_all,
                       uneven ? 0.0 : padded * static_cast<double>(d) * a);
      if (uneven) {
        // One matrix per replica (the forward dispatch), shared by its mp groups (ep_groups(): for rep,
        // for m); the combine and the backward dispatch send the transpose.
        std::vector<std::shared_ptr<const ByteMatrix>> fwd, bwd;
        for (ByteMatrix& sent : lr.sent) {
          auto mf = std::make_shared<const ByteMatrix>(std::move(sent));
          auto mb = std::make_shared<const ByteMatrix>(mf->transposed());
          for (std::int64_t k = 0; k < mp; ++k) {
            fwd.push_back(mf);
            bwd.push_back(mb);
          }
        }
        a2a.matrices = std::move(fwd);
        a2a.matrices_bwd = std::move(bwd);
      }
      items.push_back(a2a);
    }
    // Expert side: padded rows on every device, or each device's own received load.
    if (uneven) {
      std::vector<MoeOp> base = moe_expert_ops(md, static_cast<std::int64_t>(mean));
      std::vector<Item> expert_items;
      for (const MoeOp& op : base) expert_items.push_back(moe_item(p, op));
      for (std::int32_t dev = 0; dev < num_devices; ++dev) {
        const double recv = lr.received[static_cast<std::size_t>(rep_of[static_cast<std::size_t>(dev)] * layout.ep + ep_of[static_cast<std::size_t>(dev)])];
        const std::vector<MoeOp> mine = moe_expert_ops(md, static_cast<std::int64_t>(recv));
        SWITCHSIM_ASSERT(mine.size() == expert_items.size(), "the same expert ops on every device");
        for (std::size_t i = 0; i < mine.size(); ++i) {
          expert_items[i].member_shapes.push_back(mine[i].forward);
          if (expert_items[i].backward == Backward::once) expert_items[i].bwd_member_shapes.push_back(mine[i].backward);
        }
      }
      items.insert(items.end(), expert_items.begin(), expert_items.end());
    } else {
      for (const MoeOp& op : moe_expert_ops(md, static_cast<std::int64_t>(padded))) items.push_back(moe_item(p, op));
    }
    mp_reduce(items, p + ".expert_allreduce", uneven ? mean : padded);
    if (ep_part >= 0) {
      Item back = a2a;
      back.name = p + ".combine_a2a";
      std::swap(back.matrices, back.matrices_bwd);
      items.push_back(back);
    }
    for (const MoeOp& op : moe_combine_ops(md)) items.push_back(moe_item(p, op));
    items.push_back(compute(p + ".residual", memory_op(OpKind::elementwise, 3.0 * static_cast<double>(T * d) * a), Backward::same));
  };

  // Gradient sync (training.hpp): local gradient bytes per parameter kind.
  const ParamCount pc = count_params(m);
  const bool adam = setup.optimizer == Optimizer::adam;
  const double grad_bytes = adam ? 2.0 : 4.0;
  const double dense_local = pc.non_expert() / static_cast<double>(mp);
  const double expert_local = pc.experts / static_cast<double>(layout.ep * mp);
  const sim::PartitionId dp_part = layout.dp > 1 ? g.add_partition(layout.dp_groups()) : -1;
  const sim::PartitionId xr_part = moe && layout.replicas() > 1 ? g.add_partition(layout.expert_replica_groups()) : -1;
  const bool bucketed = setup.grad_sync.kind == GradSyncKind::bucketed;
  const std::uint8_t grad_stream = setup.grad_sync.separate_stream ? 1 : 0;
  std::unique_ptr<GradBuckets> dense_buckets, expert_buckets;

  std::uint64_t stream = 0;
  // Layer i's FFN: a Switch layer (one routing stream each) or a dense one.
  auto layer_ffn = [&](std::vector<Item>& items, std::int64_t i, std::int64_t T, std::int64_t G,
                       std::int64_t layer_groups, std::int64_t C, bool decoder) {
    if (m.is_switch_layer(i)) {
      switch_ffn(items, "switch", T, G, layer_groups, C, stream++, decoder);
    } else {
      dense_ffn(items, "ffn", T);
    }
  };
  // The output layer (vocabulary split over mp) and the fp32 loss over T tokens.
  auto lm_head = [&](const std::string& tag, std::int64_t T) {
    Layer head{tag + "lm_head", {}};
    head.items.push_back(compute("logits", matmul(T, d, m.vocab / mp), Backward::weighted));
    head.items.push_back(compute(
        "loss", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T) * static_cast<double>(m.vocab / mp) * 4.0),
        Backward::same));
    return head;
  };
  for (std::int64_t mb = 0; mb < setup.micro_batches; ++mb) {
    const std::string tag = setup.micro_batches > 1 ? "mb" + std::to_string(mb) + "." : "";
    std::vector<Layer> layers;
    if (m.decoder_only()) {
      // One causal stack over T_enc tokens (model.hpp: decoder-only models live in the encoder
      // fields), then the LM head on every token.
      layers.push_back({tag + "embed", {compute("lookup", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_enc * d) * a), Backward::same)}});
      for (std::int64_t i = 0; i < m.encoder_layers; ++i) {
        Layer L{tag + "layer" + std::to_string(i), {}};
        causal_attention(L.items, "self", T_enc);
        layer_ffn(L.items, i, T_enc, shape.group_tokens, groups, out.encoder_capacity, false);
        layers.push_back(std::move(L));
      }
      layers.push_back(lm_head(tag, T_enc));
    } else {
      layers.push_back({tag + "enc.embed", {compute("lookup", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_enc * d) * a), Backward::same)}});
      for (std::int64_t i = 0; i < m.encoder_layers; ++i) {
        Layer L{tag + "enc" + std::to_string(i), {}};
        attention_block(L.items, "self", T_enc, m.input_length, m.input_length, false);
        layer_ffn(L.items, i, T_enc, shape.group_tokens, groups, out.encoder_capacity, false);
        layers.push_back(std::move(L));
      }
      layers.push_back({tag + "dec.embed", {compute("lookup", memory_op(OpKind::elementwise, 2.0 * static_cast<double>(T_dec * d) * a), Backward::same)}});
      for (std::int64_t i = 0; i < m.decoder_layers; ++i) {
        Layer L{tag + "dec" + std::to_string(i), {}};
        attention_block(L.items, "self", T_dec, m.target_length, m.target_length, false);
        attention_block(L.items, "cross", T_dec, m.target_length, m.input_length, true);
        layer_ffn(L.items, i, T_dec, shape.decoder_group_tokens, dims.decoder_groups, out.decoder_capacity, true);
        layers.push_back(std::move(L));
      }
      layers.push_back(lm_head(tag, T_dec));
    }

    for (const Layer& L : layers) em.forward(L);
    if (bucketed && mb + 1 == setup.micro_batches) {
      // Bucket bytes per weight: the layers' weight elements carry the local parameter
      // bytes of their kind (norms, biases and embeddings included), so the buckets add
      // up exactly to the fused all-reduces.
      double dense_weights = 0.0, expert_weights = 0.0;
      for (const Layer& L : layers) {
        for (const Item& it : L.items) {
          if (it.collective || it.backward != Backward::weighted) continue;
          (is_expert_weight(it.shape) ? expert_weights : dense_weights) += weights_of(it.shape);
        }
      }
      if (dp_part >= 0 && dense_weights > 0.0) {
        dense_buckets = std::make_unique<GradBuckets>(g, dp_part, "dense_allreduce", dense_local * grad_bytes / dense_weights,
                                                      setup.grad_sync.bucket_bytes, grad_stream);
      }
      if (xr_part >= 0 && expert_weights > 0.0) {
        expert_buckets = std::make_unique<GradBuckets>(g, xr_part, "expert_allreduce",
                                                       expert_local * grad_bytes / expert_weights,
                                                       setup.grad_sync.bucket_bytes, grad_stream);
      }
    }
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      if (setup.rematerialize) em.forward(Layer{it->name + ".remat", it->items});
      em.backward(*it, dense_buckets.get(), expert_buckets.get());
    }
  }
  out.drops.assignments = out.encoder_drops.assignments + out.decoder_drops.assignments;
  out.drops.dropped = out.encoder_drops.dropped + out.decoder_drops.dropped;

  // Gradient all-reduces (fused: after the backward pass; bucketed: the last buckets) and the optimizer.
  std::vector<OpId> before_update = em.all_done();
  if (bucketed) {
    for (GradBuckets* b : {dense_buckets.get(), expert_buckets.get()}) {
      if (b == nullptr) continue;
      b->flush();
      before_update.insert(before_update.end(), b->emitted().begin(), b->emitted().end());
    }
  } else {
    if (dp_part >= 0) {
      const OpId id = g.add_collective("grads.dense_allreduce", "grads", dp_part, CollectiveOp::all_reduce,
                                       dense_local * grad_bytes, em.all_done());
      g.op(id).comm_stream = grad_stream;
      before_update.push_back(id);
    }
    if (xr_part >= 0) {
      const OpId id = g.add_collective("grads.expert_allreduce", "grads", xr_part, CollectiveOp::all_reduce,
                                       expert_local * grad_bytes, em.all_done());
      g.op(id).comm_stream = grad_stream;
      before_update.push_back(id);
    }
  }
  // Update: adafactor reads fp32 parameter and gradient, writes the parameter (12 B/param);
  // adam reads bf16 gradient and fp32 master + 2 moments, writes them and the bf16 copy (28 B/param).
  const double update_bytes = (dense_local + expert_local) * (adam ? 28.0 : 12.0);
  (void)g.add_compute("optimizer.update", "optimizer", em.all(), memory_op(OpKind::optimizer, update_bytes), before_update);
  return out;
}

}  // namespace switchsim::workloads
