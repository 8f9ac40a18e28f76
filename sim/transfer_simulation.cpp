#include "sim/transfer_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "sim/event_queue.hpp"
#include "sim/flow_network.hpp"

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

std::string describe_all_to_all_model(const NetworkOptions& options, std::int32_t devices) {
  if (options.load_model_above_devices <= 0 || devices <= options.load_model_above_devices) return {};
  return "direct all-to-alls over more than " + std::to_string(options.load_model_above_devices) +
         " devices: per-link load model (max link load / capacity + largest path latency; sim/collective.hpp, "
         "docs/network.md), not the flow simulation";
}

double path_latency_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path,
                      const NetworkOptions& options) {
  double overhead = 0.0;
  double hops = 0.0;
  for (const auto l : path) {
    const auto& link = links[static_cast<std::size_t>(l)];
    hops += link.latency_s;
    const auto kind = static_cast<std::size_t>(link.kind);
    if (kind < kNumLinkKinds) overhead = std::max(overhead, options.message_overhead_s[kind]);
  }
  return overhead + hops;
}

namespace {

class TransferRun {
 public:
  TransferRun(const TransferGraph& graph, std::span<const topology::Link> links, const topology::Router& router,
              const NetworkOptions& options)
      : graph_(graph),
        links_(links),
        router_(router),
        options_(options),
        network_(links, make_sharing_policy(options.sharing)) {
    SWITCHSIM_ASSERT(options.completion_window >= 0.0 && std::isfinite(options.completion_window),
                     "completion window must be finite and >= 0");
    network_.set_completion_window(options.completion_window);
    network_.set_solve_mode(options.solve);
    if (options.progress) network_.set_progress(options.progress, options.progress_interval_s);
    const auto n = static_cast<std::size_t>(graph.size());
    times_.issue_s.assign(n, 0.0);
    times_.done_s.assign(n, 0.0);
    pending_deps_.resize(n);
    subflows_left_.assign(n, 0);
    for (std::size_t t = 0; t < n; ++t) pending_deps_[t] = graph.num_dependencies(static_cast<TransferId>(t));
    reserve_from_sample();
  }

  TransferTimes run() {
    const TransferId n = graph_.size();
    now_s_ = 0.0;
    for (TransferId t = 0; t < n; ++t) {
      if (pending_deps_[static_cast<std::size_t>(t)] == 0) issue(t);
    }
    drain_ready();
    bool changed = true;
    std::vector<FlowId> finished;
    std::map<double, std::int64_t> by_latency;
    while (true) {
      if (changed && (queue_.empty() || queue_.top().time_s > now_s_)) {
        network_.update_rates();
        changed = false;
      }
      const double tq = queue_.empty() ? std::numeric_limits<double>::infinity() : queue_.top().time_s;
      const double td = changed ? std::numeric_limits<double>::infinity() : network_.next_completion_s();
      if (tq == std::numeric_limits<double>::infinity() && td == std::numeric_limits<double>::infinity()) break;
      ++times_.events;
      if (td <= tq) {
        // A drain batch: flows leave the network; their deliveries are queued
        // one event per distinct delivery time.
        now_s_ = td;
        network_.advance_to(td);
        finished.clear();
        network_.collect_finished(finished);
        // Few distinct latencies (path lengths): bucket through a small map;
        // within a bucket flows stay in flow-id order (deterministic).
        by_latency.clear();
        for (const FlowId f : finished) {
          const double lat = flow_latency_s_[static_cast<std::size_t>(f)];
          auto it = by_latency.find(lat);
          if (it == by_latency.end()) {
            new_batch();
            it = by_latency.emplace(lat, current_batch_).first;
          }
          batches_[static_cast<std::size_t>(it->second)].push_back(f);
        }
        for (const auto& [lat, batch] : by_latency) {
          queue_.push(td + lat, batch);
          max_drain_[lat] = td;  // drain times only grow
        }
        changed = true;
      } else {
        // Delivery batches at tq (all of them: one event, one rate update).
        now_s_ = tq;
        network_.advance_to(tq);
        while (!queue_.empty() && queue_.top().time_s == tq) {
          const auto e = queue_.pop();
          auto& batch = batches_[static_cast<std::size_t>(e.payload)];
          for (const FlowId f : batch) {
            const TransferId t = flow_owner_[static_cast<std::size_t>(f)];
            if (--subflows_left_[static_cast<std::size_t>(t)] == 0) ready_.push_back(t);
          }
          std::vector<FlowId>().swap(batch);
          free_batches_.push_back(e.payload);
        }
        const auto flows_before = network_.num_flows();
        drain_ready();
        changed = changed || network_.num_flows() != flows_before;
      }
    }
    SWITCHSIM_ASSERT(network_.active().empty(), "flows left in the network at the end");
    for (TransferId t = 0; t < n; ++t) {
      SWITCHSIM_ASSERT(pending_deps_[static_cast<std::size_t>(t)] == 0, "dependency cycle: transfer never issued");
      times_.makespan_s = std::max(times_.makespan_s, times_.done_s[static_cast<std::size_t>(t)]);
    }
    times_.flows = network_.num_flows();
    times_.rate_updates = network_.rate_updates();
    times_.bytes_truncated = network_.truncated_bytes();
    times_.drain_classes.reserve(max_drain_.size());
    for (const auto& [lat, drain] : max_drain_) times_.drain_classes.push_back(DrainClass{lat, drain});
    return std::move(times_);
  }

 private:
  std::vector<FlowId>& new_batch() {
    if (!free_batches_.empty()) {
      current_batch_ = free_batches_.back();
      free_batches_.pop_back();
    } else {
      current_batch_ = static_cast<std::int64_t>(batches_.size());
      batches_.emplace_back();
    }
    return batches_[static_cast<std::size_t>(current_batch_)];
  }

  // Reserves the flow arrays from a sample of the transfers' paths: growing
  // vectors of hundreds of MB by doubling costs more than the simulation.
  void reserve_from_sample() {
    const TransferId n = graph_.size();
    if (n == 0) return;
    const TransferId samples = std::min<TransferId>(n, 256);
    double flows = 0.0, links = 0.0;
    for (TransferId i = 0; i < samples; ++i) {
      const auto t = static_cast<TransferId>(static_cast<std::int64_t>(i) * n / samples);
      if (graph_.src(t) == graph_.dst(t) || graph_.bytes(t) <= 0.0) continue;
      const std::int32_t k = router_.path_count(graph_.src(t), graph_.dst(t));
      flows += k;
      for (std::int32_t c = 0; c < k; ++c) {
        scratch_path_.clear();
        router_.append_path(graph_.src(t), graph_.dst(t), c, scratch_path_);
        links += static_cast<double>(scratch_path_.size());
      }
    }
    const double scale = 1.05 * static_cast<double>(n) / static_cast<double>(samples);
    const auto est_flows = static_cast<std::size_t>(flows * scale) + 16;
    network_.reserve(est_flows, static_cast<std::size_t>(links * scale) + 64);
    flow_owner_.reserve(est_flows);
    flow_latency_s_.reserve(est_flows);
  }

  // Issues transfer t at now: sub-flows into the network, or delivered at once.
  void issue(TransferId t) {
    const auto ti = static_cast<std::size_t>(t);
    times_.issue_s[ti] = now_s_;
    const auto src = graph_.src(t);
    const auto dst = graph_.dst(t);
    const double bytes = graph_.bytes(t);
    if (src == dst || bytes <= 0.0) {
      ready_.push_back(t);
      return;
    }
    // Bulk routing API: no per-pair path cache (4M pairs on a 2048-core torus).
    const std::int32_t k = router_.path_count(src, dst);
    SWITCHSIM_ASSERT(k > 0, "router gave no path between two devices");
    const double share = bytes / static_cast<double>(k);
    for (std::int32_t c = 0; c < k; ++c) {
      scratch_path_.clear();
      router_.append_path(src, dst, c, scratch_path_);
      network_.add_flow(scratch_path_, share);
      flow_owner_.push_back(t);
      flow_latency_s_.push_back(path_latency_s(links_, scratch_path_, options_));
    }
    subflows_left_[ti] = k;
    times_.bytes_sent += bytes;
  }

  // Delivers every transfer in ready_ at now and issues what that unblocks.
  void drain_ready() {
    while (!ready_.empty()) {
      const TransferId t = ready_.back();
      ready_.pop_back();
      times_.done_s[static_cast<std::size_t>(t)] = now_s_;
      for (const TransferId d : graph_.dependents(t)) {
        if (--pending_deps_[static_cast<std::size_t>(d)] == 0) issue(d);
      }
    }
  }

  const TransferGraph& graph_;
  std::span<const topology::Link> links_;
  const topology::Router& router_;
  const NetworkOptions& options_;
  FlowNetwork network_;
  EventQueue queue_;
  TransferTimes times_;
  BigVector<std::int32_t> pending_deps_;
  BigVector<std::int32_t> subflows_left_;
  BigVector<TransferId> flow_owner_;
  BigVector<double> flow_latency_s_;
  std::vector<TransferId> ready_;
  topology::Path scratch_path_;
  std::vector<std::vector<FlowId>> batches_;
  std::vector<std::int64_t> free_batches_;
  std::int64_t current_batch_ = 0;
  double now_s_ = 0.0;
  std::map<double, double> max_drain_;  // path latency -> latest drain
};

}  // namespace

TransferTimes simulate_transfers(const TransferGraph& graph, std::span<const topology::Link> links,
                                 const topology::Router& router, const NetworkOptions& options) {
  return TransferRun(graph, links, router, options).run();
}

}  // namespace switchsim::sim
