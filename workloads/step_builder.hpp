#pragma once
// Model + layout + setup -> the op graph of one training step (sim/op_graph.hpp).
//
// Every device runs the same program on its own tokens, so compute ops are
// emitted once for all devices (per-device shapes only where routing makes
// loads differ: the grouped implementation's expert ops). Per micro-batch:
//   forward   embeddings; per encoder layer: self-attention block, FFN block;
//             per decoder layer: self-attention, cross-attention (K, V from the
//             encoder output), FFN; LM head and loss. Decoder-only models (family "decoder"):
//             embeddings; per layer: causal self-attention (the projections of decoder_layer.hpp,
//             L queries x causal_keys(L) keys), dense FFN (d_ff) or MoE FFN (experts of
//             expert_d_ff, plus shared experts as local dense products "switch.shared_wi/wo"
//             with their own mp all-reduce); LM head and loss on every token.
//     attention block  norm, QKV (or Q and KV) projection, attention, output projection,
//                      [mp all-reduce], residual
//     dense FFN        norm, wi (n_mats-1 matrices), activation, wo, [mp all-reduce], residual
//     Switch FFN       norm, router (fp32), the MoE implementation's dispatch ops, [all-to-all
//                      over ep], its expert ops (expert wi, activation, expert wo, [sorts by
//                      local expert]), [mp all-reduce], [all-to-all back], its combine ops,
//                      residual. The implementation (setup.moe_impl, resolved) and its ops,
//                      forward and backward, are in moe_impl.hpp and moe_layer.hpp.
//   backward  the forward in reverse: every matrix product with a weight becomes dgrad (on the
//             chain) and wgrad (off the chain, so the next all-to-all can overlap it), each with
//             its own product shape (workloads/backward_shapes.hpp); attention x2; the MoE
//             layer's other ops their own backward (moe_layer.hpp);
//             the same all-to-alls and mp all-reduces; with rematerialization each layer's
//             forward is replayed before its backward.
// Gradient sync (TrainingSetup::grad_sync, training.hpp): fused -- after the last micro-batch,
// the dense-gradient all-reduce over each dp group and the expert-gradient all-reduce over
// expert replicas (when dp/ep > 1), as XLA does on TPUs, not overlapping the backward pass;
// bucketed -- during the last micro-batch's backward, a dense or expert all-reduce per bucket
// of gradients as soon as its wgrads are done (DDP), overlapping the rest of the backward pass.
// Either way the gradient bytes add up to the local parameters x gradient bytes. Then the
// optimizer update. ZeRO (setup.zero_stage, zero_sharding.hpp): stages 1-2 reduce-scatter instead
// of all-reducing (stage 2 in every micro-batch), update the shard and all-gather the parameters
// after the update; stage 3 all-gathers each layer's parameters before its forward and its
// backward (prefetch depth 1, second comm stream) and reduce-scatters its gradients after its
// backward (step_builder.cpp has the details).
//
// Bytes of one all-to-all, per device (padded: einsum, gather): E x (groups x C) x d_model x 2 B:
// the [E, C, d_model] bf16 tensor of the paper, for each routing group; each mp rank sends its
// full copy (activations are replicated over mp). Routed loads (grouped: dropless or truncated
// to the capacity): the byte matrix of processed assignments from each source device to each
// expert's device, x d_model x 2 B.

#include <cstdint>
#include <memory>

#include "sim/op_graph.hpp"
#include "workloads/layout.hpp"
#include "workloads/limited_routing.hpp"
#include "workloads/model.hpp"
#include "workloads/routing.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

class RoutingMemo;  // routing_memo.hpp

struct RoutingOptions {
  double capacity_factor = 1.0;
  RoutingSpec spec;
  ExecutionMode mode = ExecutionMode::capacity;
  std::uint64_t seed = 0;
  RoutingPlan plan;  // node- / device-limited routing and the dispatch (limited_routing.hpp)
  RoutingMemo* memo = nullptr;  // optional: routing shared across steps (routing_memo.hpp)
};

struct BuiltStep {
  sim::OpGraph graph{1};
  std::int64_t encoder_capacity = 0;  // C per encoder routing group (0 for dense models)
  std::int64_t decoder_capacity = 0;
  DropStats drops;                    // over every Switch layer and micro-batch
  DropStats encoder_drops;
  DropStats decoder_drops;
  double encoder_received_slots = 0.0;  // per device and Switch layer: padded, or busiest (grouped: routed loads)
  double decoder_received_slots = 0.0;
  double max_expert_load_ratio = 0.0;   // busiest device's received assignments / mean (the straggler)
};

[[nodiscard]] BuiltStep build_step(const Model& model, const Layout& layout, const TrainingSetup& setup,
                                   const StepShape& shape, const RoutingOptions& routing, std::int32_t num_devices);

}  // namespace switchsim::workloads
