#include "sim/transfer_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "sim/shared_network.hpp"

namespace switchsim::sim {

void check_completion_window(const NetworkOptions& options) {
  if (!(options.completion_window >= 0.0) || !std::isfinite(options.completion_window)) {
    throw InputError("--network-tolerance", "must be a finite number >= 0 (0 = exact)");
  }
}

NetworkOptions network_options_from_flags(double tolerance, std::int32_t load_model_above) {
  if (!(tolerance >= 0.0) || tolerance > 0.5) {
    throw InputError("--network-tolerance", "must be in [0, 0.5] (0 = exact network model)");
  }
  if (load_model_above < 0) throw InputError("--load-model-above", "must be >= 0 (0 = never)");
  NetworkOptions o;
  o.completion_window = tolerance;
  o.load_model_above_devices = load_model_above;
  return o;
}

std::string describe_network_model(const NetworkOptions& options) {
  if (options.completion_window <= 0.0) return "max-min fluid, exact";
  return fmt::format(
      "max-min fluid with completion window {:g}: flows within that fraction of their elapsed time finish together "
      "(an approximation; measured error in docs/network.md)",
      options.completion_window);
}

std::string describe_collective_protocol(const NetworkOptions& options) {
  if (options.protocol == ProtocolChoice::none) {
    return "GPU collectives: the network's per-message overheads and hop latencies (no library protocol)";
  }
  const std::string which = options.protocol == ProtocolChoice::automatic
                                ? std::string("LL, LL128 or Simple, the fastest per collective")
                                : std::string(to_string(options.protocol));
  return "GPU all-reduce / all-gather / reduce-scatter: NCCL's protocols (" + which +
         ") with NCCL v2.30.7 tuning.cc latencies and wire formats (sim/nccl_protocol.hpp); all-to-alls and TPU "
         "collectives: per-message overheads";
}

std::string describe_all_to_all_model(const NetworkOptions& options, std::int32_t devices) {
  if (options.load_model_above_devices <= 0 || devices <= options.load_model_above_devices) return {};
  return "direct all-to-alls over more than " + std::to_string(options.load_model_above_devices) +
         " devices: per-link load model (max link load / capacity + largest path latency; sim/collective.hpp, "
         "docs/network.md), not the flow simulation";
}

double path_overhead_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path,
                       const NetworkOptions& options) {
  double overhead = 0.0;
  for (const auto l : path) {
    const auto kind = static_cast<std::size_t>(links[static_cast<std::size_t>(l)].kind);
    if (kind < kNumLinkKinds) overhead = std::max(overhead, options.message_overhead_s[kind]);
  }
  return overhead;
}

double path_hops_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path) {
  double hops = 0.0;
  for (const auto l : path) hops += links[static_cast<std::size_t>(l)].latency_s;
  return hops;
}

double path_latency_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path,
                      const NetworkOptions& options) {
  return path_overhead_s(links, path, options) + path_hops_s(links, path);
}

TransferLatency transfer_latency(const TransferGraph& graph, TransferId t, std::span<const topology::Link> links,
                                 std::span<const topology::LinkId> path, const NetworkOptions& options) {
  const auto& cost = graph.step_cost();
  if (!cost) return TransferLatency{path_overhead_s(links, path, options), path_hops_s(links, path), true};
  TransferLatency out;
  out.posted = false;
  if (graph.streamed(t)) return out;
  for (const auto l : path) {
    const auto kind = static_cast<std::size_t>(links[static_cast<std::size_t>(l)].kind);
    if (kind < kNumLinkKinds) out.overhead_s = std::max(out.overhead_s, cost->latency_s[kind]);
  }
  return out;
}

TransferTimes simulate_transfers(const TransferGraph& graph, std::span<const topology::Link> links,
                                 const topology::Router& router, const NetworkOptions& options,
                                 std::int32_t devices) {
  SharedNetwork network(links, router, options, devices);
  network.reserve_for(graph);
  const JobId job = network.submit(graph, 0, /*record=*/true);
  for (double t = network.next_event_s(); t < std::numeric_limits<double>::infinity(); t = network.next_event_s()) {
    network.advance_to(t);
  }
  const JobTimes& j = network.job(job);
  SWITCHSIM_ASSERT(j.finished, "dependency cycle: a transfer was never issued");
  TransferTimes times;
  times.issue_s = j.issue_s;
  times.done_s = j.transfer_done_s;
  for (const double d : times.done_s) times.makespan_s = std::max(times.makespan_s, d);
  times.flows = network.flows();
  times.events = network.events();
  times.rate_updates = network.rate_updates();
  times.bytes_sent = network.bytes_sent();
  times.bytes_truncated = network.bytes_truncated();
  times.drain_classes.reserve(j.max_drain_by_latency.size());
  for (const auto& [lat, drain] : j.max_drain_by_latency) times.drain_classes.push_back(DrainClass{lat, drain});
  times.posting_floor_s = j.posting_floor_s;
  return times;
}

}  // namespace switchsim::sim
