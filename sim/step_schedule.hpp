#pragma once
// The result of running a step's op graph (op_graph.hpp), whichever network
// model ran it (step_executor.hpp: collectives timed alone and memoized;
// shared_step_executor.hpp: one network for the whole step), and the
// critical-path analysis both share.
//
// Critical path: from the op that ends last, back through whichever
// predecessor (stream or dependency) made each op start when it did (its
// `cause`); its time is split into compute, all-to-all, all-reduce, other
// communication, and idle (gaps on the path: time no op explains).
//   exposed_communication_s    = the communication on the critical path (it is
//                                not hidden by compute: the step waits for it)
//   overlapped_communication_s = on the device with the most communication, the
//                                part of its communication time during which
//                                that device also computes (hidden by compute)

#include <cstdint>
#include <vector>

#include "sim/op_graph.hpp"

namespace switchsim::sim {

struct CriticalPathBreakdown {
  double compute_s = 0.0;
  double all_to_all_s = 0.0;
  double all_reduce_s = 0.0;
  double other_communication_s = 0.0;
  double idle_s = 0.0;
  [[nodiscard]] double total_s() const { return compute_s + all_to_all_s + all_reduce_s + other_communication_s + idle_s; }
  [[nodiscard]] double communication_s() const { return all_to_all_s + all_reduce_s + other_communication_s; }
};

struct StepSchedule {
  double step_time_s = 0.0;
  CriticalPathBreakdown critical_path;
  std::vector<OpId> critical_ops;  // in time order
  std::vector<double> critical_seconds;  // per critical op: its duration on the device the path runs through
  // Per op, per member (graph.members(op) order): offsets[op] .. offsets[op + 1].
  std::vector<std::int64_t> offsets;
  std::vector<double> start_s;
  std::vector<double> end_s;
  double compute_busy_max_s = 0.0;  // the busiest device's compute-stream time (a lower bound of the step)
  double exposed_communication_s = 0.0;
  double overlapped_communication_s = 0.0;

  [[nodiscard]] double start(OpId op, std::int64_t member_index) const {
    return start_s[static_cast<std::size_t>(offsets[static_cast<std::size_t>(op)] + member_index)];
  }
  [[nodiscard]] double end(OpId op, std::int64_t member_index) const {
    return end_s[static_cast<std::size_t>(offsets[static_cast<std::size_t>(op)] + member_index)];
  }
};

// What made one (op, member) start when it did: the op (and its device) whose
// end released it, or op -1 (it started at time 0).
struct StartCause {
  OpId op = -1;
  topology::VertexId device = -1;
};

// Index of device d among graph.members(op), or -1.
[[nodiscard]] std::int64_t member_index(const OpGraph& graph, OpId op, topology::VertexId d);

// Sizes offsets/start_s/end_s for `graph`.
void init_schedule(const OpGraph& graph, StepSchedule& schedule);

// Fills step_time_s, critical_path, critical_ops, compute_busy_max_s and the
// communication overlap figures from the start/end times, the causes (one per
// slot) and each op's latest end and the device where it ended.
void finish_schedule(const OpGraph& graph, StepSchedule& schedule, const std::vector<StartCause>& cause,
                     const std::vector<double>& max_end, const std::vector<topology::VertexId>& max_dev);

// The step as a Chrome / Perfetto trace: sim/step_schedule_trace.hpp.

// Whether two collective groups that use the network (two members or more) were
// in flight at the same time: intervals [start, end) of every group, any two
// intersecting with positive length. Without such an overlap, the shared
// executor (shared_step_executor.hpp) times every collective of this graph from
// the same memo the isolated one used, so it gives the same schedule: the
// planner's re-rank reuses such a step instead of simulating it again.
[[nodiscard]] bool collectives_overlap(const OpGraph& graph, const StepSchedule& schedule);

}  // namespace switchsim::sim
