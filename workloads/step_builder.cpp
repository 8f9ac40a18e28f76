#include "workloads/step_builder.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/errors.hpp"
#include "workloads/backward_shapes.hpp"
#include "workloads/decoder_layer.hpp"
#include "workloads/expert_tensor_parallel.hpp"
#include "workloads/fp8.hpp"
#include "workloads/layer_dims.hpp"
#include "workloads/layer_routing.hpp"
#include "workloads/moe_layer.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "workloads/routing_memo.hpp"
#include "workloads/zero_sharding.hpp"

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
  double bwd_bytes = -1.0;  // the backward collective's bytes; < 0: the same as forward
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
              double bucket_bytes, std::uint8_t stream, CollectiveOp op = CollectiveOp::all_reduce)
      : g_(graph),
        partition_(partition),
        name_(std::move(name)),
        bytes_per_weight_(bytes_per_weight),
        bucket_bytes_(bucket_bytes),
        stream_(stream),
        op_(op) {}

  void add(double weights, OpId wgrad) {
    bytes_ += weights * bytes_per_weight_;
    deps_.push_back(wgrad);
    if (bytes_ >= bucket_bytes_) flush();
  }
  void flush() {
    if (deps_.empty()) return;
    const OpId id =
        g_.add_collective("grads." + name_ + std::to_string(emitted_.size()), "grads", partition_, op_, bytes_, deps_);
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
  CollectiveOp op_;
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
      const double bytes = backward && it.bwd_bytes >= 0.0 ? it.bwd_bytes : it.bytes;
      const sim::PartitionId part = parts_ != nullptr ? (*parts_)[static_cast<std::size_t>(it.partition)] : it.partition;
      id = g_.add_collective(layer + "." + it.name + suffix, layer, part, it.op, bytes, std::move(deps));
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
    for (const Item& it : layer.items) chain_ = emit(it, layer.name, ".fwd", false, 1, take_deps());
  }

  // With buckets (the last micro-batch under bucketed sync), each wgrad feeds
  // the dense or the expert bucket.
  void backward(const Layer& layer, GradBuckets* dense = nullptr, GradBuckets* expert = nullptr) {
    for (auto it = layer.items.rbegin(); it != layer.items.rend(); ++it) {
      if (it->collective) {
        chain_ = emit(*it, layer.name, ".bwd", true, 1, take_deps());
      } else if (it->backward == Backward::weighted) {
        const std::vector<OpId> deps = take_deps();
        const OpId dgrad = emit(*it, layer.name, ".dgrad", true, 1, deps, &dgrad_shape);
        const OpId wgrad = emit(*it, layer.name, ".wgrad", true, 1, deps, &wgrad_shape);
        GradBuckets* bucket = is_expert_weight(it->shape) ? expert : dense;
        if (bucket != nullptr) bucket->add(weights_of(it->shape), wgrad);
        chain_ = dgrad;
      } else {
        chain_ = emit(*it, layer.name, ".bwd", true, it->backward == Backward::doubled ? 2 : 1, take_deps());
      }
    }
  }

  [[nodiscard]] std::vector<OpId> chain_deps() const { return chain_ >= 0 ? std::vector<OpId>{chain_} : std::vector<OpId>{}; }
  // The next emitted op also waits for `ops` (--zero 3: the gathered parameters of its layer).
  void wait_for(const std::vector<OpId>& ops) { pending_.insert(pending_.end(), ops.begin(), ops.end()); }
  std::vector<OpId> take_deps() {
    std::vector<OpId> d = chain_deps();
    d.insert(d.end(), pending_.begin(), pending_.end());
    pending_.clear();
    return d;
  }
  [[nodiscard]] std::vector<OpId> all_done() const {
    std::vector<OpId> d = chain_deps();
    if (last_compute_ >= 0 && last_compute_ != chain_) d.push_back(last_compute_);
    return d;
  }
  OpId& chain() { return chain_; }
  [[nodiscard]] sim::DeviceSetId all() const { return all_; }
  // Pipeline stages: compute ops run on `devices`; items' partitions (built for stage 0) map
  // through `partitions` (indexed by stage 0's partition id) to the stage's own.
  void set_stage(sim::DeviceSetId devices, const std::vector<sim::PartitionId>* partitions) {
    all_ = devices;
    parts_ = partitions;
  }

 private:
  sim::OpGraph& g_;
  sim::DeviceSetId all_;
  const std::vector<sim::PartitionId>* parts_ = nullptr;
  OpId chain_ = -1;
  OpId last_compute_ = -1;
  std::vector<OpId> pending_;
};

// Where each layer of one micro-batch's list sits in the pipeline's layer sequence (layout.hpp,
// pipeline_layers): decoder-only [embed, layer 0 .. L-1, lm_head]; encoder-decoder [enc.embed,
// enc 0 .. E-1, dec.embed, dec 0 .. D-1, lm_head]. Embeddings go with the layer after them, the
// LM head with the last layer.
std::vector<std::int64_t> pipeline_positions(const Model& m) {
  std::vector<std::int64_t> pos{0};
  for (std::int64_t i = 0; i < m.encoder_layers; ++i) pos.push_back(i);
  if (!m.decoder_only()) {
    pos.push_back(m.encoder_layers);
    for (std::int64_t i = 0; i < m.decoder_layers; ++i) pos.push_back(m.encoder_layers + i);
  }
  pos.push_back(pipeline_layers(m) - 1);
  return pos;
}

// Weight elements of one kind in a layer (the pipeline's ZeRO-3 per-layer collectives).
double layer_weight_elements(const Layer& L, bool expert) {
  double w = 0.0;
  for (const Item& it : L.items)
    if (!it.collective && it.backward == Backward::weighted && is_expert_weight(it.shape) == expert) w += weights_of(it.shape);
  return w;
}

// "s3" (built by appending: g++ 12 warns -Wrestrict, falsely, on "literal" + std::string&&).
std::string stage_tag(std::int64_t stage) {
  std::string t = "s";
  t += std::to_string(stage);
  return t;
}

// Pipeline parallelism (layout.pp > 1). Model chunk j (of pp x vpp, consecutive blocks of the layer
// sequence: layout.hpp, chunk_first_layer) runs on stage j mod pp, on that stage's devices, with
// that stage's mp / ep groups. Each stage issues its actions in its schedule's order
// (pipeline_schedule.hpp); a forward of chunk j > 0 waits for the activation send from chunk j - 1,
// a backward of chunk j < last for the gradient send from chunk j + 1, the last chunk's backward
// for its own forward (the loss). A send is a point-to-point transfer between the devices with the
// same (rep, e, m) on the two stages, on streams of their own (below; Megatron's p2p sends run on
// their own communicator; the mp / ep collectives keep stream 0). A send starts when its data is
// ready: the receiver is taken to have posted its receive (Megatron posts them ahead). It moves the local activations:
// T_enc x d_model elements, plus T_dec x d_model once the decoder has started (an encoder-decoder
// pipeline passes the encoder output along for the cross-attention, as Megatron's T5 pipeline does);
// each mp rank sends its full copy. Gradient sync per stage, over the stage's dp group (and expert
// replicas), after its last backward (fused) or in buckets during the last micro-batch's backward;
// the stage's gradient bytes and optimizer update are the model's per device, times the stage's
// share of the weighted products' weights (engineering assumption: norms and embedding tables
// follow that share rather than sitting on their own stage); then each stage's optimizer update.
// With --zero the sync is sharded per stage (below, "ZeRO per stage"; docs/workloads.md).
void emit_pipeline(sim::OpGraph& g, Emitter& em, const Model& m, const Layout& layout, const TrainingSetup& setup,
                   const std::vector<std::vector<Layer>>& mbs, const std::vector<sim::PartitionId>& stage0_parts,
                   const std::pair<double, double>& grad_bytes, double update_per_grad_byte,
                   double enc_bytes, double dec_bytes, double param_bytes) {
  const std::int64_t pp = layout.pp, vpp = layout.vpp, chunks = pp * vpp;
  const std::int64_t M = static_cast<std::int64_t>(mbs.size());
  const std::int64_t L = pipeline_layers(m);
  const std::vector<std::int64_t> pos = pipeline_positions(m);
  SWITCHSIM_ASSERT(!mbs.empty() && mbs.front().size() == pos.size(), "one position per layer");
  // Layers (indices into a micro-batch's list) of each model chunk, in forward order.
  std::vector<std::vector<std::size_t>> chunk_layers(static_cast<std::size_t>(chunks));
  std::int64_t c = 0;
  for (std::size_t i = 0; i < pos.size(); ++i) {
    while (pos[i] >= chunk_first_layer(L, chunks, c + 1)) ++c;
    chunk_layers[static_cast<std::size_t>(c)].push_back(i);
  }
  // Per stage: devices, partitions (stage 0's ids mapped), dp / expert-replica partitions, weights.
  sim::PartitionId max_part = -1;
  for (sim::PartitionId p : stage0_parts) max_part = std::max(max_part, p);
  std::vector<sim::DeviceSetId> stage_set;
  std::vector<std::vector<sim::PartitionId>> maps;
  std::vector<sim::PartitionId> dp_part, xr_part, pair_part;
  for (std::int64_t s = 0; s < pp; ++s) {
    stage_set.push_back(g.add_device_set(layout.stage_members(s)));
    auto& map = maps.emplace_back(static_cast<std::size_t>(max_part + 1), -1);
    if (stage0_parts[0] >= 0) map[static_cast<std::size_t>(stage0_parts[0])] = g.add_partition(layout.mp_groups(s));
    if (stage0_parts[1] >= 0) map[static_cast<std::size_t>(stage0_parts[1])] = g.add_partition(layout.ep_groups(s));
    if (stage0_parts[2] >= 0) map[static_cast<std::size_t>(stage0_parts[2])] = g.add_partition(layout.etp_groups(s));
    if (stage0_parts[3] >= 0) map[static_cast<std::size_t>(stage0_parts[3])] = g.add_partition(layout.token_slice_groups(s));
    dp_part.push_back(layout.dp > 1 ? g.add_partition(layout.dp_groups(s)) : -1);
    xr_part.push_back(m.is_moe() && layout.replicas() > 1 ? g.add_partition(layout.expert_replica_groups(s)) : -1);
    // Stage s -> the next (stage pp - 1 -> 0 only with virtual stages: chunk j -> j + 1 wraps).
    pair_part.push_back(s + 1 < pp || vpp > 1 ? g.add_partition(layout.stage_pairs(s, (s + 1) % pp)) : -1);
  }
  std::vector<double> dense_w(static_cast<std::size_t>(pp), 0.0), expert_w(static_cast<std::size_t>(pp), 0.0);
  std::vector<double> chunk_dense_w(static_cast<std::size_t>(chunks), 0.0), chunk_expert_w(chunk_dense_w);
  double dense_total = 0.0, expert_total = 0.0;
  for (std::int64_t j = 0; j < chunks; ++j) {
    for (std::size_t li : chunk_layers[static_cast<std::size_t>(j)]) {
      for (const Item& it : mbs.front()[li].items) {
        if (it.collective || it.backward != Backward::weighted) continue;
        const bool expert = is_expert_weight(it.shape);
        (expert ? expert_w : dense_w)[static_cast<std::size_t>(j % pp)] += weights_of(it.shape);
        (expert ? chunk_expert_w : chunk_dense_w)[static_cast<std::size_t>(j)] += weights_of(it.shape);
        (expert ? expert_total : dense_total) += weights_of(it.shape);
      }
    }
  }
  // ZeRO per stage (zero_sharding.hpp; docs/workloads.md, "ZeRO with pipelines"). Each stage shards
  // its own parameters over its own groups: dense over the stage's dp group, experts over the
  // stage's expert replicas; a stage's bytes of a kind are the model's local bytes times the
  // stage's (or chunk's, or layer's) share of that kind's weight elements, as above.
  //   stage 1  the stage's gradients reduce-scattered (not all-reduced) once, after its last
  //            backward (fused) or in buckets during the last micro-batch's backward; the update on
  //            the shard; the updated parameters all-gathered after it (Megatron-Core's
  //            distributed optimizer, which runs with every pipeline schedule)
  //   stage 2  a reduce-scatter after every backward action (micro-batch x chunk) of the chunk's
  //            gradients, as the pp = 1 path does per micro-batch (fused: one per kind and action;
  //            bucketed: the buckets flushed at the end of each action); update; all-gather
  //   stage 3  FSDP2 as torch.distributed.pipelining runs it (torchtitan's default for PP:
  //            reshard_after_forward = False, "to avoid per-microbatch all-gathers"; the stage's
  //            backward_maybe_with_nosync sets reshard_after_backward and requires_gradient_sync
  //            to False until the last backward): each layer's parameters are all-gathered once
  //            per step, before the first micro-batch's forward of that layer (prefetch depth 1,
  //            as the pp = 1 path), kept gathered for every micro-batch's forward and backward, and
  //            each layer's accumulated gradients reduce-scattered after its chunk's last backward;
  //            no all-gather after the update (the next step gathers). Stream 1 (FSDP's own).
  const std::int32_t zero = setup.zero_stage;
  const CollectiveOp sync_op = zero >= 1 ? CollectiveOp::reduce_scatter : CollectiveOp::all_reduce;
  const std::string sync_name = zero >= 1 ? "reduce_scatter" : "allreduce";
  const bool fsdp = zero >= 3 && (layout.dp > 1 || (m.is_moe() && layout.replicas() > 1));
  const double dense_per_weight = dense_total > 0.0 ? grad_bytes.first / dense_total : 0.0;
  const double expert_per_weight = expert_total > 0.0 ? grad_bytes.second / expert_total : 0.0;
  std::vector<std::vector<OpId>> stage_grads(static_cast<std::size_t>(pp));  // stages 2, 3: their collectives
  std::vector<std::vector<OpId>> last_gathers(static_cast<std::size_t>(pp)), before_prev(last_gathers);
  // Gradient buckets (bucketed sync) per stage, filled during the last micro-batch's backward.
  // (Stage 3: --grad-sync's buckets do not apply, each layer is its own reduce-scatter.)
  const bool bucketed = setup.grad_sync.kind == GradSyncKind::bucketed && !fsdp;
  const std::uint8_t grad_stream = setup.grad_sync.separate_stream ? 1 : 0;
  std::vector<std::unique_ptr<GradBuckets>> dense_b(static_cast<std::size_t>(pp)), expert_b(static_cast<std::size_t>(pp));
  if (bucketed) {
    for (std::int64_t s = 0; s < pp; ++s) {
      const auto k = static_cast<std::size_t>(s);
      if (dp_part[k] >= 0 && dense_total > 0.0) {
        dense_b[k] = std::make_unique<GradBuckets>(g, dp_part[k], stage_tag(s) + ".dense_" + sync_name,
                                                   grad_bytes.first / dense_total, setup.grad_sync.bucket_bytes, grad_stream,
                                                   sync_op);
      }
      if (xr_part[k] >= 0 && expert_total > 0.0) {
        expert_b[k] = std::make_unique<GradBuckets>(g, xr_part[k], stage_tag(s) + ".expert_" + sync_name,
                                                    grad_bytes.second / expert_total, setup.grad_sync.bucket_bytes,
                                                    grad_stream, sync_op);
      }
    }
  }
  // Stage 3: the all-gathers of one layer's parameters (dense over the stage's dp group, experts
  // over its expert replicas), after the stage's previous gather and `free_after`.
  auto gather = [&](std::size_t k, const Layer& layer, const std::vector<OpId>& free_after) {
    std::vector<OpId> ids;
    std::vector<OpId> deps = last_gathers[k];
    deps.insert(deps.end(), free_after.begin(), free_after.end());
    for (const auto& [part, name, per_weight, expert] : {std::tuple{dp_part[k], "dense", dense_per_weight, false},
                                                         std::tuple{xr_part[k], "expert", expert_per_weight, true}}) {
      const double bytes = layer_weight_elements(layer, expert) * per_weight;
      if (part < 0 || bytes <= 0.0) continue;
      const OpId id = g.add_collective("params." + layer.name + "." + name + "_all_gather", "params", part,
                                       CollectiveOp::all_gather, bytes, deps);
      g.op(id).comm_stream = 1;
      ids.push_back(id);
    }
    if (!ids.empty()) last_gathers[k] = ids;
    return ids;
  };
  // Stage 2 (fused) and 3: one reduce-scatter per kind of `bytes`, after `deps`, on `stream`.
  auto scatter = [&](std::size_t k, const std::string& name, double dense_bytes, double expert_bytes,
                     const std::vector<OpId>& deps, std::uint8_t stream) {
    for (const auto& [part, kind, bytes] :
         {std::tuple{dp_part[k], "dense", dense_bytes}, std::tuple{xr_part[k], "expert", expert_bytes}}) {
      if (part < 0 || bytes <= 0.0) continue;
      const OpId id = g.add_collective("grads." + name + "." + kind + "_reduce_scatter", "grads", part,
                                       CollectiveOp::reduce_scatter, bytes, deps);
      g.op(id).comm_stream = stream;
      stage_grads[k].push_back(id);
    }
  };
  // One 2 x 2 matrix per pair group: row 0 (the earlier stage) -> column 1 (forward), or back.
  auto send_matrices = [&](sim::PartitionId part, double bytes, bool back) {
    const std::vector<double> dense = back ? std::vector<double>{0.0, 0.0, bytes, 0.0} : std::vector<double>{0.0, bytes, 0.0, 0.0};
    auto mat = std::make_shared<const ByteMatrix>(ByteMatrix::from_dense(2, dense));
    return std::vector<std::shared_ptr<const ByteMatrix>>(g.partition(part).size(), mat);
  };
  auto boundary_bytes = [&](std::int64_t j) {  // activations entering model chunk j
    return enc_bytes + (chunk_first_layer(L, chunks, j) > m.encoder_layers ? dec_bytes : 0.0);
  };
  // Streams (sim/op_graph.hpp): the pair (s, s + 1 mod pp) has colour s mod 2 (2 for the pair
  // (pp - 1, 0) when pp is odd: neighbouring pairs around the ring differ); forward sends use stream
  // 2 + colour, gradient sends 5 + colour. So a device's incoming and outgoing sends of one direction
  // are on different streams, and each stream carries its sends in the order both ends run them.
  auto send = [&](const std::string& name, std::int64_t from_stage, sim::PartitionId part, double bytes, bool back,
                  OpId dep) {
    const OpId id = g.add_collective(name, "pipeline", part, CollectiveOp::all_to_all, 0.0, {dep});
    const std::int64_t colour = pp % 2 == 1 && from_stage == pp - 1 ? 2 : from_stage % 2;
    g.op(id).matrices = send_matrices(part, bytes, back);
    g.op(id).comm_stream = static_cast<std::uint8_t>((back ? 5 : 2) + colour);
    g.op(id).point_to_point = true;
    return id;
  };

  const auto at = [&](std::int64_t mb, std::int64_t j) { return static_cast<std::size_t>(mb * chunks + j); };
  std::vector<OpId> act_sent(static_cast<std::size_t>(M * chunks), -1), grad_sent(act_sent), loss(act_sent);
  std::vector<std::vector<OpId>> stage_done(static_cast<std::size_t>(pp));
  for (const PipelineStep& step : pipeline_emission_order(setup.pp_schedule, pp, vpp, M)) {
    const std::int64_t s = step.stage, mb = step.action.micro_batch;
    const std::int64_t j = model_chunk(pp, s, step.action.chunk);
    const auto k = static_cast<std::size_t>(s);
    const std::vector<Layer>& layers = mbs[static_cast<std::size_t>(mb)];
    const std::vector<std::size_t>& mine = chunk_layers[static_cast<std::size_t>(j)];
    const std::string tag = "mb" + std::to_string(mb) + ".c" + std::to_string(j);
    em.set_stage(stage_set[k], &maps[k]);
    if (!step.action.backward) {
      em.chain() = j == 0 ? -1 : act_sent[at(mb, j - 1)];
      if (fsdp && mb == 0) {
        // The chunk's first forward: gather each layer before it runs, the next one prefetched once
        // this layer's gather is done and the layer before this one has finished.
        std::vector<OpId> current = gather(k, layers[mine.front()], before_prev[k]);
        for (std::size_t x = 0; x < mine.size(); ++x) {
          em.wait_for(current);
          em.forward(layers[mine[x]]);
          if (x + 1 < mine.size()) current = gather(k, layers[mine[x + 1]], before_prev[k]);
          before_prev[k] = em.all_done();
        }
      } else {
        for (std::size_t li : mine) em.forward(layers[li]);
      }
      if (j + 1 < chunks) {
        act_sent[at(mb, j)] = send(tag + ".send_activations", s, pair_part[k], boundary_bytes(j + 1), false, em.chain());
      } else {
        loss[at(mb, j)] = em.chain();
      }
    } else {
      em.chain() = j + 1 == chunks ? loss[at(mb, j)] : grad_sent[at(mb, j + 1)];
      const bool last = mb + 1 == M;
      const bool buckets_now = last || zero == 2;  // stage 2: every backward action
      for (auto li = mine.rbegin(); li != mine.rend(); ++li) {
        const Layer& layer = layers[*li];
        if (setup.rematerialize) em.forward(Layer{layer.name + ".remat", layer.items});
        em.backward(layer, buckets_now ? dense_b[k].get() : nullptr, buckets_now ? expert_b[k].get() : nullptr);
      }
      if (zero == 2 && bucketed) {
        for (GradBuckets* b : {dense_b[k].get(), expert_b[k].get()})
          if (b != nullptr) b->flush();  // the action's last, partly filled buckets
      } else if (zero == 2) {
        const auto jc = static_cast<std::size_t>(j);
        scatter(k, tag, grad_bytes.first * (dense_total > 0.0 ? chunk_dense_w[jc] / dense_total : 0.0),
                grad_bytes.second * (expert_total > 0.0 ? chunk_expert_w[jc] / expert_total : 0.0), em.all_done(),
                grad_stream);
      } else if (fsdp && last) {
        // Each layer's accumulated gradients, once the chunk's last backward is done (FSDP's
        // post-backward, run by the pipeline stage after its last backward).
        const std::vector<OpId> done = em.all_done();
        for (auto li = mine.rbegin(); li != mine.rend(); ++li) {
          const Layer& layer = layers[*li];
          scatter(k, layer.name, layer_weight_elements(layer, false) * dense_per_weight,
                  layer_weight_elements(layer, true) * expert_per_weight, done, 1);
        }
      }
      if (j > 0) {
        const auto prev = static_cast<std::size_t>((s + pp - 1) % pp);
        grad_sent[at(mb, j)] = send(tag + ".send_gradients", static_cast<std::int64_t>(prev), pair_part[prev], boundary_bytes(j), true,
                                  em.chain());
      }
    }
    stage_done[k] = em.all_done();
  }
  // Per stage: gradient sync over its dp group / expert replicas, then its optimizer update.
  for (std::int64_t s = 0; s < pp; ++s) {
    const auto k = static_cast<std::size_t>(s);
    const double dense_share = dense_total > 0.0 ? dense_w[k] / dense_total : 0.0;
    const double expert_share = expert_total > 0.0 ? expert_w[k] / expert_total : 0.0;
    const std::string st = stage_tag(s);
    std::vector<OpId> before_update = stage_done[k];
    if (bucketed) {
      for (GradBuckets* b : {dense_b[k].get(), expert_b[k].get()}) {
        if (b == nullptr) continue;
        b->flush();
        before_update.insert(before_update.end(), b->emitted().begin(), b->emitted().end());
      }
    } else if (zero <= 1) {
      if (dp_part[k] >= 0) {
        const OpId id = g.add_collective("grads." + st + ".dense_" + sync_name, "grads", dp_part[k], sync_op,
                                         grad_bytes.first * dense_share, stage_done[k]);
        g.op(id).comm_stream = grad_stream;
        before_update.push_back(id);
      }
      if (xr_part[k] >= 0) {
        const OpId id = g.add_collective("grads." + st + ".expert_" + sync_name, "grads", xr_part[k], sync_op,
                                         grad_bytes.second * expert_share, stage_done[k]);
        g.op(id).comm_stream = grad_stream;
        before_update.push_back(id);
      }
    }
    before_update.insert(before_update.end(), stage_grads[k].begin(), stage_grads[k].end());
    double update_bytes =
        (grad_bytes.first * dense_share + grad_bytes.second * expert_share) * update_per_grad_byte;
    if (zero >= 1) {
      // The update on the shard: ceil(N / group) of each kind's N local elements on the stage.
      const std::int64_t rep = m.is_moe() ? layout.replicas() : 1;
      update_bytes = (shard_elements(grad_bytes.first * dense_share / param_bytes, layout.dp) +
                      shard_elements(grad_bytes.second * expert_share / param_bytes, rep)) *
                     param_bytes * update_per_grad_byte;
    }
    const OpId update = g.add_compute("optimizer." + st + ".update", "optimizer", stage_set[k],
                                      memory_op(OpKind::optimizer, update_bytes), before_update);
    if (zero == 1 || zero == 2) {
      // The updated shards all-gathered into every replica's full parameters of the stage.
      for (const auto& [part, name, bytes] : {std::tuple{dp_part[k], "dense", grad_bytes.first * dense_share},
                                              std::tuple{xr_part[k], "expert", grad_bytes.second * expert_share}}) {
        if (part < 0) continue;
        const OpId id = g.add_collective("params." + st + "." + name + "_all_gather", "params", part,
                                         CollectiveOp::all_gather, bytes, {update});
        g.op(id).comm_stream = grad_stream;
      }
    }
  }
}

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
  // Expert tensor parallelism (layout.hpp; etp != mp only): the expert output's all-reduce over the
  // etp group, and the all-gather of the s = tp / etp token slices of a tp group.
  const std::int64_t etp = layout.expert_tp(), slices = layout.token_slices();
  const sim::PartitionId etp_part = moe && layout.folded() && etp > 1 ? g.add_partition(layout.etp_groups()) : -1;
  const sim::PartitionId slice_part = moe && slices > 1 ? g.add_partition(layout.token_slice_groups()) : -1;

  if (moe) {
    // Folded layouts (expert_tensor_parallel.hpp): the capacity of the routed (sliced) groups.
    const RouteSplit enc = split_routing(shape.local_tokens, shape.groups_per_device, shape.group_tokens, slices);
    out.encoder_capacity = expert_capacity(ro.capacity_factor, m.top_k, enc.group_tokens, E);
    if (m.decoder_layers > 0) {
      const RouteSplit dec =
          split_routing(shape.local_decoder_tokens, shape.decoder_groups_per_device, shape.decoder_group_tokens, slices);
      out.decoder_capacity = expert_capacity(ro.capacity_factor, m.top_k, dec.group_tokens, E);
    }
  }

  // Inverse of layout.device(): coordinates of each device id.
  std::vector<std::int64_t> rep_of(static_cast<std::size_t>(num_devices));
  std::vector<std::int64_t> ep_of(static_cast<std::size_t>(num_devices));
  for (std::int64_t r = 0; r < layout.replicas(); ++r)
    for (std::int64_t e = 0; e < layout.ep; ++e)
      for (std::int64_t k = 0; k < etp; ++k) {
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
  // Expert tensor parallelism (folded, slices = tp / etp > 1): the device routes its slice, Tr = T / s
  // tokens (split_routing, expert_tensor_parallel.hpp: whole groups or sliced groups), through the router, dispatch, experts
  // (width expert_d_ff / etp) and combine; the expert output is all-reduced over the etp group, and
  // the slice group all-gathers the T-token output (T d a bytes). Backward: each tp rank holds the
  // whole (replicated) output gradient and takes its slice without communication; the input
  // gradient of its slice is all-gathered back to T tokens: again one all-gather of T d a bytes,
  // which the backward replay places before the expert ops' backward rather than after them (the
  // same bytes on the same chain).
  auto switch_ffn = [&](std::vector<Item>& items, const std::string& p, std::int64_t T, std::int64_t G,
                        std::int64_t layer_groups, std::int64_t C, std::uint64_t stream, bool decoder) {
    const RouteSplit rs = split_routing(T, layer_groups, G, slices);
    const std::int64_t Tr = rs.tokens;
    const MoeLayerDims md = moe_layer_dims(impl, m, layout, dims, Tr, rs.group_tokens, rs.groups, C, a);
    const bool uneven = md.uneven();
    // The same routing for the same seed, stream and shapes (routing_memo.hpp): from the search's
    // memo when one is given.
    const std::shared_ptr<const LayerRouting> routed = route_layer_memoized(
        ro.memo, m, layout, rs.group_tokens, rs.groups, C, ro, stream, static_cast<double>(d) * a, uneven);
    const LayerRouting& lr = *routed;
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
    OpShape router = matmul(Tr, d, E, 1, OpKind::router);
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
    // The forward dispatch sends de bytes per element (1 with --fp8-dispatch, workloads/fp8.hpp);
    // the combine and both backward all-to-alls send a (bf16).
    const double de = dispatch_element_bytes(setup);
    Item a2a;
    Item back;
    if (ep_part >= 0) {
      const double bf16_bytes = uneven ? 0.0 : padded * static_cast<double>(d) * a;
      a2a = collective(p + ".dispatch_a2a", ep_part, CollectiveOp::all_to_all, bf16_bytes * de / a);
      a2a.bwd_bytes = bf16_bytes;
      back = collective(p + ".combine_a2a", ep_part, CollectiveOp::all_to_all, bf16_bytes);
      if (uneven) {
        // One matrix per replica (the forward dispatch), shared by its mp groups (ep_groups(): for rep,
        // for m); the combine and the backward dispatch send the transpose, the combine's backward
        // the forward matrix in bf16.
        std::vector<std::shared_ptr<const ByteMatrix>> fwd, fwd_bf16, bwd;
        for (const ByteMatrix& sent : lr.sent) {
          auto mf = std::make_shared<const ByteMatrix>(sent);
          auto mb = std::make_shared<const ByteMatrix>(mf->transposed());
          auto mq = de == a ? mf : std::make_shared<const ByteMatrix>(mf->scaled(de / a));
          for (std::int64_t k = 0; k < etp; ++k) {
            fwd.push_back(mq);
            fwd_bf16.push_back(mf);
            bwd.push_back(mb);
          }
        }
        a2a.matrices = std::move(fwd);
        a2a.matrices_bwd = bwd;
        back.matrices = std::move(bwd);
        back.matrices_bwd = std::move(fwd_bf16);
      }
      items.push_back(a2a);
    }
    // Expert side: padded rows on every device, or each device's own received load.
    if (uneven) {
      std::vector<MoeOp> base = moe_expert_ops(md, static_cast<std::int64_t>(mean));
      std::vector<Item> expert_items;
      for (const MoeOp& op : base) expert_items.push_back(moe_item(p, op));
      for (std::int32_t dev = 0; dev < static_cast<std::int32_t>(layout.stage_devices()); ++dev) {  // stage 0's
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
    if (!layout.folded()) {
      mp_reduce(items, p + ".expert_allreduce", uneven ? mean : padded);
    } else if (etp_part >= 0) {
      items.push_back(collective(p + ".expert_allreduce", etp_part, CollectiveOp::all_reduce,
                                 (uneven ? mean : padded) * static_cast<double>(d) * a));
    }
    if (ep_part >= 0) items.push_back(back);
    for (const MoeOp& op : moe_combine_ops(md)) items.push_back(moe_item(p, op));
    if (slice_part >= 0) {
      items.push_back(collective(p + ".token_all_gather", slice_part, CollectiveOp::all_gather,
                                 static_cast<double>(T) * static_cast<double>(d) * a));
    }
    items.push_back(compute(p + ".residual", memory_op(OpKind::elementwise, 3.0 * static_cast<double>(T * d) * a), Backward::same));
  };

  // Gradient sync (training.hpp): local gradient bytes per parameter kind.
  const ParamCount pc = count_params(m);
  const bool adam = setup.optimizer == Optimizer::adam;
  const double grad_bytes = adam ? 2.0 : 4.0;  // parameters have the same dtype (memory.hpp)
  const double dense_local = pc.non_expert() / static_cast<double>(mp);
  const double expert_local = pc.experts / static_cast<double>(layout.ep * etp);
  const sim::PartitionId dp_part = layout.dp > 1 ? g.add_partition(layout.dp_groups()) : -1;
  const sim::PartitionId xr_part = moe && layout.replicas() > 1 ? g.add_partition(layout.expert_replica_groups()) : -1;
  const bool bucketed = setup.grad_sync.kind == GradSyncKind::bucketed;
  const std::uint8_t grad_stream = setup.grad_sync.separate_stream ? 1 : 0;
  std::unique_ptr<GradBuckets> dense_buckets, expert_buckets;
  // ZeRO (zero_sharding.hpp). Stages 1 and 2: gradients are reduce-scattered (not all-reduced)
  // over the same groups, the update runs on the shard, and the updated parameters are
  // all-gathered after it (the ring bytes of an all-reduce: a reduce-scatter and an all-gather of
  // the same buffer). Stage 1 syncs after the last micro-batch as today (Megatron-Core's distributed
  // optimizer keeps full gradients for accumulation); stage 2 keeps only the gradient shard, so
  // every micro-batch's backward reduce-scatters (DeepSpeed ZeRO-2). --grad-sync applies as before
  // (fused: one collective per kind after the backward; bucketed: per bucket during it).
  // Stage 3: the per-layer passes below (fsdp); --grad-sync's buckets do not apply (each layer is a bucket).
  const std::int32_t zero = setup.zero_stage;
  const CollectiveOp grad_op = zero >= 1 ? CollectiveOp::reduce_scatter : CollectiveOp::all_reduce;
  const std::string grad_name = zero >= 1 ? "reduce_scatter" : "allreduce";
  std::vector<OpId> grad_ops;  // every gradient collective (stage 2: of every micro-batch)
  auto fused_sync = [&](const std::string& tag, std::vector<OpId> deps) {
    for (const auto& [part, name, local] :
         {std::tuple{dp_part, "dense", dense_local}, std::tuple{xr_part, "expert", expert_local}}) {
      if (part < 0) continue;
      const OpId id = g.add_collective("grads." + tag + std::string(name) + "_" + grad_name, "grads", part, grad_op,
                                       local * grad_bytes, deps);
      g.op(id).comm_stream = grad_stream;
      grad_ops.push_back(id);
    }
  };
  // Weight elements of each kind in one micro-batch's layers: per weight, the layers carry the
  // local parameter bytes of their kind (norms, biases and embeddings included), so buckets and
  // stage 3's per-layer collectives add up exactly to the whole kind.
  auto layer_weights = [](const Layer& L, bool expert) {
    double w = 0.0;
    for (const Item& it : L.items)
      if (!it.collective && it.backward == Backward::weighted && is_expert_weight(it.shape) == expert)
        w += weights_of(it.shape);
    return w;
  };
  auto kind_weights = [&](const std::vector<Layer>& layers, bool expert) {
    double w = 0.0;
    for (const Layer& L : layers) w += layer_weights(L, expert);
    return w;
  };
  // Stage 3 (FSDP, one unit per layer): before each layer's forward and again before its backward,
  // an all-gather of its parameters over the dp group (experts: the expert-replica group); after
  // its backward a reduce-scatter of its gradients, in every micro-batch. Prefetch depth 1
  // (engineering assumption, FSDP's forward/backward prefetch of one unit): the next layer's
  // gather is issued once the current layer's gather is done and the layer before it has finished,
  // so at most two layers are held gathered (memory.hpp). Gathers and reduce-scatters run on the
  // second communication stream (FSDP's own all-gather stream and process group), beside the
  // expert all-to-alls.
  const bool fsdp = zero >= 3 && (dp_part >= 0 || xr_part >= 0);
  double dense_per_weight = 0.0, expert_per_weight = 0.0;  // parameter bytes per weight element
  std::vector<OpId> last_gathers;                          // the latest non-empty gather (the prefetch chain)
  std::vector<OpId> before_prev;                           // end of the pass before the current one
  std::int64_t gathers_emitted = 0;
  auto gather = [&](const Layer& L, const std::vector<OpId>& free_after) {
    std::vector<OpId> ids;
    std::vector<OpId> deps = last_gathers;
    deps.insert(deps.end(), free_after.begin(), free_after.end());
    for (const auto& [part, name, per_weight, expert] : {std::tuple{dp_part, "dense", dense_per_weight, false},
                                                         std::tuple{xr_part, "expert", expert_per_weight, true}}) {
      const double bytes = layer_weights(L, expert) * per_weight;
      if (part < 0 || bytes <= 0.0) continue;
      const OpId id =
          g.add_collective("params." + L.name + "." + name + "_all_gather" + std::to_string(gathers_emitted++),
                           "params", part, CollectiveOp::all_gather, bytes, deps);
      g.op(id).comm_stream = 1;
      ids.push_back(id);
    }
    if (!ids.empty()) last_gathers = ids;
    return ids;
  };

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
  std::vector<std::vector<Layer>> pipeline_mbs;  // pp > 1: every micro-batch's layers, emitted by emit_pipeline
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
    // --precision fp8 (workloads/fp8.hpp): every linear layer's product in FP8, forward, dgrad
    // and wgrad (their shapes inherit the precision); the output layer stays bf16.
    if (setup.precision == Precision::fp8) {
      for (Layer& L : layers) {
        for (Item& it : L.items) {
          if (it.collective || it.backward != Backward::weighted || it.name == "logits") continue;
          it.shape = linear_in_precision(it.shape, setup);
          for (OpShape& s : it.member_shapes) s = linear_in_precision(s, setup);
        }
      }
    }
    if (layout.pp > 1) {
      pipeline_mbs.push_back(std::move(layers));
      continue;
    }

    if (fsdp) {
      // Passes in order: forward 0..n-1, backward n-1..0; each waits for its layer's gather,
      // which was issued (prefetched) after the previous pass.
      if (mb == 0) {
        const double dw = kind_weights(layers, false), xw = kind_weights(layers, true);
        dense_per_weight = dw > 0.0 ? dense_local * grad_bytes / dw : 0.0;
        expert_per_weight = xw > 0.0 ? expert_local * grad_bytes / xw : 0.0;
      }
      std::vector<std::pair<const Layer*, bool>> passes;
      for (const Layer& L : layers) passes.emplace_back(&L, false);
      for (auto it = layers.rbegin(); it != layers.rend(); ++it) passes.emplace_back(&*it, true);
      std::vector<OpId> current = gather(*passes.front().first, before_prev);
      for (std::size_t k = 0; k < passes.size(); ++k) {
        const Layer& L = *passes[k].first;
        const bool bwd = passes[k].second;
        em.wait_for(current);
        std::unique_ptr<GradBuckets> dense_rs, expert_rs;
        if (bwd) {
          if (setup.rematerialize) em.forward(Layer{L.name + ".remat", L.items});
          constexpr double kWholeLayer = 1e300;  // one reduce-scatter per layer and kind
          if (dp_part >= 0) {
            dense_rs = std::make_unique<GradBuckets>(g, dp_part, L.name + ".dense_reduce_scatter", dense_per_weight,
                                                     kWholeLayer, 1, CollectiveOp::reduce_scatter);
          }
          if (xr_part >= 0) {
            expert_rs = std::make_unique<GradBuckets>(g, xr_part, L.name + ".expert_reduce_scatter", expert_per_weight,
                                                      kWholeLayer, 1, CollectiveOp::reduce_scatter);
          }
          em.backward(L, dense_rs.get(), expert_rs.get());
        } else {
          em.forward(L);
        }
        // Prefetch the next pass's layer (this micro-batch's), once the pass before this one is done.
        if (k + 1 < passes.size()) current = gather(*passes[k + 1].first, before_prev);
        for (GradBuckets* rs : {dense_rs.get(), expert_rs.get()}) {
          if (rs == nullptr) continue;
          rs->flush();
          grad_ops.insert(grad_ops.end(), rs->emitted().begin(), rs->emitted().end());
        }
        before_prev = em.all_done();
      }
      continue;
    }
    for (const Layer& L : layers) em.forward(L);
    const bool sync_now = mb + 1 == setup.micro_batches || zero == 2;  // stage 2: every micro-batch
    if (bucketed && sync_now && dense_buckets == nullptr && expert_buckets == nullptr) {
      // Bucket bytes per weight: the layers' weight elements carry the local parameter
      // bytes of their kind (norms, biases and embeddings included), so the buckets add
      // up exactly to the fused all-reduces.
      const double dense_weights = kind_weights(layers, false), expert_weights = kind_weights(layers, true);
      if (dp_part >= 0 && dense_weights > 0.0) {
        dense_buckets =
            std::make_unique<GradBuckets>(g, dp_part, "dense_" + grad_name, dense_local * grad_bytes / dense_weights,
                                          setup.grad_sync.bucket_bytes, grad_stream, grad_op);
      }
      if (xr_part >= 0 && expert_weights > 0.0) {
        expert_buckets =
            std::make_unique<GradBuckets>(g, xr_part, "expert_" + grad_name, expert_local * grad_bytes / expert_weights,
                                          setup.grad_sync.bucket_bytes, grad_stream, grad_op);
      }
    }
    const bool buckets_now = bucketed && sync_now;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      if (setup.rematerialize) em.forward(Layer{it->name + ".remat", it->items});
      em.backward(*it, buckets_now ? dense_buckets.get() : nullptr, buckets_now ? expert_buckets.get() : nullptr);
    }
    if (zero == 2 && bucketed) {
      for (GradBuckets* bk : {dense_buckets.get(), expert_buckets.get()})
        if (bk != nullptr) bk->flush();  // the micro-batch's last, partly filled buckets
    } else if (zero == 2) {
      fused_sync(tag, em.all_done());
    }
  }
  out.drops.assignments = out.encoder_drops.assignments + out.decoder_drops.assignments;
  out.drops.dropped = out.encoder_drops.dropped + out.decoder_drops.dropped;
  if (layout.pp > 1) {
    const double enc_bytes = static_cast<double>(T_enc * d) * a;
    const double dec_bytes = m.decoder_only() ? 0.0 : static_cast<double>(T_dec * d) * a;
    emit_pipeline(g, em, m, layout, setup, pipeline_mbs, {mp_part, ep_part, etp_part, slice_part}, {dense_local * grad_bytes, expert_local * grad_bytes},
                  (adam ? 28.0 : 12.0) / grad_bytes, enc_bytes, dec_bytes, grad_bytes);
    return out;
  }

  // Gradient all-reduces (fused: after the backward pass; bucketed: the last buckets) and the optimizer.
  std::vector<OpId> before_update = em.all_done();
  if (bucketed && !fsdp) {
    for (GradBuckets* b : {dense_buckets.get(), expert_buckets.get()}) {
      if (b == nullptr) continue;
      b->flush();
      before_update.insert(before_update.end(), b->emitted().begin(), b->emitted().end());
    }
  } else if (!fsdp && zero != 2) {
    fused_sync("", em.all_done());
  }
  before_update.insert(before_update.end(), grad_ops.begin(), grad_ops.end());
  // Update: adafactor reads fp32 parameter and gradient, writes the parameter (12 B/param);
  // adam reads bf16 gradient and fp32 master + 2 moments, writes them and the bf16 copy (28 B/param).
  // ZeRO >= 1: each device updates its shard, ceil(local / group) of each kind (zero_sharding.hpp).
  const double updated =
      zero >= 1 ? shard_elements(dense_local, layout.dp) + shard_elements(expert_local, moe ? layout.replicas() : 1)
                : dense_local + expert_local;
  const double update_bytes = updated * (adam ? 28.0 : 12.0);
  const OpId update = g.add_compute("optimizer.update", "optimizer", em.all(),
                                    memory_op(OpKind::optimizer, update_bytes), before_update);
  if (zero == 1 || zero == 2) {
    // The updated shards all-gathered into every replica's full parameters.
    for (const auto& [part, name, local] :
         {std::tuple{dp_part, "dense", dense_local}, std::tuple{xr_part, "expert", expert_local}}) {
      if (part < 0) continue;
      const OpId id = g.add_collective(std::string("params.") + name + "_all_gather", "params", part,
                                       CollectiveOp::all_gather, local * grad_bytes, {update});
      g.op(id).comm_stream = grad_stream;
    }
  }
  return out;
}

}  // namespace switchsim::workloads
