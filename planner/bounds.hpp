#pragma once
// Cheap lower bounds of one candidate's step time, used to prune the search
// (branch and bound): a candidate whose best possible tokens/s cannot beat the
// K-th best simulated result is never simulated.
//
// The step executor (sim/step_executor.hpp) runs every device's ops on two
// in-order streams, compute and communication, so for any device
//     step_time >= its compute-stream busy time   and
//     step_time >= its communication-stream busy time.
// compute_s: every compute op of the step as workloads/step_builder.hpp emits it
//   (QKV / Q, KV, output projections, attention, FFN or router + the MoE layer's
//   ops, LM head; norms, residuals, activations, embeddings, loss; the optimizer
//   update), each priced by the same CostModel the simulation uses: weighted ops
//   forward x forwards + dgrad + wgrad (each its own product shape,
//   workloads/backward_shapes.hpp), attention forward + doubled backward,
//   memory-bound ops x (forwards + 1), forwards = 2 with rematerialization, x
//   micro-batches. The MoE layer's ops are the shared list of
//   workloads/moe_layer.hpp for the step's implementation (forward x forwards +
//   its own backward); its expert-side ops use the padded rows (einsum, gather:
//   exact), or for the grouped GEMM the mean load k*G*groups (dropless: the
//   busiest device has at least the mean) or groups*min(k*G, C) (with a capacity
//   factor: planner/candidates.hpp). Those grouped rows are only a lower bound of
//   the busiest device's, so for a cost convex in the rows the mean's cost summed
//   over layers is at most the busiest device's; a shape-aware cost model's
//   padding is not convex, so these products are priced with
//   ShapeAwareCostModel::predict_unpadded, <= the padded cost and convex. A
//   calibrated profile's curve is priced as it is: its convexity is not checked.
// communication_s: device 0's collectives (it is in every kind of group), each
//   at least the bytes that must leave a set S of vertices divided by the line
//   rate of the links leaving S, for
//     S = the device alone:     all-to-all sends B (n-1)/n of its B bytes per device,
//                               all-reduce at least B (n-1)/n (ring sends 2 B (n-1)/n);
//     S = its chip (TPU cores sharing ICI links): the group members on the chip send
//                               B / n to each member off the chip;
//     S = half the mesh (bisection cut of topology/metrics.hpp), when an all-to-all
//                               group is the whole mesh: N B / 4 cross one direction.
//   Per micro-batch: 4 all-to-alls per Switch layer (dispatch and combine, forward
//   and backward), 2 tensor-parallel all-reduces per attention block and FFN
//   (forward and backward; +1 with rematerialization); per step the dense and
//   expert gradient all-reduces. All-to-alls of routed loads (grouped: dropless
//   or capacity-truncated) count 0 (the share of its load a device keeps for its
//   own experts is random).
//   With a CollectiveCache, each capacity-mode collective also counts at least the
//   duration the executor will take for device 0's group (the same cache call it
//   makes: memoized, so the later simulation reuses it): exact under the
//   executor's model.
// Folded layouts (etp != mp, workloads/expert_tensor_parallel.hpp): the router, the MoE ops and
//   the all-to-alls use the device's token slice (T / s tokens, its split routing groups), as the
//   builder emits them; the expert output's all-reduce runs over the etp group, and the all-gather
//   of the s token slices is priced by the cache alone (forward and backward).
// chain_s: the compute stream runs in op-id order, every forward op is on one
//   dependency chain and the gradient all-reduces wait for all compute and
//   precede the update, so a forward collective leaves device 0's compute
//   stream idle for its whole duration and so do the gradient all-reduces:
//   chain_s = compute_s + forward collectives + gradient all-reduces (backward
//   collectives may hide behind wgrad and are not counted).
// step_time_s = max(compute_s, communication_s, chain_s).
// Pipelines (layout.pp > 1): the same per-layer op costs, split into forward and backward,
// summed per model chunk; compute_s is the busiest stage's, chain_s the fill and drain of the
// schedule (the bubble: (m + p - 1) / m for gpipe and 1f1b, (v m + p - 1) / (v m) interleaved,
// with equal stages) plus stage 0's forward collectives, communication_s stage 0's collectives;
// each stage's gradient sync, ZeRO collectives and update are added to its streams and, after its
// compute (ZeRO 0, 1: after the start of its last micro-batch's backward), to its chain
// (bounds.cpp, pipeline_bound and StageSync, derive it).

#include <cstdint>
#include <vector>

#include "kernels/cost_model.hpp"
#include "sim/step_executor.hpp"
#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"
#include "workloads/routing.hpp"
#include "workloads/training.hpp"

namespace switchsim::planner {

// Link capacities of the cuts above, computed once per mesh.
struct MeshCuts {
  double device_out_Bps = 0.0;    // largest line rate out of one device (so the bound holds for every device)
  std::int32_t cores_per_chip = 1;
  double chip_out_Bps = 0.0;      // line rate out of the chip of device 0 (0: no chip level)
  std::vector<std::int32_t> chip_devices;  // device ids on device 0's chip
  double bisection_Bps = 0.0;     // 0: unknown (bound not used)
  bool tpu = false;               // resolves --moe-impl auto (workloads/moe_impl.hpp)
};

[[nodiscard]] MeshCuts compute_mesh_cuts(const topology::Mesh& mesh);

struct StepBound {
  double compute_s = 0.0;
  double communication_s = 0.0;
  double chain_s = 0.0;
  [[nodiscard]] double step_time_s() const {
    const double m = compute_s > communication_s ? compute_s : communication_s;
    return m > chain_s ? m : chain_s;
  }
};

// `setup.micro_batches` as the candidate uses it; `shape` from derive_step_shape.
[[nodiscard]] StepBound step_lower_bound(const workloads::Model& model, const workloads::Layout& layout,
                                         const workloads::TrainingSetup& setup, const workloads::StepShape& shape,
                                         double capacity_factor, workloads::ExecutionMode mode,
                                         const kernels::CostModel& cost, const MeshCuts& cuts,
                                         sim::CollectiveCache* cache = nullptr);

}  // namespace switchsim::planner
