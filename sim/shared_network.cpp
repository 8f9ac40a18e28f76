#include "sim/shared_network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/errors.hpp"

namespace switchsim::sim {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

SharedNetwork::SharedNetwork(std::span<const topology::Link> links, const topology::Router& router,
                             const NetworkOptions& options, std::int32_t devices)
    : links_(links),
      router_(router),
      options_(options),
      network_(links, make_sharing_policy(options.sharing)),
      devices_(devices) {
  SWITCHSIM_ASSERT(options.completion_window >= 0.0 && std::isfinite(options.completion_window),
                   "completion window must be finite and >= 0");
  network_.set_completion_window(options.completion_window);
  network_.set_solve_mode(options.solve);
  if (options.progress) network_.set_progress(options.progress, options.progress_interval_s);
  std::int32_t vertices = 0;
  for (const auto& l : links) vertices = std::max({vertices, l.src + 1, l.dst + 1});
  sender_clock_s_.assign(static_cast<std::size_t>(vertices), 0.0);
}

void SharedNetwork::reserve_for(const TransferGraph& graph) {
  const TransferId n = graph.size();
  if (n == 0) return;
  // Growing vectors of hundreds of MB by doubling costs more than the simulation.
  const TransferId samples = std::min<TransferId>(n, 256);
  double flows = 0.0, path_links = 0.0;
  for (TransferId i = 0; i < samples; ++i) {
    const auto t = static_cast<TransferId>(static_cast<std::int64_t>(i) * n / samples);
    if (graph.src(t) == graph.dst(t) || graph.bytes(t) <= 0.0) continue;
    const std::int32_t k = router_.path_count(graph.src(t), graph.dst(t));
    flows += k;
    for (std::int32_t c = 0; c < k; ++c) {
      scratch_path_.clear();
      router_.append_path(graph.src(t), graph.dst(t), c, scratch_path_);
      path_links += static_cast<double>(scratch_path_.size());
    }
  }
  const double scale = 1.05 * static_cast<double>(n) / static_cast<double>(samples);
  const auto more_flows = static_cast<std::size_t>(flows * scale) + 16;
  const auto more_links = static_cast<std::size_t>(path_links * scale) + 64;
  const auto have = static_cast<std::size_t>(network_.num_flows());
  if (have + more_flows <= reserved_flows_ && path_links_used_ + more_links <= reserved_path_links_) return;
  // Grow geometrically: jobs arrive one by one, and exact reservations would copy every array each time.
  reserved_flows_ = std::max(2 * reserved_flows_, have + more_flows);
  reserved_path_links_ = std::max(2 * reserved_path_links_, path_links_used_ + more_links);
  network_.reserve(reserved_flows_, reserved_path_links_);
  flow_owner_.reserve(reserved_flows_);
  flow_overhead_s_.reserve(reserved_flows_);
  flow_hops_s_.reserve(reserved_flows_);
}

JobId SharedNetwork::submit(const TransferGraph& graph, std::uint8_t traffic_class, bool record) {
  const auto id = static_cast<JobId>(jobs_.size());
  JobInfo info;
  info.graph = &graph;
  info.base = static_cast<std::int64_t>(pending_deps_.size());
  info.left = graph.size();
  info.traffic_class = traffic_class;
  info.record = record;
  info_.push_back(info);
  JobTimes times;
  times.submit_s = now_s_;
  if (record) {
    times.issue_s.assign(static_cast<std::size_t>(graph.size()), 0.0);
    times.transfer_done_s.assign(static_cast<std::size_t>(graph.size()), 0.0);
  }
  jobs_.push_back(std::move(times));
  for (TransferId t = 0; t < graph.size(); ++t) {
    job_of_.push_back(id);
    pending_deps_.push_back(graph.num_dependencies(t));
    subflows_left_.push_back(0);
    post_s_.push_back(0.0);
  }
  ++unfinished_;
  if (graph.size() == 0) {
    JobTimes& j = jobs_.back();
    j.done_s = now_s_;
    j.finished = true;
    finished_.push_back(id);
    --unfinished_;
    return id;
  }
  const double launch = graph.step_cost() ? graph.step_cost()->launch_s : 0.0;
  if (launch > 0.0) {
    launches_.push(now_s_ + launch, id);  // its first transfers are issued then (advance_to)
    return id;
  }
  issue_roots(id);
  return id;
}

void SharedNetwork::issue_roots(JobId id) {
  const JobInfo& info = info_[static_cast<std::size_t>(id)];
  const TransferGraph& graph = *info.graph;
  for (TransferId t = 0; t < graph.size(); ++t) {
    if (graph.num_dependencies(t) == 0) issue(info.base + t);
  }
  deliver_ready();
}

double SharedNetwork::next_queued_s() const {
  const double tq = deliveries_.empty() ? kInf : deliveries_.top().time_s;
  const double tl = launches_.empty() ? kInf : launches_.top().time_s;
  return std::min(tq, tl);
}

void SharedNetwork::issue(std::int64_t global) {
  const auto gi = static_cast<std::size_t>(global);
  const JobId job = job_of_[gi];
  const JobInfo& info = info_[static_cast<std::size_t>(job)];
  const auto t = static_cast<TransferId>(global - info.base);
  const TransferGraph& graph = *info.graph;
  if (info.record) jobs_[static_cast<std::size_t>(job)].issue_s[static_cast<std::size_t>(t)] = now_s_;
  const auto src = graph.src(t);
  const auto dst = graph.dst(t);
  const double bytes = graph.bytes(t);
  if (src == dst || bytes <= 0.0) {
    ready_.push_back(global);
    return;
  }
  // Bulk routing API: no per-pair path cache (4M pairs on a 2048-core torus).
  const std::int32_t k = router_.path_count(src, dst);
  SWITCHSIM_ASSERT(k > 0, "router gave no path between two devices");
  const double share = bytes / static_cast<double>(k);
  for (std::int32_t c = 0; c < k; ++c) {
    scratch_path_.clear();
    router_.append_path(src, dst, c, scratch_path_);
    const TransferLatency fixed = transfer_latency(graph, t, links_, scratch_path_, options_);
    const double overhead = fixed.overhead_s;
    if (c == 0) {
      // One posting per message (not per ECMP sub-flow), in issue order at the sender.
      if (!fixed.posted) {
        post_s_[gi] = now_s_;  // a library step: its latency follows the drain, no posting clock
      } else if (src < devices_) {
        double& clock = sender_clock_s_[static_cast<std::size_t>(src)];
        clock = std::max(clock, now_s_) + overhead;
        post_s_[gi] = clock;
      } else {
        post_s_[gi] = now_s_ + overhead;
      }
    }
    (void)network_.add_flow(scratch_path_, share, 1.0, info.traffic_class);
    path_links_used_ += scratch_path_.size();
    flow_owner_.push_back(global);
    flow_overhead_s_.push_back(overhead);
    flow_hops_s_.push_back(fixed.hops_s);
  }
  subflows_left_[gi] = k;
  bytes_sent_ += bytes;
  dirty_ = true;
}

void SharedNetwork::deliver_ready() {
  while (!ready_.empty()) {
    const std::int64_t global = ready_.back();
    ready_.pop_back();
    const auto gi = static_cast<std::size_t>(global);
    const JobId job = job_of_[gi];
    JobInfo& info = info_[static_cast<std::size_t>(job)];
    JobTimes& times = jobs_[static_cast<std::size_t>(job)];
    const auto t = static_cast<TransferId>(global - info.base);
    if (info.record) times.transfer_done_s[static_cast<std::size_t>(t)] = now_s_;
    for (const TransferId d : info.graph->dependents(t)) {
      if (--pending_deps_[static_cast<std::size_t>(info.base + d)] == 0) issue(info.base + d);
    }
    if (--info.left == 0) {
      times.done_s = now_s_;
      times.finished = true;
      finished_.push_back(job);
      --unfinished_;
    }
  }
}

void SharedNetwork::update_rates() {
  network_.update_rates();
  dirty_ = false;
  if (record_links_) sample_link_loads();
}

void SharedNetwork::sample_link_loads() {
  const auto nl = static_cast<std::size_t>(network_.num_links());
  if (link_load_.size() != nl) {
    link_load_.assign(nl, 0.0);
    link_load_scratch_.assign(nl, 0.0);
  }
  std::fill(link_load_scratch_.begin(), link_load_scratch_.end(), 0.0);
  for (const FlowId f : network_.active()) {
    const double load = network_.rate_Bps(f) * network_.multiplicity(f);
    for (const auto l : network_.path(f)) link_load_scratch_[static_cast<std::size_t>(l)] += load;
  }
  for (std::size_t l = 0; l < nl; ++l) {
    if (link_load_scratch_[l] != link_load_[l]) {
      link_samples_.push_back(LinkLoadSample{now_s_, static_cast<topology::LinkId>(l), link_load_scratch_[l]});
      link_load_[l] = link_load_scratch_[l];
    }
  }
}

double SharedNetwork::next_event_s() {
  const double tq = next_queued_s();
  if (tq <= now_s_) return tq;  // deliveries due now come before any rate update
  if (dirty_) update_rates();
  return std::min(tq, network_.next_completion_s());
}

void SharedNetwork::advance_to(double time_s) {
  SWITCHSIM_ASSERT(time_s >= now_s_, "network time cannot go backwards");
  const double tq = next_queued_s();
  if (dirty_ && tq > now_s_) update_rates();
  const double td = network_.next_completion_s();
  SWITCHSIM_ASSERT(time_s <= std::min(tq, td), "advance_to past the next network event");
  now_s_ = time_s;
  network_.advance_to(time_s);
  if (time_s == td && td <= tq) {
    // A drain batch: flows leave the network; their deliveries are queued,
    // one event per distinct delivery time.
    ++events_;
    finished_flows_.clear();
    network_.collect_finished(finished_flows_);
    batch_at_.clear();
    for (const FlowId f : finished_flows_) {
      const auto fi = static_cast<std::size_t>(f);
      const std::int64_t owner = flow_owner_[fi];
      const auto oi = static_cast<std::size_t>(owner);
      const double overhead = flow_overhead_s_[fi];
      const double hops = flow_hops_s_[fi];
      const double deliver = std::max(td + overhead, post_s_[oi]) + hops;
      const JobId job = job_of_[oi];
      if (info_[static_cast<std::size_t>(job)].record) {
        JobTimes& times = jobs_[static_cast<std::size_t>(job)];
        double& drain = times.max_drain_by_latency[overhead + hops];
        drain = std::max(drain, td - times.submit_s);
        times.posting_floor_s = std::max(times.posting_floor_s, post_s_[oi] - times.submit_s + hops);
      }
      auto it = batch_at_.find(deliver);
      if (it == batch_at_.end()) {
        std::int64_t b = 0;
        if (!free_batches_.empty()) {
          b = free_batches_.back();
          free_batches_.pop_back();
        } else {
          b = static_cast<std::int64_t>(batches_.size());
          batches_.emplace_back();
        }
        it = batch_at_.emplace(deliver, b).first;
      }
      batches_[static_cast<std::size_t>(it->second)].push_back(f);
    }
    for (const auto& [when, batch] : batch_at_) deliveries_.push(when, batch);
    dirty_ = true;
  } else if (time_s == tq) {
    // Every delivery and launch due now: one event.
    ++events_;
    while (!launches_.empty() && launches_.top().time_s == tq) issue_roots(static_cast<JobId>(launches_.pop().payload));
    while (!deliveries_.empty() && deliveries_.top().time_s == tq) {
      const auto e = deliveries_.pop();
      auto& batch = batches_[static_cast<std::size_t>(e.payload)];
      for (const FlowId f : batch) {
        const std::int64_t owner = flow_owner_[static_cast<std::size_t>(f)];
        if (--subflows_left_[static_cast<std::size_t>(owner)] == 0) ready_.push_back(owner);
      }
      std::vector<FlowId>().swap(batch);
      free_batches_.push_back(e.payload);
    }
    deliver_ready();
  }
}

std::vector<JobId> SharedNetwork::take_finished() {
  std::vector<JobId> out;
  out.swap(finished_);
  return out;
}

}  // namespace switchsim::sim
