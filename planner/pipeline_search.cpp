#include "planner/pipeline_search.hpp"

#include "common/errors.hpp"
#include "workloads/pipeline_memory.hpp"

namespace switchsim::planner {

using workloads::PipelineSchedule;

std::int64_t parse_pp_search(const std::string& text, const std::string& field) {
  return parse_count_search(text, field,
                            "'auto' (pipelines where they are deployed or needed), 'all' or a positive stage count");
}

std::string pp_search_to_string(std::int64_t pp) { return count_search_to_string(pp); }

std::int32_t parse_schedule_search(const std::string& text, const std::string& field) {
  if (text == "auto") return kScheduleAuto;
  if (text == "all") return kScheduleEvery;
  if (text == "gpipe" || text == "1f1b" || text == "interleaved") {
    return static_cast<std::int32_t>(workloads::parse_pipeline_schedule(text, field));
  }
  throw InputError(field, "unknown pipeline schedule '" + text + "' (auto, all, gpipe, 1f1b, interleaved)");
}

std::string schedule_search_to_string(std::int32_t schedule) {
  if (schedule == kScheduleAuto) return "auto";
  if (schedule == kScheduleEvery) return "all";
  return workloads::to_string(static_cast<PipelineSchedule>(schedule));
}

std::vector<std::int64_t> pipeline_depths(const workloads::Model& model, std::int64_t devices) {
  std::vector<std::int64_t> out;
  const std::int64_t layers = workloads::pipeline_layers(model);
  for (std::int64_t pp = 2; pp <= devices && pp <= layers; ++pp)
    if (devices % pp == 0) out.push_back(pp);
  return out;
}

bool pipelines_by_default(const topology::Mesh& mesh) {
  return mesh.structure.family == topology::MeshFamily::gpu_cluster && mesh.structure.nodes > 1;
}

std::vector<PipelineVariant> pipeline_variants(const workloads::Model& model, std::int64_t pp,
                                               std::int32_t schedule_search, std::string& why) {
  std::vector<PipelineVariant> out;
  const bool every = schedule_search == kScheduleEvery;
  const bool any = schedule_search == kScheduleAuto || every;
  auto is = [&](PipelineSchedule s) { return schedule_search == static_cast<std::int32_t>(s); };
  if (every || is(PipelineSchedule::gpipe)) out.push_back({PipelineSchedule::gpipe, 1});
  if (any || is(PipelineSchedule::one_f_one_b)) out.push_back({PipelineSchedule::one_f_one_b, 1});
  if (any || is(PipelineSchedule::interleaved)) {
    const std::int64_t layers = workloads::pipeline_layers(model);
    bool some = false;
    for (std::int64_t v : kVirtualStages) {
      if (layers % pp != 0 || (layers / pp) % v != 0) continue;
      out.push_back({PipelineSchedule::interleaved, v});
      some = true;
    }
    if (!some && !any) {
      why = "the interleaved schedule needs vpp (2 or 4) to divide the layers per stage (" + std::to_string(layers) +
            " layers / pp=" + std::to_string(pp) + (layers % pp != 0 ? " is not whole)" : ")");
    }
  }
  return out;
}

PipelinePlans plan_pipeline_micro_batches(const workloads::Model& model, const workloads::Layout& layout,
                                          const workloads::TrainingSetup& setup, workloads::ExecutionMode mode,
                                          double capacity_factor, double device_memory_bytes, double headroom,
                                          std::int64_t max_micro_batches) {
  using Outcome = workloads::MicroBatchPlan::Outcome;
  PipelinePlans out;
  out.failed.outcome = Outcome::activations;
  // One count (workloads/micro_batches.hpp); false when the batch does not split.
  auto plan_at = [&](std::int64_t mb, workloads::MicroBatchPlan& plan) {
    plan = workloads::plan_micro_batch_count(model, layout, setup, mode, capacity_factor, device_memory_bytes,
                                             headroom, mb);
    return plan.outcome != Outcome::divisibility;
  };
  std::int64_t m0 = 0;
  for (std::int64_t mb = layout.pp; mb <= max_micro_batches; mb *= 2) {
    workloads::MicroBatchPlan plan;
    if (!plan_at(mb, plan)) {
      if (mb == layout.pp) {
        out.failed = plan;
        out.failed.micro_batches = mb;
        out.failed.outcome = Outcome::divisibility;
      }
      return out;  // more micro-batches than the batch splits into
    }
    out.failed = plan;
    if (plan.outcome == Outcome::static_too_large) return out;
    if (plan.fits()) {
      m0 = mb;
      break;
    }
  }
  if (m0 == 0) {
    if (layout.pp > max_micro_batches) {
      out.failed.outcome = Outcome::divisibility;
      out.failed.divisibility_error = "--max-micro-batches " + std::to_string(max_micro_batches) +
                                      " is fewer than the pp=" + std::to_string(layout.pp) + " a pipeline needs";
    }
    return out;
  }
  for (std::int64_t k : kMicroBatchMultiples) {
    const std::int64_t mb = m0 * k;
    if (mb > max_micro_batches) break;
    workloads::MicroBatchPlan plan;
    if (!plan_at(mb, plan)) break;
    if (plan.fits()) out.fitting.push_back(plan);
  }
  return out;
}

}  // namespace switchsim::planner
