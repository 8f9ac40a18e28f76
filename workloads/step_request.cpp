#include "workloads/step_request.hpp"

#include <cmath>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/fp8.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/zero_sharding.hpp"

namespace switchsim::workloads {

ResolvedStep resolve_step_request(const StepRequest& q) {
  ResolvedStep r;
  r.model = load_model(q.model, "--model");
  if (!(q.capacity_factor > 0.0) || !std::isfinite(q.capacity_factor)) {
    throw InputError("--capacity-factor", "must be a positive number");
  }
  r.mesh = std::make_unique<topology::Mesh>(topology::build_mesh(q.mesh));
  const std::int64_t devices = r.mesh->topology.num_devices();
  if (q.layout.empty()) {
    r.layout.dp = devices;
    r.layout.mp = 1;
    r.layout.ep = 1;
    if (r.model.is_moe()) {
      for (std::int64_t ep = std::min<std::int64_t>(devices, r.model.experts); ep >= 1; --ep) {
        if (devices % ep == 0 && r.model.experts % ep == 0) {
          r.layout.ep = ep;
          break;
        }
      }
    }
  } else {
    r.layout = parse_layout(q.layout, "--layout");
  }
  validate_layout(r.layout, r.model, devices, "--layout");
  StepOptions& o = r.options;
  o.capacity_factor = q.capacity_factor;
  o.routing = parse_routing(q.routing, "--routing");
  if (r.model.is_moe()) check_routing_for_model(o.routing, r.model.experts, "--routing");
  o.mode = parse_mode(q.mode, "--mode");
  o.seed = q.seed;
  if (q.max_nodes_per_token && *q.max_nodes_per_token < 1) throw InputError("--max-nodes-per-token", "must be at least 1");
  if (q.max_devices_per_token && *q.max_devices_per_token < 1) {
    throw InputError("--max-devices-per-token", "must be at least 1");
  }
  o.routing_limit.max_nodes = q.max_nodes_per_token.value_or(0);
  o.routing_limit.max_devices = q.max_devices_per_token.value_or(0);
  o.dispatch = parse_dispatch(q.dispatch, "--dispatch");
  o.network = sim::network_options_from_flags(q.network_tolerance, q.load_model_above);
  o.training.batch_tokens = q.batch_tokens;
  o.training.micro_batches = q.micro_batches.value_or(1);
  o.training.group_tokens = q.group_tokens;
  o.training.precision = parse_precision(q.precision, "--precision");
  o.training.fp8_dispatch = q.fp8_dispatch;
  validate_precision(o.training, r.mesh->device_kind, !q.profile.empty());
  o.training.optimizer = parse_optimizer(q.optimizer, "--optimizer");
  o.training.rematerialize = q.rematerialize;
  o.training.grad_sync = parse_grad_sync(q.grad_sync, r.mesh->is_tpu(), "--grad-sync");
  o.training.zero_stage = parse_zero_stage(q.zero, "--zero");
  // Resolved here (mesh and mode are known), so a refused combination fails before any work.
  o.training.moe_impl = resolve_moe_impl(parse_moe_impl(q.moe_impl, "--moe-impl"), r.mesh->is_tpu(),
                                         o.mode == ExecutionMode::dropless, "--moe-impl");
  o.network_model = parse_network_model(q.network_model, "--network-model");
  o.strict_priority = parse_comm_priority(q.comm_priority, "--comm-priority");
  o.training.pp_schedule = q.pp_schedule == "auto" ? (r.layout.vpp > 1 ? PipelineSchedule::interleaved
                                                                         : PipelineSchedule::one_f_one_b)
                                                   : parse_pipeline_schedule(q.pp_schedule, "--pp-schedule");
  // Limits and dispatch checked against mesh, layout and model before any work.
  (void)resolve_routing_plan(o.routing_limit, o.dispatch, *r.mesh, r.layout, r.model, o.training.moe_impl, o.routing);
  if (!q.micro_batches) {
    const MicroBatchPlan plan = plan_micro_batches(r.model, r.layout, o.training, o.mode, o.capacity_factor,
                                                   topology::device_spec(r.mesh->device_kind).memory_bytes);
    o.training.micro_batches = plan.micro_batches;  // 1 when the batch does not split: derive_step_shape says why
    o.training.micro_batches_chosen = true;
    if (r.layout.pp > 1) {
      // At least pp micro-batches, a multiple of pp, that split the batch (step_request.hpp).
      TrainingSetup t = o.training;
      for (std::int64_t k = (plan.micro_batches + r.layout.pp - 1) / r.layout.pp; k <= kDefaultMaxMicroBatches; ++k) {
        t.micro_batches = k * r.layout.pp;
        try {
          (void)derive_step_shape(t, r.model, r.layout);
        } catch (const InputError&) {
          continue;
        }
        o.training.micro_batches = t.micro_batches;
        break;
      }
    }
  }
  if (r.layout.pp > 1) {
    validate_pipeline_schedule(o.training.pp_schedule, r.layout.pp, r.layout.vpp, o.training.micro_batches);
  }
  (void)derive_step_shape(o.training, r.model, r.layout);  // batch errors before any work
  r.cost = make_cost_model(r.mesh->device_kind, q.profile);
  return r;
}

}  // namespace switchsim::workloads
