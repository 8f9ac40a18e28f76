#pragma once
// Runs the op graph of one training step (op_graph.hpp) on a mesh.
//
// Model: every device has two streams, compute and communication. Ops on a
// stream run in issue order (op id order); an op starts on a device when that
// device's stream is free and every dependency has finished (on that device
// when the dependency ran there, else everywhere). A compute op's duration on
// a device is CostModel::predict(shape). A collective waits for every member
// of its group, then takes the time `simulate_collective` gives for it run
// ALONE on the mesh: contention between the flows of one collective is exact
// (flow-level max-min sharing); contention BETWEEN collectives that overlap in
// time (e.g. the all-to-alls of different expert-parallel groups, or an
// all-reduce overlapping an all-to-all) is not modelled, so concurrent
// collectives on shared links come out optimistic. Durations are memoized by
// (op, algorithm, participants, bytes, 64-bit FNV-1a hash of the byte matrix).
// Processing ops in id order is exact for this model because every op's
// dependencies and stream predecessors have lower ids.
//
// Outputs: the step time (latest end of any op), every op's start and end on
// every member, and the critical path: from the op that ends last, back
// through whichever predecessor (stream or dependency) made each op start
// when it did; its time is split into compute, all-to-all, all-reduce, other
// communication, and idle (gaps on the path: time no op explains).

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cost_model.hpp"
#include "sim/chrome_trace.hpp"
#include "sim/op_graph.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

// Memoized collective durations for one mesh; thread-safe, shareable between
// steps (a capacity sweep reuses the all-reduces of every factor).
class CollectiveCache {
 public:
  explicit CollectiveCache(const topology::Mesh& mesh) : mesh_(&mesh) {}
  // Seconds one collective takes alone on the mesh. A group of one device costs 0.
  [[nodiscard]] double duration_s(CollectiveOp op, CollectiveAlgorithm algorithm,
                                  const std::vector<topology::VertexId>& participants, double bytes_per_device,
                                  const ByteMatrix* matrix);
  [[nodiscard]] const topology::Mesh& mesh() const { return *mesh_; }
  [[nodiscard]] std::int64_t simulations() const;
  [[nodiscard]] std::int64_t hits() const;
  [[nodiscard]] double simulated_wall_s() const;  // host seconds spent in simulate_collective

 private:
  const topology::Mesh* mesh_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, double> seconds_;
  std::int64_t simulations_ = 0;
  std::int64_t hits_ = 0;
  double wall_s_ = 0.0;
};

struct CriticalPathBreakdown {
  double compute_s = 0.0;
  double all_to_all_s = 0.0;
  double all_reduce_s = 0.0;
  double other_communication_s = 0.0;
  double idle_s = 0.0;
  [[nodiscard]] double total_s() const { return compute_s + all_to_all_s + all_reduce_s + other_communication_s + idle_s; }
};

struct StepSchedule {
  double step_time_s = 0.0;
  CriticalPathBreakdown critical_path;
  std::vector<OpId> critical_ops;  // in time order
  // Per op, per member (graph.members(op) order): offsets[op] .. offsets[op + 1].
  std::vector<std::int64_t> offsets;
  std::vector<double> start_s;
  std::vector<double> end_s;
  double compute_busy_max_s = 0.0;  // the busiest device's compute-stream time (a lower bound of the step)

  [[nodiscard]] double start(OpId op, std::int64_t member_index) const {
    return start_s[static_cast<std::size_t>(offsets[static_cast<std::size_t>(op)] + member_index)];
  }
  [[nodiscard]] double end(OpId op, std::int64_t member_index) const {
    return end_s[static_cast<std::size_t>(offsets[static_cast<std::size_t>(op)] + member_index)];
  }
};

// Runs the graph. `cache` must belong to `mesh`. Thread-safe for distinct graphs.
[[nodiscard]] StepSchedule execute_step(const OpGraph& graph, const kernels::CostModel& cost, CollectiveCache& cache);

// Adds the step to a trace: one group per device with tracks "compute" and
// "communication"; at most `max_devices` devices (the first ones) to bound the size.
void add_step_to_trace(const OpGraph& graph, const StepSchedule& schedule, TraceWriter& trace,
                       std::int32_t max_devices = 1 << 30);

}  // namespace switchsim::sim
