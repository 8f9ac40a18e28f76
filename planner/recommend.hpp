#pragma once
// `switchsim recommend`: the best layouts and capacity factors for a model on
// a mesh (DESIGN.md 2.8).
//
// 1. enumerate_candidates (candidates.hpp): layouts x mappings x modes, the
//    micro-batch count memory needs, memory rejections with their numbers.
// 2. Lower bounds (bounds.hpp) per candidate; candidates are evaluated best
//    bound first, in waves of `wave` candidates. Before each wave the K-th best
//    objective value among the evaluated candidates that meet the constraint
//    is the incumbent; a candidate whose bound cannot reach it (strictly worse)
//    is pruned, and since the order is by bound, so is every later one.
//    Pruning is exact for the top K: a pruned candidate's simulated value is
//    worse than K evaluated ones. (The Pareto front is over the evaluated
//    candidates; `prune = false` evaluates all of them.)
//      throughput / effective-throughput  bound: batch_tokens / step-time bound
//      memory                             bound: the memory estimate (exact with padded
//                                         buffers, a lower bound of the routed loads for
//                                         grouped: candidates.hpp)
//    Every collective (bounds and steps) runs on the flow-level network with
//    the completion window `network_tolerance` (default 0.01; 0 = exact).
// 3. Each evaluated candidate runs workloads::simulate_step for `samples`
//    routing seeds seed, seed+1, ... (the same seeds for every candidate:
//    common random numbers, so candidates compare on the same routing). A wave
//    runs every candidate's first seed, then the other seeds only for those
//    whose mean could still reach the incumbent with every other seed at its
//    bound (exact as the pruning: recommend.cpp; `pruned_after_first_seed`). The
//    (candidate, seed) runs of a wave go to a pool of `threads` std::threads
//    sharing one sim::CollectiveCache; results land in fixed slots, and the
//    waves and the pruning do not depend on the thread count, so neither does
//    the result.
// 4. Ranking by the objective:
//      throughput            mean tokens/s, among candidates with mean drop fraction <= max_drop
//      effective-throughput  mean of tokens/s x (1 - drop fraction): tokens experts actually
//                            process per second (no drop limit: drops are in the objective)
//      memory                memory per device ascending, among candidates with drop <= max_drop,
//                            ties by tokens/s
//    Ties go to the smaller memory, then the enumeration order.
//    Pareto front: evaluated candidates that no other evaluated candidate
//    dominates on (tokens/s up, drop fraction down, memory per device down).
// A candidate whose simulated memory (dropless or grouped: the busiest load)
// does not fit the memory limit after all moves to the rejections.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cost_model.hpp"
#include "planner/bounds.hpp"
#include "planner/candidates.hpp"
#include "sim/step_executor.hpp"
#include "topology/mesh.hpp"
#include "workloads/model.hpp"
#include "workloads/routing.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::planner {

enum class Objective : std::uint8_t { throughput, effective_throughput, memory };

inline constexpr double kDefaultNetworkTolerance = 0.01;
inline constexpr std::int32_t kDefaultLoadModelAboveDevices = 64;

[[nodiscard]] const char* to_string(Objective o);
[[nodiscard]] Objective parse_objective(const std::string& text, const std::string& field = "--objective");

// Where a search stands, after the bounds and after each wave of evaluations.
struct SearchProgress {
  std::int64_t candidates = 0;  // feasible candidates (enumeration)
  std::int64_t examined = 0;    // taken from the bound order so far (evaluated or rejected by simulated memory)
  std::int64_t evaluated = 0;   // simulated and kept
  std::int64_t pruned_after_first_seed = 0;  // examined, simulated at the first seed only (step 3)
  bool finished = false;        // the rest is pruned or none is left
  bool has_best = false;        // an eligible candidate has been evaluated
  double best_objective = 0.0;  // its objective value: tokens/s, or -bytes per device for memory
  double elapsed_s = 0.0;
};

struct SearchOptions {
  EnumerationOptions enumeration;
  workloads::RoutingSpec routing;  // default uniform
  std::int64_t samples = 4;
  std::uint64_t seed = 0;
  Objective objective = Objective::throughput;
  double max_drop = 0.01;
  std::int64_t top = 5;
  std::int32_t threads = 0;  // 0: std::thread::hardware_concurrency()
  bool prune = true;
  std::int64_t wave = 8;     // candidates per branch-and-bound wave (not the thread count: determinism)
  bool exact_collective_bounds = true;  // bounds price collectives through the shared cache (bounds.hpp)
  // Relative completion window of the flow-level network (sim::NetworkOptions::
  // completion_window, transfer_simulation.hpp): 0 = the exact fluid model;
  // the default 0.01 lets flows within 1% of their elapsed time finish
  // together (measured error in docs/network.md). Recorded in the JSON inputs.
  double network_tolerance = kDefaultNetworkTolerance;
  // Direct all-to-alls over more devices than this use the per-link load model
  // (sim/collective.hpp) instead of the flow simulation. A dropless step has one
  // non-uniform all-to-all per Switch layer and expert-parallel replica (960 of
  // 128-way ones for Switch-C at ep=128), each 0.15 s (128-way) to 6 s (512-way)
  // as a windowed flow simulation and 1-10 ms as the load model, which measured
  // 0-8.5% above the flow simulation (docs/network.md). 0 = never.
  std::int32_t load_model_above_devices = kDefaultLoadModelAboveDevices;
  // The network model of the final ranking (workloads::NetworkModel). The search
  // (bounds, pruning, every candidate's simulation) uses the isolated model with
  // its memo; with `shared`, the best `rerank` eligible candidates are then
  // simulated again on the shared network (same seeds) and ranked by that.
  // Pruning is exact with respect to the isolated search; contention can reorder
  // the top, which the re-rank catches among the candidates it re-simulates.
  workloads::NetworkModel network_model = workloads::NetworkModel::shared;
  std::int64_t rerank = 5;
  bool strict_priority = false;  // --comm-priority all-to-all (shared model)
  // Called on the calling thread after the bounds and after each wave (e.g. a
  // progress line); not part of the result. Empty: nothing is called.
  std::function<void(const SearchProgress&)> on_progress;
};

// The network options every collective of a search runs with.
[[nodiscard]] sim::NetworkOptions network_options(const SearchOptions& options);

struct Evaluation {
  Candidate candidate;
  StepBound bound;
  std::int64_t expert_capacity = 0;
  workloads::Spread step_time_s;
  workloads::Spread tokens_per_s;
  workloads::Spread drop_fraction;
  double effective_tokens_per_s = 0.0;  // mean over seeds of tokens/s x (1 - drop fraction)
  workloads::MemoryEstimate memory;     // the seed with the largest total
  sim::CriticalPathBreakdown breakdown; // mean over seeds
  double compute_lower_bound_s = 0.0;   // simulated busiest compute stream (first seed)
  double uncertainty_s = 0.0;           // mean over seeds of the compute-cost band (workloads/op_accounting.hpp)
  bool meets_drop_limit = false;
  bool reranked = false;                 // simulated again on the shared network (or reused, below)
  // No seed's search step had two collectives in flight at once, so the shared network gives the
  // same steps (sim::collectives_overlap): the re-rank reuses them instead of simulating again.
  bool collectives_alone = false;
  double isolated_step_time_s = 0.0;     // the search's (isolated model) mean step time
  [[nodiscard]] double memory_per_device_bytes() const { return memory.total_bytes(); }
};

struct Recommendation {
  std::size_t evaluation = 0;  // index into RecommendResult::evaluated
  std::int64_t rank = 0;       // 1-based
  std::string why;
};

struct RecommendResult {
  std::string model;
  std::string mesh;
  std::string mesh_file;  // a custom mesh: the file it was read from (the label is `mesh`, its "name")
  std::string device_kind;
  bool tpu = false;  // a TPU mesh (platform caveats, workloads/moe_impl.hpp)
  std::int32_t devices = 0;
  std::string cost_model;
  SearchOptions options;
  std::int32_t threads_used = 0;
  std::int64_t layouts = 0;
  std::int64_t mappings = 0;
  std::int64_t candidates = 0;               // feasible candidates before pruning
  bool pipelines = false;                    // pp > 1 layouts were searched (pipeline_search.hpp)
  std::vector<Evaluation> evaluated;         // in enumeration order
  std::vector<Recommendation> recommendations;  // best first, at most `top`
  std::vector<std::size_t> ranking;          // every eligible evaluation, best first
  std::vector<std::size_t> pareto;           // indices into evaluated, by tokens/s descending
  std::vector<Rejection> rejected;
  std::int64_t pruned = 0;
  std::int64_t pruned_after_first_seed = 0;  // of `pruned`: simulated at the first seed only (step 3)
  std::int64_t reranked = 0;              // candidates simulated again on the shared network
  std::int64_t rerank_reused = 0;         // of those, reused from the search (Evaluation::collectives_alone)
  bool rerank_changed_top = false;        // the best layout differs from the isolated search's
  std::string isolated_top;               // the isolated search's best (label), when re-ranked
  double wall_s = 0.0;
};

// Throws InputError (naming the flag) for bad options.
[[nodiscard]] RecommendResult recommend(const workloads::Model& model, const topology::Mesh& mesh,
                                        const SearchOptions& options, const kernels::CostModel& cost);

// Simulates one candidate over `samples` seeds (seed, seed+1, ...) on the caller's thread.
// `cache` should be built with network_options(options) to reproduce recommend().
[[nodiscard]] Evaluation evaluate_candidate(const workloads::Model& model, const topology::Mesh& mesh,
                                            const Candidate& candidate, const SearchOptions& options,
                                            const kernels::CostModel& cost, sim::CollectiveCache& cache);

}  // namespace switchsim::planner
