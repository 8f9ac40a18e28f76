#include "sim/plan_estimate.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::sim {

PlanEstimate estimate_transfers(const TransferGraph& graph, std::span<const topology::Link> links,
                                const topology::Router& router, const NetworkOptions& options) {
  std::vector<double> load(links.size(), 0.0);
  const auto n = static_cast<std::size_t>(graph.size());
  // Latest delivery among a transfer's dependencies (a library's launch delay for those without).
  const double launch = graph.step_cost() ? graph.step_cost()->launch_s : 0.0;
  std::vector<double> start(n, launch);
  std::vector<double> lat_start(n, launch);  // the same counting latencies only
  double finish_max = 0.0;
  double latency_max = 0.0;
  topology::Path path;
  for (TransferId t = 0; t < graph.size(); ++t) {
    const auto ti = static_cast<std::size_t>(t);
    double alone = 0.0;
    double latency = 0.0;
    const auto src = graph.src(t);
    const auto dst = graph.dst(t);
    const double bytes = graph.bytes(t);
    if (src != dst && bytes > 0.0) {
      const std::int32_t k = router.path_count(src, dst);
      SWITCHSIM_ASSERT(k > 0, "router gave no path");
      const double share = bytes / static_cast<double>(k);
      for (std::int32_t c = 0; c < k; ++c) {
        path.clear();
        router.append_path(src, dst, c, path);
        double slowest = std::numeric_limits<double>::infinity();
        for (const auto l : path) {
          const auto& link = links[static_cast<std::size_t>(l)];
          const double cap = link.bandwidth_Bps * link.efficiency;
          load[static_cast<std::size_t>(l)] += share;
          slowest = std::min(slowest, cap);
        }
        const TransferLatency fixed = transfer_latency(graph, t, links, path, options);
        const double l = fixed.overhead_s + fixed.hops_s;
        alone = std::max(alone, share / slowest + l);
        latency = std::max(latency, l);
      }
    }
    const double finish = start[ti] + alone;
    const double lat_finish = lat_start[ti] + latency;
    finish_max = std::max(finish_max, finish);
    latency_max = std::max(latency_max, lat_finish);
    for (const TransferId d : graph.dependents(t)) {
      auto& s = start[static_cast<std::size_t>(d)];
      s = std::max(s, finish);
      auto& ls = lat_start[static_cast<std::size_t>(d)];
      ls = std::max(ls, lat_finish);
    }
  }
  PlanEstimate e;
  e.critical_path_s = finish_max;
  e.chain_latency_s = latency_max;
  for (std::size_t l = 0; l < links.size(); ++l) {
    if (load[l] > 0.0) e.load_bound_s = std::max(e.load_bound_s, load[l] / (links[l].bandwidth_Bps * links[l].efficiency));
  }
  return e;
}

}  // namespace switchsim::sim
