#include "planner/recommend.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <numeric>
#include <thread>

#include "common/errors.hpp"

namespace switchsim::planner {
namespace {

using workloads::ExecutionMode;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

workloads::StepOptions step_options(const Candidate& c, const SearchOptions& o, std::uint64_t seed,
                                    sim::CollectiveCache* cache, workloads::RoutingCache* routing = nullptr) {
  workloads::StepOptions so;
  so.training = candidate_setup(o.enumeration.training, c);
  so.capacity_factor = c.mode == ExecutionMode::dropless ? 1.0 : c.capacity_factor;
  so.routing = o.routing;
  so.mode = c.mode;
  so.seed = seed;
  so.cache = cache;
  so.routing_cache = routing;
  so.network_model = workloads::NetworkModel::isolated;  // the search; re-ranked afterwards (recommend.hpp)
  so.strict_priority = o.strict_priority;
  return so;
}

Evaluation aggregate(const Candidate& c, const StepBound& bound, const std::vector<workloads::StepResult>& runs,
                     const SearchOptions& o) {
  SWITCHSIM_ASSERT(!runs.empty(), "at least one sample per candidate");
  Evaluation e;
  e.candidate = c;
  e.bound = bound;
  e.expert_capacity = runs.front().expert_capacity;
  e.compute_lower_bound_s = runs.front().compute_lower_bound_s;
  std::vector<double> t, tps, drop;
  double eff = 0.0;
  for (const workloads::StepResult& r : runs) {
    t.push_back(r.step_time_s);
    tps.push_back(r.tokens_per_s);
    drop.push_back(r.drop_fraction);
    eff += r.tokens_per_s * (1.0 - r.drop_fraction);
    if (r.memory.total_bytes() > e.memory.total_bytes()) e.memory = r.memory;
    e.breakdown.compute_s += r.breakdown.compute_s;
    e.breakdown.all_to_all_s += r.breakdown.all_to_all_s;
    e.breakdown.all_reduce_s += r.breakdown.all_reduce_s;
    e.breakdown.other_communication_s += r.breakdown.other_communication_s;
    e.breakdown.idle_s += r.breakdown.idle_s;
    e.uncertainty_s += r.op_accounting.uncertainty_s;
  }
  e.collectives_alone = std::none_of(runs.begin(), runs.end(),
                                     [](const workloads::StepResult& r) { return r.collectives_overlap; });
  const double n = static_cast<double>(runs.size());
  e.breakdown.compute_s /= n;
  e.breakdown.all_to_all_s /= n;
  e.breakdown.all_reduce_s /= n;
  e.breakdown.other_communication_s /= n;
  e.breakdown.idle_s /= n;
  e.uncertainty_s /= n;
  e.effective_tokens_per_s = eff / n;
  e.step_time_s = workloads::spread_of(t);
  e.tokens_per_s = workloads::spread_of(tps);
  e.drop_fraction = workloads::spread_of(drop);
  e.meets_drop_limit = e.drop_fraction.mean <= o.max_drop;
  return e;
}

bool eligible(const Evaluation& e, Objective obj) {
  return obj == Objective::effective_throughput || e.meets_drop_limit;
}

// Larger is better.
double objective_value(const Evaluation& e, Objective obj) {
  switch (obj) {
    case Objective::throughput: return e.tokens_per_s.mean;
    case Objective::effective_throughput: return e.effective_tokens_per_s;
    case Objective::memory: return -e.memory_per_device_bytes();
  }
  return 0.0;
}

// The best value a candidate could reach (larger is better), from its bounds.
double bound_value(const Candidate& c, const StepBound& b, const SearchOptions& o, Objective obj) {
  if (obj == Objective::memory) return -c.memory.total_bytes();
  const double t = b.step_time_s();
  return t > 0.0 ? static_cast<double>(o.enumeration.training.batch_tokens) / t : HUGE_VAL;
}

// a ranks before b.
bool ranks_before(const Evaluation& a, std::size_t ia, const Evaluation& b, std::size_t ib, Objective obj) {
  const double va = objective_value(a, obj);
  const double vb = objective_value(b, obj);
  if (va != vb) return va > vb;
  if (obj == Objective::memory && a.tokens_per_s.mean != b.tokens_per_s.mean) return a.tokens_per_s.mean > b.tokens_per_s.mean;
  // The lowest ZeRO stage unless a higher one is faster (--zero all: candidates.hpp).
  if (a.candidate.zero != b.candidate.zero) return a.candidate.zero < b.candidate.zero;
  // Fewer pipeline stages unless more are faster (pipeline_search.hpp).
  if (a.candidate.layout.pp != b.candidate.layout.pp) return a.candidate.layout.pp < b.candidate.layout.pp;
  if (a.memory_per_device_bytes() != b.memory_per_device_bytes()) return a.memory_per_device_bytes() < b.memory_per_device_bytes();
  return ia < ib;
}

bool dominates(const Evaluation& a, const Evaluation& b) {
  const double ta = a.tokens_per_s.mean, tb = b.tokens_per_s.mean;
  const double da = a.drop_fraction.mean, db = b.drop_fraction.mean;
  const double ma = a.memory_per_device_bytes(), mb = b.memory_per_device_bytes();
  return ta >= tb && da <= db && ma <= mb && (ta > tb || da < db || ma < mb);
}

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g%%", 100.0 * x);
  return buf;
}

std::string why_line(const Evaluation& e, const Evaluation& first, std::int64_t rank, const SearchOptions& o) {
  char buf[512];
  const double total = e.breakdown.total_s() > 0.0 ? e.breakdown.total_s() : 1.0;
  std::string lead;
  if (rank == 1) {
    lead = o.objective == Objective::memory ? "least memory per device" : "highest ";
    if (o.objective == Objective::throughput) lead += "tokens/s";
    if (o.objective == Objective::effective_throughput) lead += "expert-processed tokens/s";
  } else if (o.objective == Objective::memory) {
    std::snprintf(buf, sizeof buf, "%.3g%% more memory than #1", 100.0 * (e.memory_per_device_bytes() / first.memory_per_device_bytes() - 1.0));
    lead = buf;
  } else {
    const double v = objective_value(e, o.objective), v1 = objective_value(first, o.objective);
    std::snprintf(buf, sizeof buf, "%.3g%% slower than #1", 100.0 * (1.0 - v / v1));
    lead = buf;
    // Within each other's compute-cost band: this model cannot tell the two apart in absolute terms
    // (both are priced by one cost model, so their difference is surer than either time).
    if (std::abs(e.step_time_s.mean - first.step_time_s.mean) <= std::max(e.uncertainty_s, first.uncertainty_s)) {
      std::snprintf(buf, sizeof buf, ", within #1's uncertainty band (+-%.2g s)", std::max(e.uncertainty_s, first.uncertainty_s));
      lead += buf;
    }
  }
  std::snprintf(buf, sizeof buf,
                "%s; drops %s of assignments%s; critical path %.0f%% compute, %.0f%% all-to-all, %.0f%% all-reduce, "
                "%.0f%% idle; %.1f of %.1f GiB per device%s",
                lead.c_str(), percent(e.drop_fraction.mean).c_str(),
                o.objective == Objective::effective_throughput ? "" : (" (limit " + percent(o.max_drop) + ")").c_str(),
                100.0 * e.breakdown.compute_s / total, 100.0 * e.breakdown.all_to_all_s / total,
                100.0 * e.breakdown.all_reduce_s / total, 100.0 * e.breakdown.idle_s / total,
                e.memory_per_device_bytes() / kGiB, e.memory.device_memory_bytes / kGiB,
                e.candidate.micro_batches > 1
                    ? (", " + std::to_string(e.candidate.micro_batches) +
                       (e.candidate.layout.pp > 1 ? " micro-batches" : " micro-batches to fit"))
                          .c_str()
                    : "");
  std::string why = buf;
  if (e.candidate.zero > 0) why += "; ZeRO stage " + std::to_string(e.candidate.zero);
  if (e.candidate.layout.pp > 1) {
    why += "; " + std::to_string(e.candidate.layout.pp) + " pipeline stages, " + workloads::to_string(e.candidate.schedule);
    if (e.candidate.layout.vpp > 1) why += " with " + std::to_string(e.candidate.layout.vpp) + " virtual stages";
  }
  return why;
}

// Runs fn(i) for i in [0, n) on `threads` threads; rethrows the first failure (lowest i).
template <typename Fn>
void parallel_for(std::size_t n, std::int32_t threads, Fn fn) {
  std::vector<std::exception_ptr> errors(n);
  std::atomic<std::size_t> next{0};
  auto worker = [&]() {
    for (std::size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      try {
        fn(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const std::size_t t = std::min<std::size_t>(n, static_cast<std::size_t>(std::max<std::int32_t>(1, threads)));
  std::vector<std::thread> pool;
  for (std::size_t k = 1; k < t; ++k) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// Work order of one parallel batch: heaviest first (longest processing time first), so that
// the batch does not end on one long task while the other threads idle. Results land in fixed
// slots, so the order changes no result; ties keep index order.
std::vector<std::size_t> heaviest_first(const std::vector<double>& weight) {
  std::vector<std::size_t> order(weight.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return weight[a] > weight[b]; });
  return order;
}

// A rough weight of one search step, only for the work order: dropless steps route loads whose
// all-to-all byte matrices are each simulated (about ep^2 flows), padded ones hit the memo.
double expected_step_work(const Candidate& c) {
  const auto ep = static_cast<double>(c.layout.ep);
  return c.mode == ExecutionMode::dropless ? ep * ep : ep;
}

}  // namespace

const char* to_string(Objective o) {
  switch (o) {
    case Objective::throughput: return "throughput";
    case Objective::effective_throughput: return "effective-throughput";
    case Objective::memory: return "memory";
  }
  return "?";
}

Objective parse_objective(const std::string& text, const std::string& field) {
  if (text == "throughput") return Objective::throughput;
  if (text == "effective-throughput") return Objective::effective_throughput;
  if (text == "memory") return Objective::memory;
  throw InputError(field, "must be throughput, effective-throughput or memory (got '" + text + "')");
}

sim::NetworkOptions network_options(const SearchOptions& options) {
  return sim::network_options_from_flags(options.network_tolerance, options.load_model_above_devices);
}

Evaluation evaluate_candidate(const workloads::Model& model, const topology::Mesh& mesh, const Candidate& c,
                              const SearchOptions& o, const kernels::CostModel& cost, sim::CollectiveCache& cache) {
  std::vector<workloads::StepResult> runs;
  for (std::int64_t s = 0; s < o.samples; ++s) {
    runs.push_back(workloads::simulate_step(model, mesh, c.layout,
                                            step_options(c, o, o.seed + static_cast<std::uint64_t>(s), &cache), cost));
  }
  return aggregate(c, StepBound{}, runs, o);
}

RecommendResult recommend(const workloads::Model& model, const topology::Mesh& mesh, const SearchOptions& o,
                          const kernels::CostModel& cost) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.samples <= 0) throw InputError("--samples", "must be positive");
  if (o.top <= 0) throw InputError("--top", "must be positive");
  if (!(o.max_drop >= 0.0) || o.max_drop > 1.0) throw InputError("--max-drop", "must be a fraction in [0, 1]");
  if (o.threads < 0) throw InputError("--threads", "must be positive (or 0 for all cores)");
  if (o.wave <= 0) throw InputError("--wave", "must be positive");
  const sim::NetworkOptions network = network_options(o);  // checks both network flags
  for (double f : o.enumeration.factors) {
    if (!(f > 0.0) || !std::isfinite(f)) throw InputError("--factors", "capacity factors must be positive");
  }
  if (model.is_moe()) workloads::check_routing_for_model(o.routing, model.experts, "--routing");

  RecommendResult res;
  res.model = model.name;
  res.mesh = mesh.name;
  res.mesh_file = mesh.file;
  res.device_kind = mesh.device_kind;
  res.tpu = mesh.is_tpu();
  res.devices = mesh.topology.num_devices();
  res.cost_model = cost.name();
  res.options = o;
  res.threads_used = o.threads > 0 ? o.threads : std::max<std::int32_t>(1, static_cast<std::int32_t>(std::thread::hardware_concurrency()));

  Enumeration en = enumerate_candidates(model, mesh, o.enumeration);
  res.layouts = en.layouts;
  res.mappings = en.mappings;
  res.pipelines = en.pipelines;
  res.candidates = static_cast<std::int64_t>(en.candidates.size());
  res.rejected = std::move(en.rejected);
  const std::vector<Candidate>& cands = en.candidates;
  const std::size_t n = cands.size();

  // Bounds, then the branch-and-bound order: best bound first, ties in enumeration order.
  const MeshCuts cuts = compute_mesh_cuts(mesh);
  sim::CollectiveCache cache(mesh, network);
  // Candidates that differ only in ep, mapping, capacity factor or mode draw the same routing
  // (routing_cache.hpp): drawn once per seed and layer, and the re-rank reuses the search's draws.
  workloads::RoutingCache routing;
  std::vector<StepBound> bounds(n);
  std::vector<double> best_possible(n);
  parallel_for(n, res.threads_used, [&](std::size_t i) {
    const workloads::TrainingSetup setup = candidate_setup(o.enumeration.training, cands[i]);
    const workloads::StepShape shape = workloads::derive_step_shape(setup, model, cands[i].layout);
    bounds[i] = step_lower_bound(model, cands[i].layout, setup, shape, cands[i].capacity_factor, cands[i].mode, cost, cuts,
                                  o.exact_collective_bounds ? &cache : nullptr);
    best_possible[i] = bound_value(cands[i], bounds[i], o, o.objective);
  });
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return best_possible[a] > best_possible[b]; });

  std::vector<double> search_wall(n, 0.0);  // host seconds each candidate's search steps took
  std::vector<Evaluation> done;          // evaluated, in evaluation order
  std::vector<std::size_t> done_index;   // their candidate indices
  std::vector<double> eligible_values;   // objective values of eligible evaluations, descending
  std::size_t pos = 0;
  const auto K = static_cast<std::size_t>(o.top);
  auto report_progress = [&](bool finished) {
    if (!o.on_progress) return;
    SearchProgress p;
    p.candidates = static_cast<std::int64_t>(n);
    p.examined = static_cast<std::int64_t>(pos);
    p.evaluated = static_cast<std::int64_t>(done.size());
    p.pruned_after_first_seed = res.pruned_after_first_seed;
    p.finished = finished;
    p.has_best = !eligible_values.empty();
    p.best_objective = p.has_best ? eligible_values.front() : 0.0;
    p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    o.on_progress(p);
  };
  // Branch and bound: once K eligible results are in, a candidate whose bound cannot beat the
  // K-th is pruned, and so is everything after it in bound order.
  auto pruned_from = [&](std::size_t p) {
    return o.prune && eligible_values.size() >= K && best_possible[order[p]] < eligible_values[K - 1];
  };
  report_progress(false);
  while (pos < n) {
    std::vector<std::size_t> wave;
    while (pos < n && wave.size() < static_cast<std::size_t>(o.wave)) {
      const std::size_t c = order[pos];
      if (pruned_from(pos)) break;
      wave.push_back(c);
      ++pos;
    }
    if (wave.empty()) break;  // every remaining candidate is pruned
    const auto samples = static_cast<std::size_t>(o.samples);
    std::vector<workloads::StepResult> runs(wave.size() * samples);
    std::vector<double> run_wall(runs.size(), 0.0);
    // Simulates the runs t = w * samples + seed index of `which`, heaviest first, into their slots.
    auto simulate_runs = [&](const std::vector<std::size_t>& which) {
      std::vector<double> weight(which.size());
      for (std::size_t q = 0; q < which.size(); ++q) weight[q] = expected_step_work(cands[wave[which[q] / samples]]);
      const std::vector<std::size_t> run_order = heaviest_first(weight);
      parallel_for(which.size(), res.threads_used, [&](std::size_t p) {
        const std::size_t t = which[run_order[p]];
        const Candidate& c = cands[wave[t / samples]];
        const auto start = std::chrono::steady_clock::now();
        runs[t] = workloads::simulate_step(model, mesh, c.layout, step_options(c, o, o.seed + static_cast<std::uint64_t>(t % samples), &cache, &routing), cost);
        run_wall[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      });
    };
    // Every candidate's first seed, then the other seeds of those that can still enter the top K.
    // Each seed's step is at least the candidate's bound (bounds.hpp: a bound of every seed's step),
    // so its tokens/s is at most batch / bound = best_possible, and the mean over the seeds of
    //   throughput            tokens/s                   <= (v0 + (S - 1) best_possible) / S,
    //   effective-throughput  tokens/s x (1 - drops)     <= (v0 + (S - 1) best_possible) / S,
    // v0 the first seed's value. Below the K-th best (the same incumbent as the bound pruning), the
    // candidate cannot enter the top K: its other seeds are not simulated (exact, as the pruning;
    // it is counted in `pruned_after_first_seed`). The memory objective does not use the steps.
    std::vector<std::size_t> first, rest;
    for (std::size_t w = 0; w < wave.size(); ++w) first.push_back(w * samples);
    simulate_runs(first);
    std::vector<char> cut(wave.size(), 0);
    for (std::size_t w = 0; w < wave.size(); ++w) {
      const std::size_t ci = wave[w];
      if (o.prune && samples > 1 && o.objective != Objective::memory && eligible_values.size() >= K) {
        const workloads::StepResult& r0 = runs[w * samples];
        const double v0 = o.objective == Objective::throughput ? r0.tokens_per_s : r0.tokens_per_s * (1.0 - r0.drop_fraction);
        const double S = static_cast<double>(samples);
        const double best_mean = (v0 + (S - 1.0) * best_possible[ci]) / S;
        cut[w] = best_mean < eligible_values[K - 1] ? 1 : 0;
      }
      if (cut[w] != 0) {
        ++res.pruned_after_first_seed;
        continue;
      }
      for (std::size_t k = 1; k < samples; ++k) rest.push_back(w * samples + k);
    }
    simulate_runs(rest);
    for (std::size_t t = 0; t < runs.size(); ++t) search_wall[wave[t / samples]] += run_wall[t];
    for (std::size_t w = 0; w < wave.size(); ++w) {
      if (cut[w] != 0) continue;
      const std::size_t ci = wave[w];
      std::vector<workloads::StepResult> mine(std::make_move_iterator(runs.begin() + static_cast<std::ptrdiff_t>(w * samples)),
                                              std::make_move_iterator(runs.begin() + static_cast<std::ptrdiff_t>((w + 1) * samples)));
      Evaluation e = aggregate(cands[ci], bounds[ci], mine, o);
      const double mem_limit = o.enumeration.memory_headroom * e.memory.device_memory_bytes;
      if (e.memory_per_device_bytes() > mem_limit) {
        Rejection r;
        r.layout = e.candidate.layout;
        r.capacity_factor = e.candidate.capacity_factor;
        r.mode = e.candidate.mode;
        r.micro_batches = e.candidate.micro_batches;
        r.memory_per_device_bytes = e.memory_per_device_bytes();
        r.memory_limit_bytes = mem_limit;
        char buf[128];
        std::snprintf(buf, sizeof buf, " (limit %.2f GiB at headroom %.2f); the simulated busiest expert load decides",
                      mem_limit / kGiB, o.enumeration.memory_headroom);
        r.reason = e.memory.explain(mesh.device_kind) + buf;
        r.reason_kind = "simulated_memory";
        res.rejected.push_back(std::move(r));
        continue;
      }
      if (eligible(e, o.objective)) {
        eligible_values.push_back(objective_value(e, o.objective));
        std::sort(eligible_values.begin(), eligible_values.end(), std::greater<>());
      }
      done.push_back(std::move(e));
      done_index.push_back(ci);
    }
    if (pos < n && !pruned_from(pos)) report_progress(false);  // else the final report follows
  }
  report_progress(true);
  res.pruned = static_cast<std::int64_t>(n - pos) + res.pruned_after_first_seed;

  // Evaluated candidates in enumeration order (independent of the evaluation order).
  std::vector<std::size_t> perm(done.size());
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) { return done_index[a] < done_index[b]; });
  std::vector<std::size_t> evaluated_index;  // candidate index of each res.evaluated entry
  for (std::size_t p : perm) {
    res.evaluated.push_back(std::move(done[p]));
    evaluated_index.push_back(done_index[p]);
  }

  const Objective obj = o.objective;
  auto rank = [&] {
    res.ranking.clear();
    for (std::size_t i = 0; i < res.evaluated.size(); ++i)
      if (eligible(res.evaluated[i], obj)) res.ranking.push_back(i);
    std::sort(res.ranking.begin(), res.ranking.end(), [&](std::size_t a, std::size_t b) {
      const Evaluation& ea = res.evaluated[a];
      const Evaluation& eb = res.evaluated[b];
      if (ea.reranked != eb.reranked) return ea.reranked;  // the re-simulated top first
      return ranks_before(ea, a, eb, b, obj);
    });
  };
  rank();
  for (std::size_t i = 0; i < res.evaluated.size(); ++i) res.evaluated[i].isolated_step_time_s = res.evaluated[i].step_time_s.mean;
  if (o.network_model == workloads::NetworkModel::shared && !res.ranking.empty()) {
    // Re-rank the best candidates on the shared network, same seeds.
    const std::size_t R = std::min<std::size_t>(res.ranking.size(), static_cast<std::size_t>(std::max<std::int64_t>(o.rerank, 1)));
    const std::vector<std::size_t> top(res.ranking.begin(), res.ranking.begin() + static_cast<std::ptrdiff_t>(R));
    res.isolated_top = res.evaluated[top.front()].candidate.label();
    const auto samples = static_cast<std::size_t>(o.samples);
    // A candidate whose search steps never had two collectives in flight at once gets the same
    // steps on the shared network (sim::collectives_overlap): reused, not simulated again.
    std::vector<std::size_t> again;  // indices into `top` simulated on the shared network
    for (std::size_t r = 0; r < R; ++r) {
      if (!res.evaluated[top[r]].collectives_alone) again.push_back(r);
    }
    std::vector<workloads::StepResult> runs(again.size() * samples);
    std::vector<double> weight(runs.size());
    for (std::size_t t = 0; t < runs.size(); ++t) weight[t] = search_wall[evaluated_index[top[again[t / samples]]]];
    const std::vector<std::size_t> run_order = heaviest_first(weight);
    parallel_for(runs.size(), res.threads_used, [&](std::size_t p) {
      const std::size_t t = run_order[p];
      const Candidate& c = res.evaluated[top[again[t / samples]]].candidate;
      workloads::StepOptions so = step_options(c, o, o.seed + static_cast<std::uint64_t>(t % samples), &cache, &routing);
      so.network_model = workloads::NetworkModel::shared;
      runs[t] = workloads::simulate_step(model, mesh, c.layout, so, cost);
    });
    for (std::size_t r = 0; r < R; ++r) {
      Evaluation& e = res.evaluated[top[r]];
      if (e.collectives_alone) {
        e.reranked = true;
        e.isolated_step_time_s = e.step_time_s.mean;
        ++res.rerank_reused;
      }
    }
    for (std::size_t a = 0; a < again.size(); ++a) {
      const std::size_t r = again[a];
      Evaluation& e = res.evaluated[top[r]];
      const std::vector<workloads::StepResult> mine(runs.begin() + static_cast<std::ptrdiff_t>(a * samples),
                                                    runs.begin() + static_cast<std::ptrdiff_t>((a + 1) * samples));
      Evaluation shared = aggregate(e.candidate, e.bound, mine, o);
      shared.reranked = true;
      shared.isolated_step_time_s = e.step_time_s.mean;
      e = std::move(shared);
    }
    res.reranked = static_cast<std::int64_t>(R);
    rank();
    res.rerank_changed_top = res.evaluated[res.ranking.front()].candidate.label() != res.isolated_top;
  }
  for (std::size_t r = 0; r < res.ranking.size() && r < K; ++r) {
    Recommendation rec;
    rec.evaluation = res.ranking[r];
    rec.rank = static_cast<std::int64_t>(r + 1);
    rec.why = why_line(res.evaluated[rec.evaluation], res.evaluated[res.ranking.front()], rec.rank, o);
    res.recommendations.push_back(std::move(rec));
  }
  for (std::size_t i = 0; i < res.evaluated.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = 0; j < res.evaluated.size() && !dominated; ++j) dominated = j != i && dominates(res.evaluated[j], res.evaluated[i]);
    if (!dominated) res.pareto.push_back(i);
  }
  std::stable_sort(res.pareto.begin(), res.pareto.end(), [&](std::size_t a, std::size_t b) {
    return res.evaluated[a].tokens_per_s.mean > res.evaluated[b].tokens_per_s.mean;
  });
  res.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace switchsim::planner
