#pragma once
// Per-op-kind accounting of one simulated step (`simulate --json`: "ops"), and
// the headline figures people compare with published runs (model FLOP/s per
// device and MFU).
//
// One row per op kind the graph holds: compute kinds by kernels::OpKind
// (matmul, batched_matmul, router, dispatch, combine, attention, elementwise,
// optimizer), collectives by sim::CollectiveOp (all-to-all, all-reduce,
// all-gather, reduce-scatter). Per row:
//   count            ops of the graph of that kind (an op runs on a whole device
//                    set or partition: one op = one copy on each member)
//   flops            sum over ops and members of OpShape::flops() (compute); 0 for collectives
//   bytes            compute: sum over ops and members of OpShape::min_bytes();
//                    collectives: bytes_per_device x members (the nccl-tests buffer
//                    size), or the byte matrices' total when the op has them
//   critical_path_s  seconds of that kind on the step's critical path (sim::StepSchedule).
//                    The rows add up to the breakdown's compute + communication; the
//                    idle gaps are their own figure (`idle_s`).
//   time_source      compute: "profile" when every member's shape lies in the
//                    measured range of a calibrated profile
//                    (kernels::CalibratedCostModel::in_measured_range), "model" when
//                    none does (the shape-aware or roofline model, or the profile's fallback),
//                    "mixed" otherwise (measured_members / modelled_members say how
//                    many); collectives: "network-model" (flow-level simulation).
//
// The MoE layer's ops by name (`moe`): one row per op of the Switch layers, named as the
// builder names them without layer and pass ("switch.dispatch_einsum", "switch.expert_wi",
// "switch.dispatch_a2a", ...; workloads/moe_layer.hpp), with the op kind it is priced as
// (the einsums are matmuls), and count / flops / bytes / critical_path_s as above, summed over
// every Switch layer, micro-batch and pass (forward, backward, rematerialized forward). The
// by-kind table folds them into their kinds; this one shows which implementation's ops
// (--moe-impl) they are.
//
// Model FLOPs (the PaLM / Megatron MFU convention: the work the model needs,
// not what the step executes):
//   model_flops_per_step = 3 x count_forward_flops(model).executed_flops_per_sequence() x sequences
// i.e. forward = 2 x (active weights a token multiplies: top_k experts, router,
// output layer) x tokens + attention (QK^T and AV, 4 L_q L_k heads d_kv per
// block, counted in full, non-causal, as workloads/model.hpp does; decoder-only models: causal,
// workloads/decoder_counts.cpp), and
// backward = 2 x forward. Not counted: rematerialization, capacity padding and
// dropped tokens (a dropped token is counted as if processed), optimizer.
//   model_flops_per_s_per_device = model_flops_per_step / step_time_s / devices
//   mfu = model_flops_per_s_per_device / the device's peak for the step's precision
//         (data/devices.json: peak_bf16_flops or peak_fp32_flops, per device); an fp8 step
//         (workloads/fp8.hpp) counts against the bf16 dense peak too, so the FP8 products'
//         speed shows as a higher MFU (it can exceed what bf16 reaches; our convention)

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "kernels/cost_model.hpp"
#include "sim/op_graph.hpp"
#include "sim/step_executor.hpp"

namespace switchsim::workloads {

struct Model;

struct OpKindRow {
  std::string kind;  // "matmul", ..., "all-to-all"
  std::int64_t count = 0;
  double flops = 0.0;
  double bytes = 0.0;
  double critical_path_s = 0.0;
  std::string time_source;  // "profile" | "model" | "mixed" | "network-model"
  std::int64_t measured_members = 0;  // compute: member copies timed from a measured profile
  std::int64_t modelled_members = 0;  // compute: member copies timed by a model
};

struct MoeOpRow {
  std::string name;  // "switch.dispatch_einsum"
  std::string kind;  // the kind it is priced as: "matmul", "dispatch", "all-to-all", ...
  std::int64_t count = 0;
  double flops = 0.0;
  double bytes = 0.0;
  double critical_path_s = 0.0;
};

// Uncertainty of the step time from the compute costs (`uncertainty_s`): each cost
// model states a relative uncertainty u per prediction (one standard deviation:
// roofline +-30%, the shape-aware model per shape from its padding and assumed
// efficiencies, a calibrated profile the spread of its measurements, more outside
// its range). Along the critical path, with t_i the seconds op i holds there,
//     uncertainty_s = sum over compute ops i on the critical path of u_i x t_i,
// a linear sum: a model's errors share their cause (one assumed efficiency, one
// measured machine), so they are taken as fully correlated, not independent
// (which would give the smaller sqrt(sum (u_i t_i)^2)). First order: the critical
// path is held fixed, so step - uncertainty is a true lower end when every op is
// faster, while step + uncertainty can understate the upper end if another path
// becomes critical. For an op with per-member shapes (dropless experts), u is the
// one of its largest member, the straggler the path runs through. Communication
// is not included: the network model states no uncertainty of its own yet.
struct OpAccounting {
  std::vector<OpKindRow> rows;  // compute kinds first (OpKind order), then collectives (CollectiveOp order)
  std::vector<MoeOpRow> moe;    // the Switch layers' ops by name, in order of first appearance
  double idle_s = 0.0;          // gaps on the critical path no op explains
  double uncertainty_s = 0.0;   // compute-cost uncertainty of the step time (see above)
  [[nodiscard]] double flops() const;
  [[nodiscard]] double critical_path_s() const;  // sum of the rows
};

inline constexpr const char* kStepUncertaintyCovers =
    "one standard deviation of the compute costs along the critical path, summed linearly (a cost model's errors "
    "share their cause); first order: the critical path held fixed; the network model's error is not included";

[[nodiscard]] OpAccounting account_ops(const sim::OpGraph& graph, const sim::StepSchedule& schedule,
                                       const kernels::CostModel& cost);

// Each op on the critical path with the seconds it holds there (its duration on
// the member the path runs through), in time order.
struct CriticalOp {
  sim::OpId op = -1;
  double seconds = 0.0;
};
[[nodiscard]] std::vector<CriticalOp> critical_op_durations(const sim::OpGraph& graph,
                                                            const sim::StepSchedule& schedule);

struct ModelFlops {
  double per_step = 0.0;
  double per_s_per_device = 0.0;
  double peak_flops_per_device = 0.0;
  double mfu = 0.0;
  std::string precision;  // "bf16" | "fp32": which peak
};

inline constexpr const char* kModelFlopsConvention =
    "PaLM/Megatron model FLOPs: 3 x forward FLOPs of the model (2 x active weights per token incl. router and "
    "output layer, x tokens, + attention QK^T and AV counted in full), no rematerialization, capacity padding or "
    "drops; per device = per step / step time / devices; mfu against the device's dense peak for the step's precision "
    "(fp8 steps: against the bf16 dense peak)";

[[nodiscard]] ModelFlops model_flops(const Model& model, std::int64_t sequences, double step_time_s,
                                     std::int32_t devices, const std::string& device_kind, bool bf16);

[[nodiscard]] json to_json(const OpAccounting& a);
// A compact table, one line per kind ("" when there are no rows).
[[nodiscard]] std::string to_text(const OpAccounting& a);

}  // namespace switchsim::workloads
