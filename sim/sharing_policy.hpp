#pragma once
// How active flows share the links of the network: the solver half of the
// network model (flow_network.hpp is the model half). Policies are swappable
// without touching the collectives.
//
// Problem. Links l have capacity c_l (bytes/s, = line rate * efficiency).
// Active flows f have a path P_f (a set of links) and a multiplicity m_f >= 1
// (a class of m_f identical flows that all get the same rate r_f; each of them
// puts r_f on every link of P_f). Feasible rates satisfy, for every link,
//     sum_{f : l in P_f} m_f r_f <= c_l .
//
// Max-min fairness (MaxMinSharing). The feasible allocation in which no flow's
// rate can be raised without lowering the rate of a flow that already has a
// rate no larger. Equivalent characterisation used by the tests: every flow f
// has a *bottleneck* link l in P_f that is saturated (sum m r = c_l) and on
// which r_f is the largest rate. Computed by progressive filling:
//     U = all flows (unfrozen); for each link: C_l = c_l, N_l = sum_{f in U, l in P_f} m_f
//     repeat while U is not empty:
//         s* = min_{l : N_l > 0} C_l / N_l              (the next water level)
//         for every link l with N_l > 0 and C_l / N_l <= s* (1 + kLevelTolerance):
//             for every f in U with l in P_f: r_f = s*, remove f from U,
//                 and for every k in P_f: C_k -= m_f s*, N_k -= m_f
// Each flow is frozen once and each frozen flow touches its path once. The
// next level comes from a min-heap of link shares C_l / N_l kept lazily:
// freezing f at level s <= C_l / N_l turns the share of a link l of P_f into
//     (C_l - m_f s) / (N_l - m_f) >= C_l / N_l     (since s <= C_l / N_l),
// so shares only grow; a heap key is a lower bound of its link's share, and a
// link whose key is stale when it reaches the top is pushed back with its
// current share. Finding the flows of the saturated links: for the first
// kScanLevels levels, one sequential scan of the unfrozen flows per level
// (symmetric collectives have a handful of levels, and the scan needs no
// index); past that, or at once when the previous solve needed more levels, a
// link -> flows index (CSR) over the still unfrozen flows, so one solve costs
// O(min(levels, kScanLevels) * sum_f |P_f| + links + pushes * log links).
// Giving every frozen flow the current minimum level s* keeps every link
// feasible (s* <= C_l / N_l for every link). kLevelTolerance merges levels
// that differ only by rounding noise (symmetric links whose capacities were
// decremented in different orders): a flow may get up to 1e-9 (relative) less
// than its exact max-min share.
//
// Restarting from a level (FlowNetwork's selective re-solve, flow_network.hpp
// proves when it is exact). Progressive filling visits levels in increasing
// order and a flow's rate is the level at which it froze; the solver appends
// the flows to `order` in that order. Solving the flows whose rates are >= s,
// on capacities C_l minus what the flows below s use, continues the same
// filling from level s: the caller passes exactly that sub-problem.
//
// Strict priority between classes is built on top (flow_network.hpp): the
// solver is called once per class on what the classes above it left.
//
// Congestion-unaware bound (UncongestedSharing). Every flow gets the smallest
// capacity on its path, as if it were alone: r_f = min_{l in P_f} c_l. Links
// may be oversubscribed; collective times computed with it are lower bounds
// (latency + serialisation only), useful to see how much contention costs.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sim/huge_page_allocator.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

using FlowId = std::int32_t;

// Read-only view of the active flows the solver must rate.
struct SharingProblem {
  std::span<const double> capacity_Bps;            // per link
  std::span<const FlowId> active;                  // flows to rate
  std::span<const std::int64_t> path_offset;       // per flow: its links are path_links[off[f] .. off[f+1])
  std::span<const topology::LinkId> path_links;
  std::span<const double> multiplicity;            // per flow, m_f
  // Optional: when not empty, flow f's links end at path_end[f] instead of
  // path_offset[f + 1] (paths referenced in place rather than packed).
  std::span<const std::int64_t> path_end = {};
  [[nodiscard]] std::span<const topology::LinkId> links_of(FlowId f) const {
    const auto fi = static_cast<std::size_t>(f);
    const auto b = path_offset[fi];
    const auto e = path_end.empty() ? path_offset[fi + 1] : path_end[fi];
    return {path_links.data() + b, static_cast<std::size_t>(e - b)};
  }
};

class SharingPolicy {
 public:
  virtual ~SharingPolicy() = default;
  [[nodiscard]] virtual const char* name() const = 0;
  // Writes rate_Bps[f] for every f in problem.active (entries of other flows are
  // untouched). With `order`, also appends problem.active to it in non-decreasing
  // order of the rates given (up to rounding): the order FlowNetwork's selective
  // re-solve keeps (flow_network.hpp).
  virtual void solve(const SharingProblem& problem, std::span<double> rate_Bps, BigVector<FlowId>* order) = 0;
  void solve(const SharingProblem& problem, std::span<double> rate_Bps) { solve(problem, rate_Bps, nullptr); }
  // False when a flow's rate depends only on its own path (no sharing): the
  // network then rates each flow once, when it is added.
  [[nodiscard]] virtual bool shares_links() const { return true; }
};

enum class SharingKind : std::uint8_t { max_min, uncongested };
[[nodiscard]] const char* to_string(SharingKind kind);
[[nodiscard]] std::unique_ptr<SharingPolicy> make_sharing_policy(SharingKind kind);

inline constexpr double kLevelTolerance = 1e-9;
// Levels solved by scanning the unfrozen flows before the solver builds a
// link -> flows index (see MaxMinSharing::solve).
inline constexpr std::int64_t kScanLevels = 4;

class MaxMinSharing final : public SharingPolicy {
 public:
  [[nodiscard]] const char* name() const override { return "max-min"; }
  using SharingPolicy::solve;
  void solve(const SharingProblem& problem, std::span<double> rate_Bps, BigVector<FlowId>* order) override;
  // Water levels used by the last solve (for statistics and tests).
  [[nodiscard]] std::int64_t last_levels() const { return last_levels_; }
  struct LinkShare {
    double share;
    topology::LinkId link;
  };

 private:
  // Scratch reused between solves (flat arrays; no allocation once warm).
  std::vector<double> remaining_;         // C_l
  std::vector<double> unfrozen_;          // N_l
  std::vector<std::int64_t> link_start_;  // CSR link -> active flows
  BigVector<FlowId> link_flows_;
  BigVector<std::uint8_t> frozen_;      // per flow id
  std::vector<LinkShare> link_heap_;  // (share C_l / N_l, link), lazy
  std::vector<topology::LinkId> saturated_;
  std::vector<std::uint8_t> saturated_mark_;
  BigVector<FlowId> unfrozen_list_;
  std::int64_t last_levels_ = 0;
  std::int64_t previous_levels_ = 0;
  void build_link_index(const SharingProblem& p, std::size_t num_links, bool counted);
};

class UncongestedSharing final : public SharingPolicy {
 public:
  [[nodiscard]] const char* name() const override { return "uncongested"; }
  using SharingPolicy::solve;
  void solve(const SharingProblem& problem, std::span<double> rate_Bps, BigVector<FlowId>* order) override;
  [[nodiscard]] bool shares_links() const override { return false; }
};

}  // namespace switchsim::sim
