#pragma once
// One flow-level network shared by every transfer in flight: the runner under
// both the isolated collective simulation (one job alone: simulate_transfers)
// and the step's shared network (every collective of the step as a job, each
// submitted when its members are ready; shared_step_executor.hpp).
//
// A job is a TransferGraph (transfer_graph.hpp) submitted at the current time.
// Its transfers without dependencies are issued at once, the others when every
// transfer they depend on has been delivered. All jobs' flows share the links
// max-min fairly (flow_network.hpp, sharing_policy.hpp), so concurrent
// collectives slow each other down exactly as the flows of one collective do.
//
// Timing of one transfer t from src to dst with B bytes, issued at issue_s:
//   The router's equal-cost paths {P_1..P_k} (ECMP) split it into k sub-flows
//   of B/k bytes that start draining at issue_s.
//   Posting: the sender hands its messages to the network one at a time, each
//   costing the per-message software overhead o(P) (NetworkOptions, by link
//   kind: the largest on the path). With a per-sender posting clock c_src,
//       post_s(t) = max(c_src, issue_s) + o(P_1);   c_src = post_s(t)
//   so a device that issues m messages at once (a direct all-to-all to m
//   peers) pays m overheads in sequence, not one. A switch (in-switch
//   reduction) forwards in hardware: post_s = issue_s + o(P_1), no clock.
//   Delivery of sub-flow i, drained at drain_s(i):
//       deliver_s(i) = max( drain_s(i) + o(P_i), post_s(t) ) + hops(P_i)
//   hops(P) = sum of the link latencies on P. done_s(t) = max_i deliver_s(i).
//   Alone on one link a transfer therefore takes o + hops + B / (bandwidth x
//   efficiency) as before; the posting term matters only when a sender posts
//   many small messages, where posting, not bandwidth, is the bottleneck.
// A transfer to itself or of 0 bytes is delivered at its issue time.
// Under a library's step costs (TransferGraph::step_cost, nccl_protocol.hpp)
// a transfer's fixed latency is its step latency instead of o(P) + hops(P),
// without the posting clock: deliver_s = drain_s + step latency; and the
// job's first transfers are issued launch_s after it is submitted.
//
// Events: a drain batch (all flows finishing at one instant) or a delivery
// batch (everything delivered at one instant) is one event. Flows added at one
// instant enter together and cost one rate update.
//
// Bytes scaling (a job whose transfers have no dependencies, alone, from t = 0:
// a direct all-to-all). Drains scale with the bytes and posting does not, so
//     makespan(a) = max( max over classes L of (a * max_drain_L + L), floor )
// with classes L = o(P) + hops(P) of the drain times and
// floor = max_i (post_s + hops(P_i)); JobTimes keeps both (CollectiveCache
// serves every byte size of one pattern from them).

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <vector>

#include "sim/event_queue.hpp"
#include "sim/flow_network.hpp"
#include "sim/transfer_graph.hpp"
#include "sim/transfer_simulation.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

using JobId = std::int32_t;

// What is recorded of a job (per-transfer times and drain classes only when asked).
struct JobTimes {
  double submit_s = 0.0;
  double done_s = 0.0;
  bool finished = false;
  std::vector<double> issue_s;  // per transfer (record only)
  std::vector<double> transfer_done_s;
  std::map<double, double> max_drain_by_latency;  // class o + hops -> latest drain (record only)
  double posting_floor_s = 0.0;                   // max over sub-flows of post_s + hops (record only)
};

// Changes of one link's load over time, for traces (record_link_loads).
struct LinkLoadSample {
  double time_s = 0.0;
  topology::LinkId link = 0;
  double load_Bps = 0.0;  // sum over the flows on the link of rate x multiplicity
};

class SharedNetwork {
 public:
  // Vertices numbered `devices` and up are switches: what they send (in-switch
  // reduction results, NVLS) is forwarded by hardware, without a posting clock.
  SharedNetwork(std::span<const topology::Link> links, const topology::Router& router, const NetworkOptions& options,
                std::int32_t devices = std::numeric_limits<std::int32_t>::max());

  // Starts `graph` at now_s(); `graph` must outlive the job. `traffic_class`
  // (0 = highest) matters under strict priority only.
  JobId submit(const TransferGraph& graph, std::uint8_t traffic_class = 0, bool record = false);

  // Time of the next network event (+infinity when nothing is in flight).
  // Brings the rates up to date first.
  [[nodiscard]] double next_event_s();
  // Moves the clock to time_s <= next_event_s(); when it equals it, processes
  // that event (one drain batch or one delivery batch).
  void advance_to(double time_s);
  // Jobs finished since the last call, in the order they finished.
  [[nodiscard]] std::vector<JobId> take_finished();

  [[nodiscard]] double now_s() const { return now_s_; }
  [[nodiscard]] bool idle() const { return unfinished_ == 0; }
  [[nodiscard]] const JobTimes& job(JobId id) const { return jobs_[static_cast<std::size_t>(id)]; }
  [[nodiscard]] std::int32_t num_jobs() const { return static_cast<std::int32_t>(jobs_.size()); }

  // Statistics.
  [[nodiscard]] std::int64_t flows() const { return network_.num_flows(); }
  [[nodiscard]] std::int64_t events() const { return events_; }
  [[nodiscard]] std::int64_t rate_updates() const { return network_.rate_updates(); }
  [[nodiscard]] double bytes_sent() const { return bytes_sent_; }
  [[nodiscard]] double bytes_truncated() const { return network_.truncated_bytes(); }

  // Strict priority between traffic classes (flow_network.hpp): class 0 first,
  // each lower class on what the classes above leave. Off: plain max-min.
  void set_strict_priority(bool on) { network_.set_strict_priority(on); }

  // Records every change of a link's load from now on (for link-utilisation
  // counter tracks; costs one pass over the active flows' paths per rate update).
  void record_link_loads(bool on) { record_links_ = on; }
  [[nodiscard]] const std::vector<LinkLoadSample>& link_loads() const { return link_samples_; }
  [[nodiscard]] double link_capacity_Bps(topology::LinkId l) const { return network_.capacity_Bps(l); }

  // Reserves flow storage for about this many more transfers of `graph`'s kind
  // (estimated from a sample of its paths).
  void reserve_for(const TransferGraph& graph);

 private:
  void issue(std::int64_t global);
  void issue_roots(JobId id);
  [[nodiscard]] double next_queued_s() const;  // the earliest delivery or launch
  void deliver_ready();
  void update_rates();
  void sample_link_loads();

  struct JobInfo {
    const TransferGraph* graph = nullptr;
    std::int64_t base = 0;       // global index of its transfer 0
    std::int64_t left = 0;       // transfers not yet delivered
    std::uint8_t traffic_class = 0;
    bool record = false;
  };

  std::span<const topology::Link> links_;
  const topology::Router& router_;
  NetworkOptions options_;
  FlowNetwork network_;
  EventQueue deliveries_;  // payload: index into batches_
  EventQueue launches_;    // payload: a job whose first transfers are issued then
  std::vector<JobInfo> info_;
  std::vector<JobTimes> jobs_;
  std::vector<JobId> finished_;
  // Per global transfer.
  BigVector<JobId> job_of_;
  BigVector<std::int32_t> pending_deps_;
  BigVector<std::int32_t> subflows_left_;
  BigVector<double> post_s_;
  // Per flow.
  BigVector<std::int64_t> flow_owner_;
  BigVector<double> flow_overhead_s_;
  BigVector<double> flow_hops_s_;
  // Per vertex: the posting clock.
  std::vector<double> sender_clock_s_;
  std::int32_t devices_ = 0;
  std::vector<std::int64_t> ready_;  // delivered now, dependents not yet issued
  std::vector<std::vector<FlowId>> batches_;
  std::vector<std::int64_t> free_batches_;
  std::map<double, std::int64_t> batch_at_;  // scratch: delivery time -> batch
  std::vector<FlowId> finished_flows_;
  topology::Path scratch_path_;
  double now_s_ = 0.0;
  double bytes_sent_ = 0.0;
  std::int64_t events_ = 0;
  std::int64_t unfinished_ = 0;  // jobs submitted and not finished
  bool dirty_ = false;
  std::size_t reserved_flows_ = 0;       // reserve_for's running reservation
  std::size_t reserved_path_links_ = 0;
  std::size_t path_links_used_ = 0;
  bool record_links_ = false;
  std::vector<double> link_load_;
  std::vector<double> link_load_scratch_;
  std::vector<LinkLoadSample> link_samples_;
};

}  // namespace switchsim::sim
