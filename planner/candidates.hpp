#pragma once
// Enumeration of the layout search space and the cheap feasibility checks
// that run before any simulation (DESIGN.md 2.8).
//
// Layouts: every (dp, ep, mp) with dp * mp = devices, ep | dp, ep | experts
// (dense models: ep = 1), mp | heads and mp | d_ff.
// Mappings: workloads::Layout::order lists the logical axes mp, ep, rep
// innermost first (rep = dp / ep). An axis of size 1 does not move any device,
// so two orders that agree once the size-1 axes are removed give the same
// device ids and cost the same; one order per distinct reduced order is kept
// (3 axes of size > 1: 6 mappings; 2: 2; 0 or 1: 1). The default order
// mp.ep.rep (most talkative axis on the fastest links) comes first.
// Modes: capacity mode for each factor of SearchOptions::factors, plus
// dropless when asked. Each mode runs the MoE implementation the training setup
// asks for (workloads/moe_impl.hpp), resolved per mode: auto is einsum (TPU) or
// gather (GPU) in capacity mode and grouped when dropless; an explicit einsum or
// gather skips the dropless mode (they need a capacity), and grouped runs both.
// ZeRO stage (EnumerationOptions::zero, workloads/zero_sharding.hpp): kZeroLowest (the default)
// takes per layout and mode the lowest stage in 0..3 whose memory fits (so every layout that fits
// unsharded is searched exactly as before, and a layout rejected for memory becomes a candidate
// at the first stage that makes it fit); kZeroEvery makes every fitting stage a candidate (the
// ranking then picks a higher stage only when it simulates faster); 0..3 fixes the stage. Stages
// above 0 are skipped where nothing has replicas to shard over (dp = 1). A rejection says the
// highest stage tried.
// Micro-batches and memory: each candidate takes the smallest count in 1, 2, 4,
// ... that fits headroom x device memory (workloads/micro_batches.hpp, shared
// with simulate's automatic choice; the slots per device it plans with are
// exact for padded capacity buffers and a lower bound for dropless and for the
// grouped GEMM with a capacity factor, whose simulated busiest load is checked
// again after the evaluation).
// Pipelines (EnumerationOptions::pp, pp_schedule): pipeline_search.hpp; pp > 1 candidates come
// after every pp = 1 one, so a search without pipelines lists the same candidates as before.
// Expert tensor parallelism (EnumerationOptions::etp; folded layouts, workloads/layout.hpp and
// expert_tensor_parallel.hpp): beside each unfolded (dp, ep, mp) layout with mp > 1 the search
// adds folded ones, the expert layers at etp < mp over the same devices (Megatron-Core's MoE
// parallel folding): for each such etp (etp | mp, etp | the expert width) every ep with
// ep | experts and ep x etp | mp x dp (ep may exceed dp: the expert grid spans the tp ranks).
//   auto (default)  etp = 1 folded layouts on GPU meshes (where parallel folding is deployed: its
//                   reference configurations keep attention at tp > 1 and run the experts at
//                   etp = 1, Liu et al. 2025), none on TPU meshes;
//   all             every etp | mp below mp, on any mesh;
//   N               only layouts whose experts run at etp = N (unfolded ones with mp = N, folded
//                   ones with N | mp and N < mp).
// A folded layout has one mapping (its device ids do not depend on the axis order: layout.hpp).
// Its routing must split into mp / etp token slices (expert_tensor_parallel.hpp); where the batch's
// routing groups do not, the layout is a "divisibility" rejection naming --layout.etp.

#include <cstdint>
#include <string>
#include <vector>

#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/memory.hpp"
#include "workloads/micro_batches.hpp"
#include "planner/pipeline_search.hpp"
#include "workloads/model.hpp"
#include "workloads/routing.hpp"
#include "workloads/training.hpp"

namespace switchsim::planner {

struct Candidate {
  workloads::Layout layout;
  double capacity_factor = 1.0;  // ignored by (reported as 0 in) dropless mode
  workloads::ExecutionMode mode = workloads::ExecutionMode::capacity;
  workloads::MoeImpl moe_impl = workloads::MoeImpl::gather;  // resolved for the mode (never automatic)
  std::int64_t micro_batches = 1;
  std::int32_t zero = 0;             // ZeRO stage (workloads/zero_sharding.hpp)
  // The pipeline schedule (layout.pp > 1; layout.vpp its virtual stages): pipeline_search.hpp.
  workloads::PipelineSchedule schedule = workloads::PipelineSchedule::one_f_one_b;
  workloads::MemoryEstimate memory;  // padded capacity: exact; dropless or grouped: lower bound (pp > 1: the busiest stage)
  [[nodiscard]] std::string mapping() const;  // "mp.ep.rep"
  // "dp=32,ep=32,mp=1,order=mp.ep.rep cf=1.25 capacity mb=1" (+ " zero=N" when N > 0; the layout's
  // pp and vpp and " 1f1b" etc. when pp > 1)
  [[nodiscard]] std::string label() const;
};

struct Rejection {
  workloads::Layout layout;
  double capacity_factor = 0.0;
  workloads::ExecutionMode mode = workloads::ExecutionMode::capacity;
  std::int64_t micro_batches = 1;
  std::int32_t zero = 0;                 // the highest ZeRO stage tried
  workloads::PipelineSchedule schedule = workloads::PipelineSchedule::one_f_one_b;  // pp > 1
  double memory_per_device_bytes = 0.0;  // 0 when the rejection is not about memory
  double memory_limit_bytes = 0.0;
  std::string reason;
  // Machine-readable class of `reason`: "divisibility" (the batch or the routing
  // groups do not split over the layout), "memory" (parameters, gradients and
  // optimizer state alone exceed the limit), "activation_memory" (the step does
  // not fit even at the most micro-batches), "simulated_memory" (a dropless
  // candidate whose simulated busiest expert load does not fit), "unsupported" (a
  // combination the step does not model yet: ZeRO with pp > 1, pipeline_search.hpp).
  std::string reason_kind;
};

// EnumerationOptions::zero: a stage 0..3, or one of these searches.
inline constexpr std::int32_t kZeroLowest = -1;  // "auto": the lowest stage that fits
inline constexpr std::int32_t kZeroEvery = -2;   // "all": every stage that fits
// "auto", "all" or 0..3; InputError(field) otherwise.
[[nodiscard]] std::int32_t parse_zero_search(const std::string& text, const std::string& field = "--zero");
[[nodiscard]] std::string zero_search_to_string(std::int32_t zero);

// EnumerationOptions::etp: a degree N > 0, or one of these searches.
inline constexpr std::int64_t kEtpAuto = kCountAuto;    // "auto": etp = 1 folded layouts on GPU meshes
inline constexpr std::int64_t kEtpEvery = kCountEvery;  // "all": every etp below mp
// "auto", "all" or a positive count; InputError(field) otherwise (0 included).
[[nodiscard]] std::int64_t parse_etp_search(const std::string& text, const std::string& field = "--etp");
[[nodiscard]] std::string etp_search_to_string(std::int64_t etp);

struct EnumerationOptions {
  workloads::TrainingSetup training;  // micro_batches is chosen per candidate
  std::vector<double> factors{1.0, 1.25, 1.5, 2.0};
  bool dropless = true;
  double memory_headroom = 0.9;       // fraction of device memory a candidate may use
  std::int64_t max_micro_batches = 64;
  std::int32_t zero = kZeroLowest;  // training.zero_stage is set per candidate
  std::int64_t pp = kPpAuto;                 // pipeline stages to search (pipeline_search.hpp)
  std::int32_t pp_schedule = kScheduleAuto;  // schedules to search; training.pp_schedule is set per candidate
  std::int64_t etp = kEtpAuto;               // expert tensor-parallel degrees to search (above)
};

struct Enumeration {
  // deterministic order: pp (1 first), mp, ep, [schedule, vpp,] mapping, factors then dropless[, micro-batches]
  std::vector<Candidate> candidates;
  std::vector<Rejection> rejected;
  std::int64_t layouts = 0;           // (dp, ep, mp, pp) tuples
  std::int64_t mappings = 0;          // (dp, ep, mp, pp, order) tuples
  bool pipelines = false;             // pp > 1 was searched (--pp auto decides per mesh: pipeline_search.hpp)
};

// The (dp, ep, mp) triples, mp ascending then ep ascending, default order.
[[nodiscard]] std::vector<workloads::Layout> enumerate_layouts(const workloads::Model& model, std::int64_t devices);
// enumerate_layouts with the folded layouts of `etp_search` (above; `gpu_mesh` resolves auto): per
// mp ascending, its unfolded layouts, then its folded ones (etp ascending, ep ascending); with
// etp_search = N only those whose experts run at etp = N.
[[nodiscard]] std::vector<workloads::Layout> enumerate_expert_layouts(const workloads::Model& model, std::int64_t devices,
                                                                      std::int64_t etp_search, bool gpu_mesh);
// The orders of `layout` that differ in device placement, the default first (a folded layout: itself).
[[nodiscard]] std::vector<workloads::Layout> enumerate_mappings(const workloads::Layout& layout);

// The training setup a candidate runs with: `options` with the candidate's micro-batches and
// resolved MoE implementation.
[[nodiscard]] workloads::TrainingSetup candidate_setup(const workloads::TrainingSetup& options, const Candidate& c);

[[nodiscard]] Enumeration enumerate_candidates(const workloads::Model& model, const topology::Mesh& mesh,
                                               const EnumerationOptions& options);

}  // namespace switchsim::planner
