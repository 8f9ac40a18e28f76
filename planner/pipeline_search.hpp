#pragma once
// The pipeline part of the layout search (recommend --pp, --pp-schedule; candidates.hpp uses it).
//
// Stages (EnumerationOptions::pp):
//   auto (default)  pp = 1, plus every pp > 1 below when the mesh is a GPU cluster of more than
//                   one node (where pipelines are deployed: stages across nodes keep the tensor-
//                   and expert-parallel traffic on NVLink; Megatron-Core, DeepSeek-V3) or when no
//                   candidate fits at pp = 1 (the model needs the stages to fit). A TPU torus whose
//                   candidates fit is searched exactly as before.
//   all             pp = 1 and every pp > 1 below, on any mesh.
//   N               pp = N only (1: no pipelines). An N that does not divide the devices or is
//                   more than the layers is recorded as a rejection (kind "divisibility").
//   pp > 1 values: the divisors of the device count up to the pipeline's layers
//   (workloads::pipeline_layers); each (dp, ep, mp) triple of devices / pp devices per stage
//   (enumerate_layouts), every mapping inside a stage (the stage axis is outermost: layout.hpp).
// Schedules (EnumerationOptions::pp_schedule), each with its virtual stages:
//   auto (default)  1f1b, and interleaved with vpp in {2, 4} where vpp divides the layers per
//                   stage (which needs pp | layers; Megatron-Core's rule, layout.hpp). gpipe is
//                   left out: with equal stages its bubble is 1f1b's ((pp - 1) / (m + pp - 1)) and
//                   it holds all m micro-batches' activations where 1f1b holds at most pp
//                   (pipeline_schedule.hpp), so it is never better in time or memory.
//   all             gpipe as well.
//   gpipe | 1f1b | interleaved   that one (interleaved: vpp in {2, 4} as above; none valid:
//                   a rejection).
//   vpp is limited to {2, 4} (kVirtualStages): Megatron-Core's Mixtral reference uses 2 to 4
//   layers per virtual stage; more chunks shrink the bubble further at one more send per chunk.
// Micro-batches (m) with pp > 1: multiples of pp (the interleaved schedule needs pp | m, and
//   simulate's automatic choice takes them too: step_request.cpp). m0 = the smallest pp x 2^k
//   (<= --max-micro-batches) whose busiest stage fits memory (workloads/pipeline_memory.hpp) and
//   whose batch splits over dp x m; then m0, 2 m0 and 4 m0 (kMicroBatchMultiples, where they
//   split the batch and fit) are candidates: more micro-batches shrink the bubble
//   ((pp - 1) / (m + pp - 1)) but make every product smaller; the bounds (bounds.hpp, with the
//   bubble) and the simulation decide.
// ZeRO with pp > 1: the same stage loop as pp = 1 (candidates.cpp): `--zero auto` takes the lowest
//   stage at which the busiest pipeline stage fits (pipeline_memory.hpp divides each stage's state
//   over its own data-parallel groups), `all` every stage, N only N. The pipeline bound prices
//   each stage's gradient sync, ZeRO collectives and update (bounds.cpp, StageSync).
// Expert tensor parallelism: each stage's (dp, ep, mp) layouts include the folded ones of
//   EnumerationOptions::etp (candidates.hpp, enumerate_expert_layouts), as for pp = 1.

#include <cstdint>
#include <string>
#include <vector>

#include "planner/count_search.hpp"
#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/model.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "workloads/training.hpp"

namespace switchsim::planner {

inline constexpr std::int64_t kPpAuto = kCountAuto;    // "auto"
inline constexpr std::int64_t kPpEvery = kCountEvery;  // "all"
inline constexpr std::int32_t kScheduleAuto = -1;  // 1f1b and interleaved
inline constexpr std::int32_t kScheduleEvery = -2; // gpipe too
inline constexpr std::int64_t kVirtualStages[] = {2, 4};
inline constexpr std::int64_t kMicroBatchMultiples[] = {1, 2, 4};

// "auto", "all" or a positive count; InputError(field) otherwise (0 included).
[[nodiscard]] std::int64_t parse_pp_search(const std::string& text, const std::string& field = "--pp");
[[nodiscard]] std::string pp_search_to_string(std::int64_t pp);
// "auto", "all", gpipe, 1f1b, interleaved; InputError(field) otherwise.
[[nodiscard]] std::int32_t parse_schedule_search(const std::string& text, const std::string& field = "--pp-schedule");
[[nodiscard]] std::string schedule_search_to_string(std::int32_t schedule);

// The pp > 1 values to search for `devices` devices (divisors up to the pipeline's layers).
[[nodiscard]] std::vector<std::int64_t> pipeline_depths(const workloads::Model& model, std::int64_t devices);
// Whether `auto` searches pp > 1 on this mesh before knowing whether pp = 1 fits (a multi-node GPU cluster).
[[nodiscard]] bool pipelines_by_default(const topology::Mesh& mesh);

// A schedule and its virtual stages.
struct PipelineVariant {
  workloads::PipelineSchedule schedule = workloads::PipelineSchedule::one_f_one_b;
  std::int64_t vpp = 1;
};
// The variants of `schedule_search` for pp stages of the model's layers (above); empty with
// `why` set when the asked schedule has none (interleaved with no vpp dividing the layers per stage).
[[nodiscard]] std::vector<PipelineVariant> pipeline_variants(const workloads::Model& model, std::int64_t pp,
                                                             std::int32_t schedule_search, std::string& why);

// Micro-batch plans for a pipelined layout (layout.pp > 1, vpp and setup.pp_schedule set): the
// counts above that fit, each with its busiest stage's memory; empty when none fits, with `failed`
// holding the last plan tried (its outcome says why: as workloads::plan_micro_batches).
struct PipelinePlans {
  std::vector<workloads::MicroBatchPlan> fitting;
  workloads::MicroBatchPlan failed;
};
[[nodiscard]] PipelinePlans plan_pipeline_micro_batches(const workloads::Model& model, const workloads::Layout& layout,
                                                        const workloads::TrainingSetup& setup,
                                                        workloads::ExecutionMode mode, double capacity_factor,
                                                        double device_memory_bytes, double headroom,
                                                        std::int64_t max_micro_batches);

}  // namespace switchsim::planner
