#include "sim/flow_network.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/errors.hpp"

namespace switchsim::sim {

FlowNetwork::FlowNetwork(std::span<const topology::Link> links, std::unique_ptr<SharingPolicy> policy)
    : policy_(std::move(policy)) {
  SWITCHSIM_ASSERT(policy_ != nullptr, "a sharing policy is required");
  capacity_Bps_.reserve(links.size());
  for (const auto& l : links) {
    const double c = l.bandwidth_Bps * l.efficiency;
    SWITCHSIM_ASSERT(c > 0.0 && std::isfinite(c), "link capacity must be positive and finite");
    capacity_Bps_.push_back(c);
  }
  classes_.resize(1);
  classes_[0].load_Bps.assign(capacity_Bps_.size(), 0.0);
  classes_[0].flows.assign(capacity_Bps_.size(), 0);
  classes_[0].weight.assign(capacity_Bps_.size(), 0.0);
}

void FlowNetwork::reserve(std::size_t flows, std::size_t path_links) {
  bytes_.reserve(flows);
  remaining_.reserve(flows);
  rate_since_s_.reserve(flows);
  rate_Bps_.reserve(flows);
  new_rate_Bps_.reserve(flows);
  finish_s_.reserve(flows);
  multiplicity_.reserve(flows);
  start_s_.reserve(flows);
  priority_.reserve(flows);
  position_.reserve(flows);
  path_offset_.reserve(flows + 1);
  path_links_.reserve(path_links);
}

void FlowNetwork::set_completion_window(double eps) {
  completion_window_ = eps;
  window_heap_.clear();
  if (eps > 0.0) {
    for (const FlowId f : active_) {
      const auto fi = static_cast<std::size_t>(f);
      if (rate_Bps_[fi] > 0.0) push_finish(f);
    }
  }
}

void FlowNetwork::set_strict_priority(bool on) {
  SWITCHSIM_ASSERT(bytes_.empty(), "set_strict_priority() must come before the first flow");
  strict_priority_ = on;
}

void FlowNetwork::set_progress(NetworkProgressCallback callback, double interval_s) {
  progress_ = std::move(callback);
  progress_interval_s_ = interval_s;
}

FlowNetwork::TrafficClass& FlowNetwork::traffic_class(FlowId f) {
  const std::size_t k = strict_priority_ ? priority_[static_cast<std::size_t>(f)] : 0;
  while (classes_.size() <= k) {
    classes_.emplace_back();
    classes_.back().load_Bps.assign(capacity_Bps_.size(), 0.0);
    classes_.back().flows.assign(capacity_Bps_.size(), 0);
    classes_.back().weight.assign(capacity_Bps_.size(), 0.0);
  }
  return classes_[k];
}

FlowId FlowNetwork::add_flow(std::span<const topology::LinkId> path, double bytes, double multiplicity,
                             std::uint8_t priority) {
  SWITCHSIM_ASSERT(bytes > 0.0 && std::isfinite(bytes), "flow bytes must be positive");
  SWITCHSIM_ASSERT(multiplicity >= 1.0, "flow multiplicity must be >= 1");
  SWITCHSIM_ASSERT(!path.empty(), "a flow needs at least one link");
  const auto id = static_cast<FlowId>(bytes_.size());
  bytes_.push_back(bytes);
  remaining_.push_back(bytes);
  rate_since_s_.push_back(now_s_);
  rate_Bps_.push_back(0.0);
  new_rate_Bps_.push_back(0.0);
  finish_s_.push_back(std::numeric_limits<double>::infinity());
  multiplicity_.push_back(multiplicity);
  start_s_.push_back(now_s_);
  priority_.push_back(priority);
  position_.push_back(static_cast<std::int64_t>(active_.size()));
  for (const auto l : path) SWITCHSIM_ASSERT(l >= 0 && l < num_links(), "flow path names an unknown link");
  path_links_.insert(path_links_.end(), path.begin(), path.end());
  path_offset_.push_back(static_cast<std::int64_t>(path_links_.size()));
  active_.push_back(id);
  TrafficClass& c = traffic_class(id);
  c.added.push_back(id);
  add_load(c, id, 0.0, +1);
  // Restart bound of an arrival (flow_network.hpp): min over its links of c_l / N_l.
  for (const auto l : path) {
    const auto li = static_cast<std::size_t>(l);
    c.restart_Bps = std::min(c.restart_Bps, capacity_Bps_[li] / c.weight[li]);
  }
  dirty_ = true;
  return id;
}

std::span<const topology::LinkId> FlowNetwork::path(FlowId f) const {
  const auto b = path_offset_[static_cast<std::size_t>(f)];
  const auto e = path_offset_[static_cast<std::size_t>(f) + 1];
  return {path_links_.data() + b, static_cast<std::size_t>(e - b)};
}

double FlowNetwork::remaining_bytes(FlowId f) const {
  const auto fi = static_cast<std::size_t>(f);
  if (position_[fi] < 0) return 0.0;
  return std::max(0.0, remaining_[fi] - rate_Bps_[fi] * (now_s_ - rate_since_s_[fi]));
}

// Adds m_f * rate to the load of every link of f (rate may be negative to
// remove it) and flow_delta to its flow count; a link left without flows gets
// a load of exactly 0, so rounding does not accumulate across its lifetimes.
void FlowNetwork::add_load(TrafficClass& c, FlowId f, double rate, int flow_delta) {
  const auto fi = static_cast<std::size_t>(f);
  const double load = multiplicity_[fi] * rate;
  for (auto i = path_offset_[fi]; i < path_offset_[fi + 1]; ++i) {
    const auto l = static_cast<std::size_t>(path_links_[static_cast<std::size_t>(i)]);
    c.flows[l] += flow_delta;
    c.weight[l] = c.flows[l] == 0 ? 0.0 : c.weight[l] + flow_delta * multiplicity_[fi];
    c.load_Bps[l] = c.flows[l] == 0 ? 0.0 : c.load_Bps[l] + load;
  }
}

void FlowNetwork::push_finish(FlowId f) {
  const auto fi = static_cast<std::size_t>(f);
  const double t = finish_s_[fi];
  finish_heap_.push_back(HeapEntry{t, t, f});
  std::push_heap(finish_heap_.begin(), finish_heap_.end(), std::greater<>());
  if (completion_window_ > 0.0) {
    window_heap_.push_back(HeapEntry{t + completion_window_ * start_s_[fi], t, f});
    std::push_heap(window_heap_.begin(), window_heap_.end(), std::greater<>());
  }
}

// Rebuilds the heaps from the active flows once stale entries dominate.
void FlowNetwork::compact_heaps() {
  if (finish_heap_.size() < 2 * active_.size() + 4096) return;
  finish_heap_.clear();
  window_heap_.clear();
  for (const FlowId f : active_) {
    const auto fi = static_cast<std::size_t>(f);
    if (rate_Bps_[fi] <= 0.0) continue;
    finish_heap_.push_back(HeapEntry{finish_s_[fi], finish_s_[fi], f});
    if (completion_window_ > 0.0) {
      window_heap_.push_back(HeapEntry{finish_s_[fi] + completion_window_ * start_s_[fi], finish_s_[fi], f});
    }
  }
  std::make_heap(finish_heap_.begin(), finish_heap_.end(), std::greater<>());
  std::make_heap(window_heap_.begin(), window_heap_.end(), std::greater<>());
}

// Re-solves class k: the flows at or above its restart level (all of them when
// `whole`) plus the new ones, on the capacity the higher classes and its own
// lower flows leave. Returns true when its allocation changed (departures,
// arrivals or a new rate), which changes what lower classes may use.
bool FlowNetwork::solve_class(std::size_t k, bool whole) {
  TrafficClass& c = classes_[k];
  const bool touched = c.departures || !c.added.empty();
  if (!whole && !touched) return false;
  double threshold = -std::numeric_limits<double>::infinity();
  if (!whole && solve_mode_ == SolveMode::selective && std::isfinite(c.restart_Bps)) {
    threshold = c.restart_Bps * (1.0 - kRestartSlack);
  }
  // order is non-decreasing in rate (up to rounding): the flows to re-solve are a suffix.
  const auto first = static_cast<std::size_t>(
      std::partition_point(c.order.begin(), c.order.end(),
                           [&](FlowId f) { return rate_Bps_[static_cast<std::size_t>(f)] < threshold; }) -
      c.order.begin());
  resolve_.clear();
  for (std::size_t i = first; i < c.order.size(); ++i) {
    const FlowId f = c.order[i];
    if (position_[static_cast<std::size_t>(f)] < 0) continue;  // finished; its load is already gone
    resolve_.push_back(f);
    add_load(c, f, -rate_Bps_[static_cast<std::size_t>(f)], 0);
  }
  resolve_.insert(resolve_.end(), c.added.begin(), c.added.end());
  c.order.resize(first);
  c.added.clear();
  c.restart_Bps = std::numeric_limits<double>::infinity();
  c.departures = false;
  flows_resolved_ += static_cast<std::int64_t>(resolve_.size());
  // C_l = (c_l - higher classes) - this class's unchanged flows.
  const std::size_t L = capacity_Bps_.size();
  for (std::size_t l = 0; l < L; ++l) class_capacity_Bps_[l] = std::max(0.0, residual_Bps_[l] - c.load_Bps[l]);
  freeze_order_.clear();
  policy_->solve(SharingProblem{class_capacity_Bps_, resolve_, path_offset_, path_links_, multiplicity_},
                 new_rate_Bps_, &freeze_order_);
  bool changed = touched;
  for (const FlowId f : freeze_order_) {
    const auto fi = static_cast<std::size_t>(f);
    const double old_rate = rate_Bps_[fi];
    const double rate = new_rate_Bps_[fi];
    SWITCHSIM_ASSERT(rate > 0.0, "an active flow got no bandwidth");
    if (old_rate > 0.0 && std::abs(rate - old_rate) <= kRateKeep * old_rate) {
      add_load(c, f, old_rate, 0);  // unchanged: keep rate and finish time
      continue;
    }
    changed = true;
    remaining_[fi] = std::max(0.0, remaining_[fi] - old_rate * (now_s_ - rate_since_s_[fi]));
    rate_since_s_[fi] = now_s_;
    rate_Bps_[fi] = rate;
    finish_s_[fi] = now_s_ + remaining_[fi] / rate;
    add_load(c, f, rate, 0);
    push_finish(f);
  }
  c.order.insert(c.order.end(), freeze_order_.begin(), freeze_order_.end());
  return changed;
}

void FlowNetwork::update_rates() {
  last_update_s_ = now_s_;
  ++rate_updates_;
  dirty_ = false;
  const std::size_t L = capacity_Bps_.size();
  residual_Bps_.assign(capacity_Bps_.begin(), capacity_Bps_.end());
  class_capacity_Bps_.resize(L);
  if (!policy_->shares_links()) {
    // Rates depend on each flow's own path only: rate the new flows, once.
    TrafficClass& c = classes_[0];
    for (std::size_t k = 1; k < classes_.size(); ++k) {
      c.added.insert(c.added.end(), classes_[k].added.begin(), classes_[k].added.end());
      classes_[k].added.clear();
    }
    for (auto& other : classes_) {
      other.departures = false;
      other.restart_Bps = std::numeric_limits<double>::infinity();
      other.order.clear();
    }
    const bool whole = solve_mode_ == SolveMode::full;
    if (whole) c.added.assign(active_.begin(), active_.end());
    (void)solve_class(0, false);
    c.order.clear();
  } else {
    bool higher_changed = false;
    for (std::size_t k = 0; k < classes_.size(); ++k) {
      higher_changed = solve_class(k, higher_changed || solve_mode_ == SolveMode::full) || higher_changed;
      if (k + 1 < classes_.size()) {
        for (std::size_t l = 0; l < L; ++l) residual_Bps_[l] -= classes_[k].load_Bps[l];
      }
    }
  }
  compact_heaps();
  while (!finish_heap_.empty() && !valid(finish_heap_.front())) {
    std::pop_heap(finish_heap_.begin(), finish_heap_.end(), std::greater<>());
    finish_heap_.pop_back();
  }
  next_completion_s_ = finish_heap_.empty() ? std::numeric_limits<double>::infinity() : finish_heap_.front().finish_s;
  if (progress_) report_progress();
}

void FlowNetwork::report_progress() {
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_report_).count() < progress_interval_s_) return;
  last_report_ = now;
  NetworkProgress p;
  p.rate_updates = rate_updates_;
  p.active_flows = static_cast<std::int64_t>(active_.size());
  p.flows_added = num_flows();
  p.flows_finished = flows_finished_;
  p.flows_resolved = flows_resolved_;
  p.now_s = now_s_;
  p.wall_s = std::chrono::duration<double>(now - started_).count();
  progress_(p);
}

void FlowNetwork::advance_to(double time_s) {
  SWITCHSIM_ASSERT(time_s >= now_s_, "time cannot go backwards");
  SWITCHSIM_ASSERT(time_s == now_s_ || !dirty_ || active_.empty(), "update_rates() must follow adds and completions");
  SWITCHSIM_ASSERT(time_s <= next_completion_s_, "cannot advance past the next completion");
  now_s_ = time_s;
}

void FlowNetwork::collect_finished(std::vector<FlowId>& finished) {
  if (!(next_completion_s_ <= now_s_)) return;
  const double horizon = now_s_ + kFinishTolerance * (now_s_ - last_update_s_);
  const double eps = completion_window_;
  collected_.clear();
  auto take = [&](std::vector<HeapEntry>& heap, auto&& due) {
    while (!heap.empty()) {
      const HeapEntry e = heap.front();
      if (valid(e) && !due(e)) break;
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      heap.pop_back();
      if (valid(e)) collected_.push_back(e.flow);
    }
  };
  take(finish_heap_, [&](const HeapEntry& e) { return e.finish_s <= horizon; });
  if (eps > 0.0) {
    // t_f <= T + eps (T - s_f)  <=>  t_f + eps s_f <= T (1 + eps); the heap key
    // is rounded, so each candidate is checked with the first form and the
    // first that fails (and every later one) stays.
    const double bound = now_s_ * (1.0 + eps);
    take(window_heap_, [&](const HeapEntry& e) {
      if (e.key > bound * (1.0 + 1e-12)) return false;
      const auto fi = static_cast<std::size_t>(e.flow);
      return finish_s_[fi] <= now_s_ + eps * (now_s_ - start_s_[fi]);
    });
  }
  // Both heaps may name a flow; the batch is reported in flow-id order.
  std::sort(collected_.begin(), collected_.end());
  collected_.erase(std::unique(collected_.begin(), collected_.end()), collected_.end());
  for (const FlowId f : collected_) {
    const auto fi = static_cast<std::size_t>(f);
    truncated_bytes_ += multiplicity_[fi] * std::max(0.0, (finish_s_[fi] - now_s_) * rate_Bps_[fi]);
    finished.push_back(f);
    const auto slot = static_cast<std::size_t>(position_[fi]);
    const FlowId last = active_.back();
    active_[slot] = last;
    position_[static_cast<std::size_t>(last)] = static_cast<std::int64_t>(slot);
    active_.pop_back();
    position_[fi] = -1;
    TrafficClass& c = traffic_class(f);
    add_load(c, f, -rate_Bps_[fi], -1);
    c.departures = true;
    c.restart_Bps = std::min(c.restart_Bps, rate_Bps_[fi]);
    remaining_[fi] = 0.0;
    finish_s_[fi] = now_s_;
    ++flows_finished_;
  }
  next_completion_s_ = std::numeric_limits<double>::infinity();  // valid again after update_rates()
  dirty_ = !collected_.empty() || dirty_;
}

}  // namespace switchsim::sim
