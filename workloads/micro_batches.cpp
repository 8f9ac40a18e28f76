#include "workloads/micro_batches.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "workloads/expert_tensor_parallel.hpp"
#include "workloads/pipeline_memory.hpp"

namespace switchsim::workloads {

double planned_received_slots(const Model& model, const Layout& layout, std::int64_t group_tokens, std::int64_t groups,
                              double capacity_factor, ExecutionMode mode, MoeImpl impl) {
  // E/ep experts x ep sources: the layout cancels out, except that a folded layout's device routes
  // sliced groups (expert_tensor_parallel.hpp).
  if (!model.is_moe() || group_tokens <= 0) return 0.0;
  const RouteSplit rs = split_groups(groups, group_tokens, layout.token_slices());
  groups = rs.groups;
  group_tokens = rs.group_tokens;  // no MoE layer, or no tokens (decoder-only models' empty second stack)
  if (mode == ExecutionMode::dropless) return static_cast<double>(model.top_k * group_tokens * groups);
  const std::int64_t c = expert_capacity(capacity_factor, model.top_k, group_tokens, model.experts);
  if (impl == MoeImpl::grouped) return static_cast<double>(groups * std::min(model.top_k * group_tokens, c));
  return static_cast<double>(model.experts * groups * c);
}

MicroBatchPlan plan_micro_batch_count(const Model& model, const Layout& layout, const TrainingSetup& setup,
                                      ExecutionMode mode, double capacity_factor, double device_memory_bytes,
                                      double headroom, std::int64_t micro_batches) {
  const double limit = headroom * device_memory_bytes;
  const double factor = mode == ExecutionMode::dropless ? 1.0 : capacity_factor;
  MicroBatchPlan plan;
  TrainingSetup s = setup;
  s.micro_batches = micro_batches;
  // The batch splits over the layout's devices and micro-batches (derive_step_shape), and a folded
  // layout's routing groups into its token slices (split_routing in the memory estimate); either
  // failing is a divisibility outcome naming the field.
  try {
    plan.shape = derive_step_shape(s, model, layout);
    const double enc = planned_received_slots(model, layout, plan.shape.group_tokens, plan.shape.groups_per_device,
                                              factor, mode, setup.moe_impl);
    const double dec = planned_received_slots(model, layout, plan.shape.decoder_group_tokens,
                                              plan.shape.decoder_groups_per_device, factor, mode, setup.moe_impl);
    // The busiest pipeline stage's device (pipeline_memory.hpp; with pp = 1, estimate_memory).
    plan.memory = estimate_pipeline_memory(model, layout, s, plan.shape, enc, dec, device_memory_bytes).memory;
  } catch (const InputError& e) {
    plan.outcome = MicroBatchPlan::Outcome::divisibility;
    plan.divisibility_error = e.what();
    return plan;
  }
  plan.micro_batches = micro_batches;
  const MemoryEstimate& m = plan.memory;
  plan.outcome = m.parameters_bytes + m.gradients_bytes + m.optimizer_bytes > limit ? MicroBatchPlan::Outcome::static_too_large
                 : m.total_bytes() <= limit ? MicroBatchPlan::Outcome::fits
                                            : MicroBatchPlan::Outcome::activations;
  return plan;
}

MicroBatchPlan plan_micro_batches(const Model& model, const Layout& layout, const TrainingSetup& setup,
                                  ExecutionMode mode, double capacity_factor, double device_memory_bytes,
                                  double headroom, std::int64_t max_micro_batches) {
  MicroBatchPlan plan;
  plan.outcome = MicroBatchPlan::Outcome::activations;
  // A pipeline needs at least pp micro-batches: pp, 2 pp, 4 pp, ... (pp = 1: 1, 2, 4, ...).
  const std::int64_t first = std::max<std::int64_t>(1, layout.pp);
  for (std::int64_t mb = first; mb <= max_micro_batches; mb *= 2) {
    MicroBatchPlan at = plan_micro_batch_count(model, layout, setup, mode, capacity_factor, device_memory_bytes,
                                               headroom, mb);
    if (at.outcome == MicroBatchPlan::Outcome::divisibility) {
      if (mb == first) {
        plan.outcome = at.outcome;
        plan.divisibility_error = std::move(at.divisibility_error);
      }
      return plan;  // more micro-batches than the batch splits into: the last count tried stands
    }
    plan = std::move(at);
    if (plan.outcome != MicroBatchPlan::Outcome::activations) return plan;  // fits, or static_too_large
  }
  return plan;
}

}  // namespace switchsim::workloads
