#include "sim/sharing_policy.hpp"

#include <algorithm>
#include <functional>
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

namespace {

// The solver's heap of link shares: a binary min-heap on (share, link) (the
// standard algorithms with a plain comparison; std::pair's is a three-way one).
using LinkShare = MaxMinSharing::LinkShare;
struct After {
  bool operator()(const LinkShare& a, const LinkShare& b) const {
    return a.share > b.share || (a.share == b.share && a.link > b.link);
  }
};
void make_link_heap(std::vector<LinkShare>& h) { std::make_heap(h.begin(), h.end(), After{}); }
void pop_link_heap(std::vector<LinkShare>& h) {
  std::pop_heap(h.begin(), h.end(), After{});
  h.pop_back();
}
void replace_link_heap_top(std::vector<LinkShare>& h, LinkShare e) {
  std::pop_heap(h.begin(), h.end(), After{});
  h.back() = e;
  std::push_heap(h.begin(), h.end(), After{});
}

}  // namespace

void MaxMinSharing::solve(const SharingProblem& p, std::span<double> rate_Bps, BigVector<FlowId>* order) {
  const std::size_t num_links = p.capacity_Bps.size();
  const std::size_t num_flows = p.multiplicity.size();
  remaining_.assign(p.capacity_Bps.begin(), p.capacity_Bps.end());
  unfrozen_.assign(num_links, 0.0);
  saturated_mark_.assign(num_links, 0);
  if (frozen_.size() < num_flows) frozen_.resize(num_flows);
  last_levels_ = 0;
  auto links_of = [&p](FlowId f) { return p.links_of(f); };

  // A solve after one that needed many levels indexes links -> flows at once
  // (its first pass, counting each link's flows, is the one below).
  const bool index_first = previous_levels_ > kScanLevels;
  if (index_first) link_start_.assign(num_links + 1, 0);

  // N_l; flows with an empty path (none in practice) get an infinite rate.
  unfrozen_list_.clear();
  for (const FlowId f : p.active) {
    const auto fi = static_cast<std::size_t>(f);
    const auto path = links_of(f);
    if (path.empty()) {
      rate_Bps[fi] = std::numeric_limits<double>::infinity();
      frozen_[fi] = 1;
      continue;  // appended to `order` last (infinite rate)
    }
    frozen_[fi] = 0;
    unfrozen_list_.push_back(f);
    const double m = p.multiplicity[fi];
    for (const auto l : path) unfrozen_[static_cast<std::size_t>(l)] += m;
    if (index_first) {
      for (const auto l : path) ++link_start_[static_cast<std::size_t>(l) + 1];
    }
  }
  // Links with unfrozen flows, in a min-heap on their fair share C_l / N_l.
  // A freeze at level s <= C_l / N_l turns C_l / N_l into
  // (C_l - m s) / (N_l - m) >= C_l / N_l: shares only grow, so a stored key is
  // a lower bound of the link's current share, and a link popped with a stale
  // key is pushed back with its current one (lazy update: no heap work per
  // freeze, at most one re-push per link and level).
  // A link has at most one entry, so the entries are distinct and any exact
  // min-heap on (share, link) pops them in the same order.
  link_heap_.clear();
  for (std::size_t l = 0; l < num_links; ++l) {
    if (unfrozen_[l] > 0.0) link_heap_.push_back({std::max(0.0, remaining_[l]) / unfrozen_[l], static_cast<topology::LinkId>(l)});
  }
  make_link_heap(link_heap_);
  auto pop_link = [this] { pop_link_heap(link_heap_); };
  auto replace_top = [this](double key, topology::LinkId l) { replace_link_heap_top(link_heap_, LinkShare{key, l}); };
  auto share = [this](topology::LinkId l) {
    const auto li = static_cast<std::size_t>(l);
    return std::max(0.0, remaining_[li]) / unfrozen_[li];
  };

  auto freeze = [&](FlowId f, double level) {
    const auto fi = static_cast<std::size_t>(f);
    frozen_[fi] = 1;
    rate_Bps[fi] = level;
    if (order != nullptr) order->push_back(f);
    const double m = p.multiplicity[fi];
    const double used = m * level;
    for (const auto l : links_of(f)) {
      remaining_[static_cast<std::size_t>(l)] -= used;
      unfrozen_[static_cast<std::size_t>(l)] -= m;
    }
  };

  bool csr = false;
  while (true) {
    // The next water level: the smallest current share (links whose flows are
    // all frozen leave the heap; multiplicities are >= 1, so N_l <= 0.5 is 0).
    double level = std::numeric_limits<double>::infinity();
    while (!link_heap_.empty()) {
      const auto [key, l] = link_heap_.front();
      if (unfrozen_[static_cast<std::size_t>(l)] <= 0.5) {
        pop_link();
        continue;
      }
      const double current = share(l);
      if (current > key) {
        replace_top(current, l);
        continue;
      }
      level = current;
      break;
    }
    if (link_heap_.empty()) break;
    ++last_levels_;
    const double threshold = level * (1.0 + kLevelTolerance);
    saturated_.clear();
    while (!link_heap_.empty() && link_heap_.front().share <= threshold) {
      const topology::LinkId l = link_heap_.front().link;
      if (unfrozen_[static_cast<std::size_t>(l)] <= 0.5) {
        pop_link();
        continue;
      }
      const double current = share(l);
      if (current <= threshold) {
        pop_link();
        saturated_.push_back(l);
      } else {
        replace_top(current, l);
      }
    }
    if (!csr && (index_first || last_levels_ > kScanLevels)) {
      // Many levels: index link -> unfrozen flows once, then visit only the
      // flows of saturated links.
      build_link_index(p, num_links, /*counted=*/index_first);
      csr = true;
    }
    if (!csr) {
      // Few levels (the common, symmetric case): one sequential scan of the
      // unfrozen flows per level beats building the link -> flows index.
      for (const topology::LinkId l : saturated_) saturated_mark_[static_cast<std::size_t>(l)] = 1;
      std::size_t keep = 0;
      for (const FlowId f : unfrozen_list_) {
        bool hit = false;
        for (const auto l : links_of(f)) {
          if (saturated_mark_[static_cast<std::size_t>(l)]) {
            hit = true;
            break;
          }
        }
        if (hit) {
          freeze(f, level);
        } else {
          unfrozen_list_[keep++] = f;
        }
      }
      unfrozen_list_.resize(keep);
    } else {
      for (const topology::LinkId l : saturated_) {
        const auto li = static_cast<std::size_t>(l);
        for (auto i = link_start_[li]; i < link_start_[li + 1]; ++i) {
          const FlowId f = link_flows_[static_cast<std::size_t>(i)];
          if (!frozen_[static_cast<std::size_t>(f)]) freeze(f, level);
        }
      }
    }
    for (const topology::LinkId l : saturated_) unfrozen_[static_cast<std::size_t>(l)] = 0.0;
  }
  previous_levels_ = last_levels_;
  if (order != nullptr) {
    for (const FlowId f : p.active) {
      if (p.links_of(f).empty()) order->push_back(f);
    }
  }
}

// `counted`: link_start_[l + 1] already holds link l's flows among unfrozen_list_.
void MaxMinSharing::build_link_index(const SharingProblem& p, std::size_t num_links, bool counted) {
  if (!counted) {
    link_start_.assign(num_links + 1, 0);
    for (const FlowId f : unfrozen_list_) {
      for (const auto l : p.links_of(f)) ++link_start_[static_cast<std::size_t>(l) + 1];
    }
  }
  for (std::size_t l = 0; l < num_links; ++l) link_start_[l + 1] += link_start_[l];
  // Grow only: resize() of a larger buffer would rewrite (memset) it every solve.
  if (link_flows_.size() < static_cast<std::size_t>(link_start_[num_links])) {
    link_flows_.resize(static_cast<std::size_t>(link_start_[num_links]));
  }
  for (const FlowId f : unfrozen_list_) {
    for (const auto link : p.links_of(f)) {
      const auto l = static_cast<std::size_t>(link);
      link_flows_[static_cast<std::size_t>(link_start_[l]++)] = f;
    }
  }
  for (std::size_t l = num_links; l > 0; --l) link_start_[l] = link_start_[l - 1];
  link_start_[0] = 0;
}

void UncongestedSharing::solve(const SharingProblem& p, std::span<double> rate_Bps, BigVector<FlowId>* order) {
  for (const FlowId f : p.active) {
    const auto fi = static_cast<std::size_t>(f);
    double r = std::numeric_limits<double>::infinity();
    for (const auto l : p.links_of(f)) r = std::min(r, p.capacity_Bps[static_cast<std::size_t>(l)]);
    rate_Bps[fi] = r;
  }
  if (order != nullptr) {
    const auto first = order->size();
    order->insert(order->end(), p.active.begin(), p.active.end());
    std::stable_sort(order->begin() + static_cast<std::ptrdiff_t>(first), order->end(), [&](FlowId a, FlowId b) {
      return rate_Bps[static_cast<std::size_t>(a)] < rate_Bps[static_cast<std::size_t>(b)];
    });
  }
}

}  // namespace switchsim::sim
