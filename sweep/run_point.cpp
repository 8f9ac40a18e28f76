#include "sweep/run_point.hpp"

#include <algorithm>
#include <memory>

#include "common/errors.hpp"
#include "common/resource_limits.hpp"
#include "sweep/device_what_ifs.hpp"
#include "sweep/recommend_point.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/resource_estimate.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

namespace switchsim::sweep {
namespace {

// The device what-ifs on a resolved step: the cost model's ceilings and, when the
// micro-batch count was not given, the count that fits the scaled memory.
void apply_device_what_ifs(const WhatIf& w, const PointRequest& q, workloads::ResolvedStep& step) {
  const topology::DeviceSpec& spec = topology::device_spec(step.mesh->device_kind);
  if (auto cost = scaled_cost_model(w, step.mesh->device_kind, q.step.profile)) step.cost = std::move(cost);
  if (w.hbm_bytes != 1.0 && !q.step.micro_batches) {
    workloads::StepOptions& o = step.options;
    const workloads::MicroBatchPlan plan = workloads::plan_micro_batches(
        step.model, step.layout, o.training, o.mode, o.capacity_factor, spec.memory_bytes * w.hbm_bytes);
    o.training.micro_batches = plan.micro_batches;
    (void)workloads::derive_step_shape(o.training, step.model, step.layout);
  }
}

// The result's figures that name the device: its memory limit (fits_memory) and the MFU's peak.
void apply_to_result(const WhatIf& w, workloads::StepResult& r) {
  r.memory.device_memory_bytes *= w.hbm_bytes;
  r.model_flops.peak_flops_per_device *= w.peak_flops;
  r.model_flops.mfu /= w.peak_flops;
}

json run(const Point& p, Command command, const PointOptions& options) {
  if (command == Command::recommend) return run_recommend_point(p.inputs, p.what_if, options.force);
  PointRequest q = request_from_json(p.inputs, "inputs");
  std::vector<double> factors;
  if (command == Command::capacity) {
    factors = workloads::parse_factors(q.factors, "factors");
    if (q.samples <= 0) throw InputError("samples", "must be positive");
    // As `capacity` does: the largest factor needs the most memory; micro-batches chosen for it fit every row.
    q.step.capacity_factor = *std::max_element(factors.begin(), factors.end());
  }
  workloads::ResolvedStep step = workloads::resolve_step_request(q.step);
  apply_to_mesh(p.what_if, *step.mesh);
  apply_device_what_ifs(p.what_if, q, step);
  check_resources("--force", workloads::estimate_step_resources(step.model, step.layout, step.options),
                  options.force);
  if (command == Command::capacity) {
    if (step.options.mode == workloads::ExecutionMode::dropless && p.inputs.contains("factors")) {
      throw InputError("factors", "dropless mode has no capacity factor to sweep");
    }
    std::vector<workloads::CapacityRow> rows =
        workloads::capacity_sweep(step.model, *step.mesh, step.layout, step.options, factors, q.samples, *step.cost);
    for (workloads::CapacityRow& row : rows) apply_to_result(p.what_if, row.first);
    return workloads::to_json(rows);
  }
  workloads::StepResult r = workloads::simulate_step(step.model, *step.mesh, step.layout, step.options, *step.cost);
  apply_to_result(p.what_if, r);
  return workloads::to_json(r);
}

}  // namespace

json run_point(const Point& point, Command command, const PointOptions& options) {
  json line;
  line["id"] = point.id;
  line["inputs"] = point.inputs;
  try {
    json result = run(point, command, options);
    result.erase("provenance");  // once per sweep (results.jsonl's readers: the spec and the tool's version)
    line["result"] = std::move(result);
  } catch (const InputError& e) {
    line["error"] = {{"field", e.field()}, {"message", e.reason()}};
  } catch (const std::exception& e) {
    line["error"] = {{"field", ""}, {"message", e.what()}};
  }
  return line;
}

}  // namespace switchsim::sweep
