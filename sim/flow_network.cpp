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
  flows_.reserve(flows);
  priority_.reserve(flows);
  generation_.reserve(flows);
  path_links_.reserve(path_links);
}

void FlowNetwork::set_completion_window(double eps) {
  completion_window_ = eps;
  window_queue_.clear(now_s_);
  if (eps > 0.0) {
    for (const FlowId f : active_) {
      const auto fi = static_cast<std::size_t>(f);
      if (flows_[fi].rate_Bps > 0.0) push_finish(f);
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
  SWITCHSIM_ASSERT(path.size() < (std::size_t{1} << 31), "flow path too long");
  FlowState st;
  st.remaining = bytes;
  st.rate_since_s = now_s_;
  st.multiplicity = multiplicity;
  st.start_s = now_s_;
  st.path_begin = static_cast<std::int64_t>(path_links_.size());
  st.path_size = static_cast<std::int32_t>(path.size());
  st.position = static_cast<std::int32_t>(active_.size());
  flows_.push_back(st);
  priority_.push_back(priority);
  generation_.push_back(0);
  for (const auto l : path) SWITCHSIM_ASSERT(l >= 0 && l < num_links(), "flow path names an unknown link");
  path_links_.insert(path_links_.end(), path.begin(), path.end());
  active_.push_back(id);
  TrafficClass& c = traffic_class(id);
  c.added.push_back(id);
  add_load(c, id, 0.0, +1);
  dirty_ = true;
  if (progress_ && (id & 0xFFFF) == 0) report_progress();  // millions of flows may enter before the first update
  return id;
}

std::span<const topology::LinkId> FlowNetwork::path(FlowId f) const {
  const FlowState& st = flows_[static_cast<std::size_t>(f)];
  return {path_links_.data() + st.path_begin, static_cast<std::size_t>(st.path_size)};
}

double FlowNetwork::remaining_bytes(FlowId f) const {
  const auto fi = static_cast<std::size_t>(f);
  if (flows_[fi].position < 0) return 0.0;
  return std::max(0.0, flows_[fi].remaining - flows_[fi].rate_Bps * (now_s_ - flows_[fi].rate_since_s));
}

// Adds m_f * rate to the load of every link of f (rate may be negative to
// remove it) and flow_delta to its flow count; a link left without flows gets
// a load of exactly 0, so rounding does not accumulate across its lifetimes.
void FlowNetwork::add_load(TrafficClass& c, FlowId f, double rate, int flow_delta) {
  const auto fi = static_cast<std::size_t>(f);
  const double load = flows_[fi].multiplicity * rate;
  for (auto i = flows_[fi].path_begin; i < flows_[fi].path_begin + flows_[fi].path_size; ++i) {
    const auto l = static_cast<std::size_t>(path_links_[static_cast<std::size_t>(i)]);
    c.flows[l] += flow_delta;
    c.weight[l] = c.flows[l] == 0 ? 0.0 : c.weight[l] + flow_delta * flows_[fi].multiplicity;
    c.load_Bps[l] = c.flows[l] == 0 ? 0.0 : c.load_Bps[l] + load;
  }
}

void FlowNetwork::push_finish(FlowId f) {
  const std::uint16_t tag = ++generation_[static_cast<std::size_t>(f)];
  finish_queue_.push(queue_key(f, false), f, tag);
  if (completion_window_ > 0.0) window_queue_.push(queue_key(f, true), f, tag);
}

// Sweeps the stale entries out of the queues once they dominate.
void FlowNetwork::compact_queues() {
  if (2 * finish_queue_.size() < 3 * active_.size() + 4096) return;
  auto stale = [this](const CompletionQueue::Entry& e) { return this->stale(e); };
  finish_queue_.drop_stale(stale);
  window_queue_.drop_stale(stale);
}

// Re-solves class k: the flows at or above its restart level (all of them when
// `whole`) plus the new ones, on the capacity the higher classes and its own
// lower flows leave. Returns true when its allocation changed (departures,
// arrivals or a new rate), which changes what lower classes may use.
bool FlowNetwork::solve_class(std::size_t k, bool whole) {
  TrafficClass& c = classes_[k];
  const bool touched = c.departures || !c.added.empty();
  if (!whole && !touched) return false;
  // Restart bound of an arrival (flow_network.hpp): min over its links of
  // C_l / N_l, C_l being what the higher classes leave this class.
  for (const FlowId f : c.added) {
    for (const auto l : path(f)) {
      const auto li = static_cast<std::size_t>(l);
      c.restart_Bps = std::min(c.restart_Bps, std::max(0.0, residual_Bps_[li]) / c.weight[li]);
    }
  }
  double threshold = -std::numeric_limits<double>::infinity();
  if (!whole && solve_mode_ == SolveMode::selective && std::isfinite(c.restart_Bps)) {
    threshold = c.restart_Bps * (1.0 - kRestartSlack);
  }
  // order is non-decreasing in rate (up to rounding): the flows to re-solve are a suffix.
  const auto first = static_cast<std::size_t>(
      std::partition_point(c.order.begin(), c.order.end(),
                           [&](FlowId f) { return flows_[static_cast<std::size_t>(f)].rate_Bps < threshold; }) -
      c.order.begin());
  // Gather the flows to re-solve into a compact local problem (local ids 0..n-1,
  // their paths copied): the solver's passes then stay in cache instead of
  // visiting flows scattered over arrays of millions. Their load leaves the
  // class's link loads meanwhile.
  // Capacity for the largest possible problem up front: doubling hundreds of MB
  // would copy and fault in every page twice (reserving only maps them).
  // Reserved to the capacity of the flow arrays (which SharedNetwork grows geometrically), not to
  // their size: reserving each time exactly the size they reached reallocated (and the kernel
  // zeroed) hundreds of MB on every update after new flows, a quarter of a long step's time.
  if (local_links_.capacity() < path_links_.size()) local_links_.reserve(std::max(path_links_.capacity(), 2 * local_links_.capacity()));
  if (resolve_.capacity() < flows_.size()) {
    const std::size_t cap = std::max(flows_.capacity(), 2 * resolve_.capacity());
    resolve_.reserve(cap);
    local_offset_.reserve(cap + 1);
    local_multiplicity_.reserve(cap);
  }
  // Above kPackLimit flows the paths are referenced in place (begin, end)
  // instead: packing them would copy hundreds of MB for little locality.
  const std::size_t last = c.order.size();
  const std::size_t most = last - first + c.added.size();  // an upper bound of the flows to re-solve
  const bool packed = most <= pack_limit_;
  // Filled by index (grow-only sizes) rather than push_back: this loop runs once per re-solved flow.
  if (resolve_.size() < most) {
    resolve_.resize(most);
    local_multiplicity_.resize(most);
    local_old_rate_Bps_.resize(most);
    local_offset_.resize(most + 1);
  }
  if (!packed && local_end_.size() < most) local_end_.resize(most);
  std::size_t n = 0;   // flows gathered
  std::size_t nl = 0;  // their links (packed)
  local_offset_[0] = 0;
  auto gather = [&](FlowId f) {
    const FlowState& st = flows_[static_cast<std::size_t>(f)];
    const double m = st.multiplicity;
    const double load = m * st.rate_Bps;
    const topology::LinkId* path = path_links_.data() + st.path_begin;
    const auto size = static_cast<std::size_t>(st.path_size);
    if (packed) {
      if (local_links_.size() < nl + size) {
        local_links_.resize(std::max(nl + size, std::min(local_links_.capacity(), 2 * local_links_.size() + 1024)));
      }
      std::copy_n(path, size, local_links_.data() + nl);
      nl += size;
      local_offset_[n + 1] = static_cast<std::int64_t>(nl);
    } else {
      local_offset_[n] = st.path_begin;
      local_end_[n] = st.path_begin + st.path_size;
    }
    for (std::size_t i = 0; i < size; ++i) c.load_Bps[static_cast<std::size_t>(path[i])] -= load;
    local_multiplicity_[n] = m;
    local_old_rate_Bps_[n] = st.rate_Bps;
    resolve_[n] = f;
    ++n;
  };
  // The flows are scattered over the record array: prefetch a few ahead (their
  // records, then their paths) so that the misses overlap.
  constexpr std::size_t kAhead = 8;
  for (std::size_t i = first; i < last; ++i) {
    if (i + 2 * kAhead < last) __builtin_prefetch(&flows_[static_cast<std::size_t>(c.order[i + 2 * kAhead])]);
    if (i + kAhead < last) {
      const FlowState& ahead = flows_[static_cast<std::size_t>(c.order[i + kAhead])];
      __builtin_prefetch(path_links_.data() + ahead.path_begin);
    }
    const FlowId f = c.order[i];
    if (flows_[static_cast<std::size_t>(f)].position >= 0) gather(f);  // finished ones: their load is already gone
  }
  for (const FlowId f : c.added) gather(f);  // rate 0: no load yet
  c.order.resize(first);
  c.added.clear();
  c.restart_Bps = std::numeric_limits<double>::infinity();
  c.departures = false;
  flows_resolved_ += static_cast<std::int64_t>(n);
  // C_l = (c_l - higher classes) - this class's unchanged flows.
  const std::size_t L = capacity_Bps_.size();
  for (std::size_t l = 0; l < L; ++l) class_capacity_Bps_[l] = std::max(0.0, residual_Bps_[l] - c.load_Bps[l]);
  if (local_ids_.size() < n) {
    if (local_ids_.capacity() < n) local_ids_.reserve(std::max({n, flows_.capacity(), 2 * local_ids_.capacity()}));
    while (local_ids_.size() < n) local_ids_.push_back(static_cast<FlowId>(local_ids_.size()));
  }
  if (local_rate_Bps_.size() < n) {
    if (local_rate_Bps_.capacity() < n) {
      local_rate_Bps_.reserve(std::max({n, flows_.capacity(), 2 * local_rate_Bps_.capacity()}));
    }
    local_rate_Bps_.resize(n);
  }
  freeze_order_.clear();
  const std::span<const topology::LinkId> links = packed ? std::span<const topology::LinkId>(local_links_.data(), nl)
                                                         : std::span<const topology::LinkId>(path_links_);
  const SharingProblem problem{class_capacity_Bps_,
                               std::span<const FlowId>(local_ids_.data(), n),
                               std::span<const std::int64_t>(local_offset_.data(), packed ? n + 1 : n),
                               links,
                               std::span<const double>(local_multiplicity_.data(), n),
                               packed ? std::span<const std::int64_t>() : std::span<const std::int64_t>(local_end_.data(), n)};
  policy_->solve(problem, local_rate_Bps_, &freeze_order_);
  bool changed = touched;
  // In freeze order: each flow's new load goes back on its links (this order
  // fixes the rounding of the running loads) and the flows whose rate moved are
  // listed; only those touch their records, below.
  changed_.clear();
  for (std::size_t q = 0; q < freeze_order_.size(); ++q) {
    FlowId& j = freeze_order_[q];
    const auto ji = static_cast<std::size_t>(j);
    j = resolve_[ji];  // back to network ids for the order
    const double old_rate = local_old_rate_Bps_[ji];
    double rate = local_rate_Bps_[ji];
    // Only a lower class under strict priority can be starved (rate 0) by the classes above it.
    SWITCHSIM_ASSERT(rate > 0.0 || (strict_priority_ && k > 0 && rate == 0.0), "an active flow got no bandwidth");
    if (std::abs(rate - old_rate) <= kRateKeep * old_rate) {
      rate = old_rate;  // unchanged: keep rate and finish time
    } else {
      changed_.push_back(static_cast<std::int32_t>(ji));
    }
    const double load = local_multiplicity_[ji] * rate;
    for (const auto l : problem.links_of(static_cast<FlowId>(ji))) c.load_Bps[static_cast<std::size_t>(l)] += load;
  }
  changed = changed || !changed_.empty();
  for (std::size_t q = 0; q < changed_.size(); ++q) {
    if (q + kAhead < changed_.size()) {
      __builtin_prefetch(&flows_[static_cast<std::size_t>(resolve_[static_cast<std::size_t>(changed_[q + kAhead])])]);
    }
    const auto ji = static_cast<std::size_t>(changed_[q]);
    const FlowId f = resolve_[ji];
    FlowState& st = flows_[static_cast<std::size_t>(f)];
    const double old_rate = st.rate_Bps;
    const double rate = local_rate_Bps_[ji];
    st.remaining = std::max(0.0, st.remaining - old_rate * (now_s_ - st.rate_since_s));
    st.rate_since_s = now_s_;
    st.rate_Bps = rate;
    if (rate > 0.0) {
      st.finish_s = now_s_ + st.remaining / rate;
      push_finish(f);
    } else {
      st.finish_s = std::numeric_limits<double>::infinity();
    }
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
  compact_queues();
  next_completion_s_ = finish_queue_.min_valid([this](const CompletionQueue::Entry& e) { return valid(e, false); },
                                               [this](const CompletionQueue::Entry& e) { return stale(e); });
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
  auto collect = [this](FlowId f) { collected_.push_back(f); };
  finish_queue_.take_until(
      horizon, [this](const CompletionQueue::Entry& e) { return valid(e, false); },
      [this](const CompletionQueue::Entry& e) { return stale(e); }, collect);
  if (eps > 0.0) {
    // t_f <= T + eps (T - s_f)  <=>  t_f + eps s_f <= T (1 + eps); the queue key
    // is rounded, so each candidate is checked with the first form and the
    // first that fails (and every later one, in (key, flow) order) stays.
    const double bound = now_s_ * (1.0 + eps);
    window_queue_.take_in_order(
        [this](const CompletionQueue::Entry& e) { return valid(e, true); },
        [this](const CompletionQueue::Entry& e) { return stale(e); },
        [&](const CompletionQueue::Entry& e) {
          if (e.key > bound * (1.0 + 1e-12)) return false;
          const auto fi = static_cast<std::size_t>(e.flow);
          return flows_[fi].finish_s <= now_s_ + eps * (now_s_ - flows_[fi].start_s);
        },
        collect);
  }
  // Both queues may name a flow; the batch is reported in flow-id order.
  std::sort(collected_.begin(), collected_.end());
  collected_.erase(std::unique(collected_.begin(), collected_.end()), collected_.end());
  for (const FlowId f : collected_) {
    const auto fi = static_cast<std::size_t>(f);
    truncated_bytes_ += flows_[fi].multiplicity * std::max(0.0, (flows_[fi].finish_s - now_s_) * flows_[fi].rate_Bps);
    finished.push_back(f);
    const auto slot = static_cast<std::size_t>(flows_[fi].position);
    const FlowId last = active_.back();
    active_[slot] = last;
    flows_[static_cast<std::size_t>(last)].position = static_cast<std::int32_t>(slot);
    active_.pop_back();
    flows_[fi].position = -1;
    TrafficClass& c = traffic_class(f);
    add_load(c, f, -flows_[fi].rate_Bps, -1);
    c.departures = true;
    c.restart_Bps = std::min(c.restart_Bps, flows_[fi].rate_Bps);
    flows_[fi].remaining = 0.0;
    flows_[fi].finish_s = now_s_;
    ++flows_finished_;
    ++generation_[fi];  // its queue entries are stale now
  }
  next_completion_s_ = std::numeric_limits<double>::infinity();  // valid again after update_rates()
  dirty_ = !collected_.empty() || dirty_;
}

}  // namespace switchsim::sim
