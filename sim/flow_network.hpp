#pragma once
// Flow-level network model: the model half (the solver half is
// sharing_policy.hpp).
//
// A flow carries `bytes` over a fixed path of directed links. Between two
// events every active flow f drains at a constant rate r_f chosen by the
// sharing policy over the link capacities
//     c_l = bandwidth_Bps(l) * efficiency(l)              (catalog figures)
// so the remaining bytes fall linearly and flow f would finish at
//     t_f = t_last + remaining_f(t_last) / r_f .
// Rates change only at events: when flows are added or finish, the owner calls
// update_rates() once for the whole batch (all flows added or finished at the
// same instant are one rate update). The clock then jumps to the next
// completion, min_f t_f.
//
// Completions are batched: every flow with
//     t_f <= T + max( kFinishTolerance * (T - t_last), eps * (T - s_f) )
// finishes at T = min_f t_f, where s_f is the time flow f started and eps the
// completion window (set_completion_window, default 0). The first term merges
// completions that differ only by rounding noise (a flow finished that way
// loses at most 1e-9 of the time it still needed); the second is the optional
// approximation of transfer_simulation.hpp (a flow loses at most eps of its
// elapsed duration). Residual bytes are counted in truncated_bytes().
//
// Latency is not part of this model: it is a fixed delay the caller adds after
// a flow drains (transfer_simulation.hpp), so it holds no bandwidth.
//
// Storage is flat: per-flow arrays indexed by FlowId and one CSR array of path
// links. Flow ids are never reused within one network.

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "sim/huge_page_allocator.hpp"
#include "sim/sharing_policy.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

inline constexpr double kFinishTolerance = 1e-9;

class FlowNetwork {
 public:
  // `links`: the topology's directed links (capacity = bandwidth * efficiency).
  FlowNetwork(std::span<const topology::Link> links, std::unique_ptr<SharingPolicy> policy);

  // Adds a flow that starts now (at now_s()) and is active until it drains.
  // `multiplicity` m >= 1 stands for m identical flows (same path, same start,
  // same bytes): one rate, m times the load on each link.
  FlowId add_flow(std::span<const topology::LinkId> path, double bytes, double multiplicity = 1.0);
  void reserve(std::size_t flows, std::size_t path_links);
  // Relative completion window eps >= 0 (0: exact; see above).
  void set_completion_window(double eps) { completion_window_ = eps; }
  [[nodiscard]] double completion_window() const { return completion_window_; }

  // Recomputes every active flow's rate (after a batch of adds/finishes).
  void update_rates();

  // Earliest completion among active flows (+infinity when none is active).
  [[nodiscard]] double next_completion_s() const { return next_completion_s_; }
  // Moves the clock to `time_s` (now <= time_s <= next_completion_s()).
  void advance_to(double time_s);
  // Removes the flows that finish at now_s() (within kFinishTolerance) from the
  // active set and appends them to `finished` in flow-id order.
  void collect_finished(std::vector<FlowId>& finished);

  [[nodiscard]] double now_s() const { return now_s_; }
  [[nodiscard]] std::span<const FlowId> active() const { return active_; }
  [[nodiscard]] std::int32_t num_links() const { return static_cast<std::int32_t>(capacity_Bps_.size()); }
  [[nodiscard]] std::int64_t num_flows() const { return static_cast<std::int64_t>(bytes_.size()); }
  [[nodiscard]] double capacity_Bps(topology::LinkId l) const { return capacity_Bps_[static_cast<std::size_t>(l)]; }
  [[nodiscard]] double rate_Bps(FlowId f) const { return rate_Bps_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] double bytes(FlowId f) const { return bytes_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] double multiplicity(FlowId f) const { return multiplicity_[static_cast<std::size_t>(f)]; }
  // Bytes still to send as of now_s().
  [[nodiscard]] double remaining_bytes(FlowId f) const;
  [[nodiscard]] std::span<const topology::LinkId> path(FlowId f) const;
  [[nodiscard]] std::int64_t rate_updates() const { return rate_updates_; }
  [[nodiscard]] double truncated_bytes() const { return truncated_bytes_; }
  [[nodiscard]] const SharingPolicy& policy() const { return *policy_; }

 private:
  std::unique_ptr<SharingPolicy> policy_;
  std::vector<double> capacity_Bps_;
  // Per flow.
  BigVector<double> bytes_;
  BigVector<double> remaining_;  // as of last_update_s_
  BigVector<double> rate_Bps_;
  BigVector<double> finish_s_;
  BigVector<double> multiplicity_;
  BigVector<double> start_s_;
  BigVector<std::int64_t> path_offset_{0};
  BigVector<topology::LinkId> path_links_;
  BigVector<FlowId> active_;
  double now_s_ = 0.0;
  double last_update_s_ = 0.0;
  double next_completion_s_ = std::numeric_limits<double>::infinity();
  std::int64_t rate_updates_ = 0;
  double truncated_bytes_ = 0.0;
  double completion_window_ = 0.0;
  bool dirty_ = false;  // flows added or finished since the last update_rates()
};

}  // namespace switchsim::sim
