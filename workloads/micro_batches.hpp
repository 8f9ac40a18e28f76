#pragma once
// How many micro-batches a step needs to fit in memory, before simulating it.
// Shared by `recommend` (every candidate) and `simulate` / `capacity` (when no
// --micro-batches is given).
//
// Activations shrink with more micro-batches (one micro-batch's activations
// live at a time), so the plan takes the smallest count in 1, 2, 4, ... (the
// batch must split over dp x micro-batches; at most `max_micro_batches`) for
// which the memory estimate (workloads::estimate_memory) fits
//     limit = headroom x device memory.
// A pipeline (pp > 1) tries pp, 2 pp, 4 pp, ... and estimates the busiest
// stage's device (workloads::estimate_pipeline_memory: its own layers, the
// activations its schedule keeps in flight), not the whole model on one device.
// Slots each device's experts receive per Switch layer and micro-batch,
// before routing is simulated:
//   capacity mode  exact (einsum, gather): E x groups x C (padded buffers),
//                  C = ceil(cf k G / E);
//   dropless       a lower bound: the busiest device receives at least the
//                  mean, k x G x groups; the simulated busiest load can exceed it;
//   grouped with a capacity factor (loads truncated to C, not padded): a lower
//                  bound, groups x min(k G, C): a group's processed assignments
//                  sum_e min(n_e, C) are at least min(sum_e n_e, C) = min(k G, C),
//                  and the busiest device receives at least the mean over its ep group.
// The MoE implementation is setup.moe_impl (resolved by the caller).
// Parameters, gradients and optimizer state do not shrink with micro-batches:
// when they alone exceed the limit, no count helps and the plan stops there.

#include <cstdint>
#include <string>

#include "workloads/layout.hpp"
#include "workloads/memory.hpp"
#include "workloads/model.hpp"
#include "workloads/moe_impl.hpp"
#include "workloads/routing.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

// recommend's defaults, used by simulate's automatic choice as well.
inline constexpr double kDefaultMemoryHeadroom = 0.9;
inline constexpr std::int64_t kDefaultMaxMicroBatches = 64;

// Slots each device receives per Switch layer and micro-batch before simulating (see above).
[[nodiscard]] double planned_received_slots(const Model& model, const Layout& layout, std::int64_t group_tokens,
                                            std::int64_t groups, double capacity_factor, ExecutionMode mode,
                                            MoeImpl impl = MoeImpl::gather);

struct MicroBatchPlan {
  enum class Outcome {
    fits,               // `micro_batches` is the smallest count that fits
    static_too_large,   // parameters, gradients and optimizer state alone exceed the limit
    activations,        // still over the limit at the largest count tried
    divisibility,       // the batch does not split over dp even at one micro-batch
  };
  Outcome outcome = Outcome::fits;
  std::int64_t micro_batches = 1;  // the count chosen, or the last one tried
  StepShape shape;                 // at that count (not set for divisibility)
  MemoryEstimate memory;           // at that count (not set for divisibility)
  std::string divisibility_error;  // derive_step_shape's message, for divisibility
  [[nodiscard]] bool fits() const { return outcome == Outcome::fits; }
};

// One count: its shape and the busiest stage's memory, and the outcome at that count (fits,
// static_too_large, activations; divisibility, with derive_step_shape's message, when the batch
// does not split into `micro_batches`). Shared with the planner's pipeline search.
[[nodiscard]] MicroBatchPlan plan_micro_batch_count(const Model& model, const Layout& layout,
                                                    const TrainingSetup& setup, ExecutionMode mode,
                                                    double capacity_factor, double device_memory_bytes,
                                                    double headroom, std::int64_t micro_batches);

// `setup.micro_batches` is ignored; every other field of `setup` is used as given.
[[nodiscard]] MicroBatchPlan plan_micro_batches(const Model& model, const Layout& layout, const TrainingSetup& setup,
                                                ExecutionMode mode, double capacity_factor, double device_memory_bytes,
                                                double headroom = kDefaultMemoryHeadroom,
                                                std::int64_t max_micro_batches = kDefaultMaxMicroBatches);

}  // namespace switchsim::workloads
