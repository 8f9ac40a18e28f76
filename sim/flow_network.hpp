#pragma once
// Flow-level network model: the model half (the solver half is
// sharing_policy.hpp).
//
// A flow carries `bytes` over a fixed path of directed links. Between two
// events every active flow f drains at a constant rate r_f chosen by the
// sharing policy over the link capacities
//     c_l = bandwidth_Bps(l) * efficiency(l)              (catalog figures)
// so the remaining bytes fall linearly and flow f would finish at
//     t_f = t_f0 + remaining_f(t_f0) / r_f ,
// t_f0 being the last time r_f changed (remaining bytes are brought up to date
// lazily, only for flows whose rate changes). Rates change only at events: when
// flows are added or finish, the owner calls update_rates() once for the whole
// batch (all flows added or finished at the same instant are one rate update).
// The clock then jumps to the next completion, min_f t_f, kept in a radix heap
// of finish times (completion_queue.hpp; stale entries are skipped when they
// surface).
//
// Selective re-solve (the default; set_solve_mode(SolveMode::full) re-solves
// every active flow, for measurements and tests). Progressive filling
// (sharing_policy.hpp) freezes flows in non-decreasing order of rate; the
// network keeps the active flows in that order. When the flows that left since
// the last solve had rates >= s, every flow with rate < s keeps its rate: a link
// that saturated at a level below s carried only flows of rate < s, so no
// departed flow crossed it, and the links the departed flows crossed only got
// looser, so they saturate no earlier than before; the filling below s is
// therefore the same step for step. A flow added with path P lowers no level
// below s = min_{l in P} c_l / N_l (N_l: flows on l, the new one included): at
// a level x < s a link l of P carries at most x N_l < c_l, so it does not
// saturate below s, and no other link changed. So update_rates() restarts the
// filling at the lowest such s: only the flows with rate >= s (and the new
// ones) are re-solved, on the capacities that the lower, unchanged flows leave,
//     C_l = c_l - sum_{f active, r_f < s, l in P_f} m_f r_f ,
// kept per link as a running load (reset to exactly 0 when a link empties).
// Levels within kRestartSlack below s are re-solved too (rounding). A re-solved
// flow whose rate moves by less than kRateKeep (relative) keeps its old rate
// and finish time (no queue push).
//
// Strict priority (set_strict_priority(true); default off: one max-min over all
// flows, classes ignored). Flows carry a class 0..255 (0 = highest). Class 0 is
// rated by max-min on the full capacities as if the others did not exist;
// class k by max-min on what classes 0..k-1 leave,
//     c^(k)_l = c_l - sum_{f in classes < k, l in P_f} m_f r_f .
// A class whose residual capacities may have changed (a higher class had
// departures, arrivals or rate changes) is re-solved whole; otherwise the
// selective restart above applies within the class.
//
// Completions are batched: every flow with
//     t_f <= T + max( kFinishTolerance * (T - t_last), eps * (T - s_f) )
// finishes at T = min_f t_f, where t_last is the time of the last rate update,
// s_f the time flow f started and eps the completion window
// (set_completion_window, default 0). The first term merges completions that
// differ only by rounding noise (a flow finished that way loses at most 1e-9 of
// the time it still needed); the second is the optional approximation of
// transfer_simulation.hpp (a flow loses at most eps of its elapsed duration).
// The window test, t_f + eps s_f <= T (1 + eps), is a second queue keyed on
// t_f + eps s_f. Residual bytes are counted in truncated_bytes().
//
// Latency is not part of this model: it is a fixed delay the caller adds after
// a flow drains (transfer_simulation.hpp), so it holds no bandwidth.
//
// Storage is flat: one 64-byte record per flow (what an update touches: rate,
// remaining bytes, times, multiplicity, path position) indexed by FlowId, and
// one array of path links. A re-solve copies its flows into a compact local
// problem for the solver (paths too, up to kPackLimit flows). Flow ids are
// never reused within one network.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "sim/completion_queue.hpp"
#include "sim/huge_page_allocator.hpp"
#include "sim/sharing_policy.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

inline constexpr double kFinishTolerance = 1e-9;
// Flows this far (relative) below the restart level are re-solved too.
inline constexpr double kRestartSlack = 1e-8;
// A re-solved rate within this (relative) of the old one keeps the old rate.
inline constexpr double kRateKeep = 1e-13;
// Re-solves of more flows than this reference their paths in place instead of
// packing a copy (solve_class).
inline constexpr std::size_t kPackLimit = std::size_t{1} << 20;

enum class SolveMode : std::uint8_t { selective, full };

// Reported to a progress callback (set_progress) about once per interval of wall time.
struct NetworkProgress {
  std::int64_t rate_updates = 0;
  std::int64_t active_flows = 0;
  std::int64_t flows_added = 0;    // since the network was built
  std::int64_t flows_finished = 0;
  std::int64_t flows_resolved = 0;  // sum over updates of the flows handed to the solver
  double now_s = 0.0;              // simulated time
  double wall_s = 0.0;             // since the network was built
};
using NetworkProgressCallback = std::function<void(const NetworkProgress&)>;

class FlowNetwork {
 public:
  // `links`: the topology's directed links (capacity = bandwidth * efficiency).
  FlowNetwork(std::span<const topology::Link> links, std::unique_ptr<SharingPolicy> policy);

  // Adds a flow that starts now (at now_s()) and is active until it drains.
  // `multiplicity` m >= 1 stands for m identical flows (same path, same start,
  // same bytes): one rate, m times the load on each link.
  // `priority`: the traffic class, 0 = highest (used only with strict priority on).
  FlowId add_flow(std::span<const topology::LinkId> path, double bytes, double multiplicity = 1.0,
                  std::uint8_t priority = 0);
  void reserve(std::size_t flows, std::size_t path_links);
  // Relative completion window eps >= 0 (0: exact; see above).
  void set_completion_window(double eps);
  [[nodiscard]] double completion_window() const { return completion_window_; }
  // Strict priority between classes (see above); only before the first flow is added.
  void set_strict_priority(bool on);
  [[nodiscard]] bool strict_priority() const { return strict_priority_; }
  // Selective (default) or full re-solve at each update (see above); same rates up to rounding.
  void set_solve_mode(SolveMode mode) { solve_mode_ = mode; }
  [[nodiscard]] SolveMode solve_mode() const { return solve_mode_; }
  // Re-solves above this many flows reference paths in place (default kPackLimit; tests set 0).
  void set_pack_limit(std::size_t flows) { pack_limit_ = flows; }
  // Calls `callback` from update_rates() at most once per `interval_s` of wall time.
  void set_progress(NetworkProgressCallback callback, double interval_s = 1.0);

  // Recomputes the rates that the adds/finishes since the last call can change.
  void update_rates();

  // Earliest completion among active flows (+infinity when none is active).
  [[nodiscard]] double next_completion_s() const { return next_completion_s_; }
  // Moves the clock to `time_s` (now <= time_s <= next_completion_s()).
  void advance_to(double time_s);
  // Removes the flows that finish at now_s() (within kFinishTolerance) from the
  // active set and appends them to `finished` in flow-id order.
  void collect_finished(std::vector<FlowId>& finished);

  [[nodiscard]] double now_s() const { return now_s_; }
  // The active flows, in no particular order.
  [[nodiscard]] std::span<const FlowId> active() const { return active_; }
  [[nodiscard]] std::int32_t num_links() const { return static_cast<std::int32_t>(capacity_Bps_.size()); }
  [[nodiscard]] std::int64_t num_flows() const { return static_cast<std::int64_t>(bytes_.size()); }
  [[nodiscard]] double capacity_Bps(topology::LinkId l) const { return capacity_Bps_[static_cast<std::size_t>(l)]; }
  // Current rate of an active flow; 0 once it has finished.
  [[nodiscard]] double rate_Bps(FlowId f) const {
    return flows_[static_cast<std::size_t>(f)].position >= 0 ? flows_[static_cast<std::size_t>(f)].rate_Bps : 0.0;
  }
  [[nodiscard]] std::uint8_t priority(FlowId f) const { return priority_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] double bytes(FlowId f) const { return bytes_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] double multiplicity(FlowId f) const { return flows_[static_cast<std::size_t>(f)].multiplicity; }
  // Bytes still to send as of now_s().
  [[nodiscard]] double remaining_bytes(FlowId f) const;
  [[nodiscard]] std::span<const topology::LinkId> path(FlowId f) const;
  [[nodiscard]] std::int64_t rate_updates() const { return rate_updates_; }
  // Sum over updates of the flows handed to the solver (all active ones in full mode).
  [[nodiscard]] std::int64_t flows_resolved() const { return flows_resolved_; }
  [[nodiscard]] double truncated_bytes() const { return truncated_bytes_; }
  [[nodiscard]] const SharingPolicy& policy() const { return *policy_; }

 private:
  // One traffic class (all flows are class 0 unless strict priority is on).
  struct TrafficClass {
    std::vector<double> load_Bps;       // per link: sum of m_f r_f of its active flows
    std::vector<std::int32_t> flows;    // per link: its active flows (load reset to 0 at 0)
    std::vector<double> weight;         // per link: sum of m_f of its active flows
    BigVector<FlowId> order;            // rated flows, non-decreasing rate (may hold finished ones)
    std::vector<FlowId> added;          // flows added since the last solve
    double restart_Bps = std::numeric_limits<double>::infinity();  // lowest level touched
    bool departures = false;
  };
  TrafficClass& traffic_class(FlowId f);
  void add_load(TrafficClass& c, FlowId f, double rate, int flow_delta);
  bool solve_class(std::size_t k, bool whole);
  void push_finish(FlowId f);
  // The key a flow has now in the finish queue (window: false) or the window queue.
  [[nodiscard]] double queue_key(FlowId f, bool window) const {
    const auto fi = static_cast<std::size_t>(f);
    return window ? flows_[fi].finish_s + completion_window_ * flows_[fi].start_s : flows_[fi].finish_s;
  }
  // A queue entry is stale once its flow was pushed again or ended (its
  // generation moved on); valid: not stale, the flow active, the key current.
  [[nodiscard]] bool stale(const CompletionQueue::Entry& e) const {
    return generation_[static_cast<std::size_t>(e.flow)] != e.tag;
  }
  [[nodiscard]] bool valid(const CompletionQueue::Entry& e, bool window) const {
    return !stale(e) && flows_[static_cast<std::size_t>(e.flow)].position >= 0 && queue_key(e.flow, window) == e.key;
  }
  void compact_queues();
  void report_progress();

  std::unique_ptr<SharingPolicy> policy_;
  std::vector<double> capacity_Bps_;
  // Per flow: what every update touches in one 64-byte record (one cache
  // line: the re-solve visits flows scattered over millions), the rest apart.
  struct FlowState {
    double rate_Bps = 0.0;
    double remaining = 0.0;     // bytes, as of rate_since_s
    double rate_since_s = 0.0;  // when rate_Bps was set
    double finish_s = std::numeric_limits<double>::infinity();
    double multiplicity = 1.0;
    double start_s = 0.0;
    std::int64_t path_begin = 0;  // links path_links_[path_begin .. + path_size)
    std::int32_t path_size = 0;
    std::int32_t position = -1;  // index in active_, -1 once finished
  };
  static_assert(sizeof(FlowState) == 64);
  BigVector<FlowState> flows_;
  BigVector<double> bytes_;
  BigVector<std::uint8_t> priority_;
  BigVector<std::uint16_t> generation_;  // per flow: bumped at each queue push and when it ends (wraps)
  BigVector<topology::LinkId> path_links_;
  BigVector<FlowId> active_;
  std::vector<TrafficClass> classes_;
  // Scratch.
  BigVector<FlowId> resolve_;
  BigVector<FlowId> freeze_order_;
  BigVector<std::int64_t> local_offset_;  // the re-solved flows as a local problem (solve_class)
  BigVector<std::int64_t> local_end_;     // (unpacked: path ends)
  BigVector<topology::LinkId> local_links_;
  BigVector<double> local_multiplicity_;
  BigVector<double> local_old_rate_Bps_;  // the rates before the solve (no record read for flows that keep theirs)
  BigVector<double> local_rate_Bps_;
  BigVector<std::int32_t> changed_;       // local ids whose rate moved
  BigVector<FlowId> local_ids_;  // 0, 1, 2, ...
  std::vector<double> residual_Bps_;
  std::vector<double> class_capacity_Bps_;
  std::vector<FlowId> collected_;
  CompletionQueue finish_queue_;  // key: t_f
  CompletionQueue window_queue_;  // key: t_f + eps s_f (only when eps > 0)
  double now_s_ = 0.0;
  double last_update_s_ = 0.0;
  double next_completion_s_ = std::numeric_limits<double>::infinity();
  std::int64_t rate_updates_ = 0;
  std::int64_t flows_resolved_ = 0;
  std::int64_t flows_finished_ = 0;
  double truncated_bytes_ = 0.0;
  double completion_window_ = 0.0;
  bool strict_priority_ = false;
  SolveMode solve_mode_ = SolveMode::selective;
  std::size_t pack_limit_ = kPackLimit;
  bool dirty_ = false;  // flows added or finished since the last update_rates()
  NetworkProgressCallback progress_;
  double progress_interval_s_ = 1.0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_report_ = started_;
};

}  // namespace switchsim::sim
