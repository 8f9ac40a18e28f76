#include "sim/flow_network.hpp"

#include <algorithm>
#include <cmath>

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
}

void FlowNetwork::reserve(std::size_t flows, std::size_t path_links) {
  bytes_.reserve(flows);
  remaining_.reserve(flows);
  rate_Bps_.reserve(flows);
  finish_s_.reserve(flows);
  multiplicity_.reserve(flows);
  start_s_.reserve(flows);
  path_offset_.reserve(flows + 1);
  path_links_.reserve(path_links);
  active_.reserve(flows);
}

FlowId FlowNetwork::add_flow(std::span<const topology::LinkId> path, double bytes, double multiplicity) {
  SWITCHSIM_ASSERT(bytes > 0.0 && std::isfinite(bytes), "flow bytes must be positive");
  SWITCHSIM_ASSERT(multiplicity >= 1.0, "flow multiplicity must be >= 1");
  SWITCHSIM_ASSERT(!path.empty(), "a flow needs at least one link");
  const auto id = static_cast<FlowId>(bytes_.size());
  bytes_.push_back(bytes);
  remaining_.push_back(bytes);
  rate_Bps_.push_back(0.0);
  finish_s_.push_back(std::numeric_limits<double>::infinity());
  multiplicity_.push_back(multiplicity);
  start_s_.push_back(now_s_);
  for (const auto l : path) SWITCHSIM_ASSERT(l >= 0 && l < num_links(), "flow path names an unknown link");
  path_links_.insert(path_links_.end(), path.begin(), path.end());
  path_offset_.push_back(static_cast<std::int64_t>(path_links_.size()));
  active_.push_back(id);
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
  return std::max(0.0, remaining_[fi] - rate_Bps_[fi] * (now_s_ - last_update_s_));
}

void FlowNetwork::update_rates() {
  // Charge the time since the last update at the old rates.
  const double dt = now_s_ - last_update_s_;
  if (dt > 0.0) {
    for (const FlowId f : active_) {
      const auto fi = static_cast<std::size_t>(f);
      remaining_[fi] = std::max(0.0, remaining_[fi] - rate_Bps_[fi] * dt);
    }
  }
  last_update_s_ = now_s_;
  ++rate_updates_;
  dirty_ = false;
  policy_->solve(SharingProblem{capacity_Bps_, active_, path_offset_, path_links_, multiplicity_}, rate_Bps_);
  double next = std::numeric_limits<double>::infinity();
  for (const FlowId f : active_) {
    const auto fi = static_cast<std::size_t>(f);
    SWITCHSIM_ASSERT(rate_Bps_[fi] > 0.0, "an active flow got no bandwidth");
    finish_s_[fi] = now_s_ + remaining_[fi] / rate_Bps_[fi];
    next = std::min(next, finish_s_[fi]);
  }
  next_completion_s_ = next;
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
  std::size_t kept = 0;
  for (const FlowId f : active_) {
    const auto fi = static_cast<std::size_t>(f);
    if (finish_s_[fi] <= horizon || (eps > 0.0 && finish_s_[fi] <= now_s_ + eps * (now_s_ - start_s_[fi]))) {
      truncated_bytes_ += multiplicity_[fi] * std::max(0.0, (finish_s_[fi] - now_s_) * rate_Bps_[fi]);
      finished.push_back(f);
      remaining_[fi] = 0.0;
      rate_Bps_[fi] = 0.0;
      finish_s_[fi] = now_s_;
    } else {
      active_[kept++] = f;
    }
  }
  active_.resize(kept);
  next_completion_s_ = std::numeric_limits<double>::infinity();  // valid again after update_rates()
  dirty_ = true;
}

}  // namespace switchsim::sim
