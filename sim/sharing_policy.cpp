#include "sim/sharing_policy.hpp"

#include <algorithm>
#include <limits>

#include "common/errors.hpp"

namespace switchsim::sim {

const char* to_string(SharingKind kind) {
  switch (kind) {
    case SharingKind::max_min: return "max-min";
    case SharingKind::uncongested: return "uncongested";
  }
  return "?";
}

std::unique_ptr<SharingPolicy> make_sharing_policy(SharingKind kind) {
  switch (kind) {
    case SharingKind::max_min: return std::make_unique<MaxMinSharing>();
    case SharingKind::uncongested: return std::make_unique<UncongestedSharing>();
  }
  return std::make_unique<MaxMinSharing>();
}

void MaxMinSharing::solve(const SharingProblem& p, std::span<double> rate_Bps) {
  const std::size_t num_links = p.capacity_Bps.size();
  const std::size_t num_flows = p.multiplicity.size();
  remaining_.assign(p.capacity_Bps.begin(), p.capacity_Bps.end());
  unfrozen_.assign(num_links, 0.0);
  link_start_.assign(num_links + 1, 0);
  if (frozen_.size() < num_flows) frozen_.resize(num_flows);
  last_levels_ = 0;

  // Pass 1: N_l and the CSR sizes.
  for (const FlowId f : p.active) {
    frozen_[static_cast<std::size_t>(f)] = 0;
    const double m = p.multiplicity[static_cast<std::size_t>(f)];
    const auto b = p.path_offset[static_cast<std::size_t>(f)];
    const auto e = p.path_offset[static_cast<std::size_t>(f) + 1];
    for (auto i = b; i < e; ++i) {
      const auto l = static_cast<std::size_t>(p.path_links[static_cast<std::size_t>(i)]);
      unfrozen_[l] += m;
      ++link_start_[l + 1];
    }
  }
  for (std::size_t l = 0; l < num_links; ++l) link_start_[l + 1] += link_start_[l];
  // Grow only: resize() of a larger buffer would rewrite (memset) it every solve.
  if (link_flows_.size() < static_cast<std::size_t>(link_start_[num_links])) {
    link_flows_.resize(static_cast<std::size_t>(link_start_[num_links]));
  }
  // Pass 2: fill link -> flows (link_start_ is used as a cursor, then restored).
  for (const FlowId f : p.active) {
    const auto b = p.path_offset[static_cast<std::size_t>(f)];
    const auto e = p.path_offset[static_cast<std::size_t>(f) + 1];
    for (auto i = b; i < e; ++i) {
      const auto l = static_cast<std::size_t>(p.path_links[static_cast<std::size_t>(i)]);
      link_flows_[static_cast<std::size_t>(link_start_[l]++)] = f;
    }
  }
  for (std::size_t l = num_links; l > 0; --l) link_start_[l] = link_start_[l - 1];
  link_start_[0] = 0;

  live_links_.clear();
  for (std::size_t l = 0; l < num_links; ++l) {
    if (unfrozen_[l] > 0.0) live_links_.push_back(static_cast<topology::LinkId>(l));
  }

  // Flows with an empty path (should not happen: the caller gives them no
  // links only when src == dst) get an infinite rate.
  for (const FlowId f : p.active) {
    if (p.path_offset[static_cast<std::size_t>(f)] == p.path_offset[static_cast<std::size_t>(f) + 1]) {
      rate_Bps[static_cast<std::size_t>(f)] = std::numeric_limits<double>::infinity();
      frozen_[static_cast<std::size_t>(f)] = 1;
    }
  }

  while (!live_links_.empty()) {
    // The next water level, and drop links whose flows are all frozen.
    double level = std::numeric_limits<double>::infinity();
    std::size_t kept = 0;
    for (const topology::LinkId l : live_links_) {
      const auto li = static_cast<std::size_t>(l);
      if (unfrozen_[li] <= 0.5) continue;  // multiplicities are >= 1: N_l is 0 up to rounding
      live_links_[kept++] = l;
      level = std::min(level, std::max(0.0, remaining_[li]) / unfrozen_[li]);
    }
    live_links_.resize(kept);
    if (kept == 0) break;
    ++last_levels_;
    const double threshold = level * (1.0 + kLevelTolerance);
    saturated_.clear();
    for (const topology::LinkId l : live_links_) {
      const auto li = static_cast<std::size_t>(l);
      if (std::max(0.0, remaining_[li]) / unfrozen_[li] <= threshold) saturated_.push_back(l);
    }
    for (const topology::LinkId l : saturated_) {
      const auto li = static_cast<std::size_t>(l);
      for (auto i = link_start_[li]; i < link_start_[li + 1]; ++i) {
        const FlowId f = link_flows_[static_cast<std::size_t>(i)];
        const auto fi = static_cast<std::size_t>(f);
        if (frozen_[fi]) continue;
        frozen_[fi] = 1;
        rate_Bps[fi] = level;
        const double m = p.multiplicity[fi];
        const double used = m * level;
        const auto b = p.path_offset[fi];
        const auto e = p.path_offset[fi + 1];
        for (auto k = b; k < e; ++k) {
          const auto lk = static_cast<std::size_t>(p.path_links[static_cast<std::size_t>(k)]);
          remaining_[lk] -= used;
          unfrozen_[lk] -= m;
        }
      }
      unfrozen_[li] = 0.0;  // every flow of a saturated link is now frozen
    }
  }
}

void UncongestedSharing::solve(const SharingProblem& p, std::span<double> rate_Bps) {
  for (const FlowId f : p.active) {
    const auto fi = static_cast<std::size_t>(f);
    double r = std::numeric_limits<double>::infinity();
    for (auto k = p.path_offset[fi]; k < p.path_offset[fi + 1]; ++k) {
      r = std::min(r, p.capacity_Bps[static_cast<std::size_t>(p.path_links[static_cast<std::size_t>(k)])]);
    }
    rate_Bps[fi] = r;
  }
}

}  // namespace switchsim::sim
