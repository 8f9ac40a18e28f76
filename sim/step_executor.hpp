#pragma once
// Runs the op graph of one training step (op_graph.hpp) on a mesh.
//
// Model (the isolated network model, `--network-model isolated`): every device
// has a compute stream and kCommStreams communication streams (op_graph.hpp).
// Ops on a stream run in issue order (op id order); an op starts on a device when that
// device's stream is free and every dependency has finished (on that device
// when the dependency ran there, else everywhere). A compute op's duration on
// a device is CostModel::predict(shape). A collective waits for every member
// of its group, then takes the time `simulate_collective` gives for it run
// ALONE on the mesh: contention between the flows of one collective is exact
// (flow-level max-min sharing); contention BETWEEN collectives that overlap in
// time (e.g. the all-to-alls of different expert-parallel groups, or an
// all-reduce overlapping an all-to-all) is not modelled, so concurrent
// collectives on shared links come out optimistic. Durations are memoized by
// (op, algorithm, participants, bytes, the byte matrix's 64-bit fingerprint).
// Processing ops in id order is exact for this model because every op's
// dependencies and stream predecessors have lower ids.
//
// Outputs: the step time (latest end of any op), every op's start and end on
// every member, and the critical path (step_schedule.hpp).

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cost_model.hpp"
#include "sim/chrome_trace.hpp"
#include "sim/collective.hpp"
#include "sim/op_graph.hpp"
#include "sim/step_progress.hpp"
#include "sim/step_schedule.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

// Memoized collective durations for one mesh and one set of network options;
// thread-safe, shareable between steps (a capacity sweep reuses the
// all-reduces of every factor).
//
// Keys: (op, algorithm, participants, bytes, the byte matrix's 64-bit
// fingerprint, sim/byte_matrix.hpp). A direct all-to-all without a matrix (the uniform one: `automatic`
// and `direct`) is keyed WITHOUT its bytes: its transfers have no
// dependencies, so (transfer_simulation.hpp, "Bytes scaling")
//     duration(B) = max( max over latency classes L of ( B * drain_per_byte_L + L ), posting floor )
// where drain_per_byte_L = max drain of class L / kScalingReferenceBytes from ONE
// simulation at B = kScalingReferenceBytes (a power of two: the division is
// exact). Every capacity factor and byte size of one group shares it. The
// other algorithms (ring, torus-2d, tree, pairwise, ...) have dependency
// chains whose latencies add per step, so they are keyed on their exact bytes.
// On a torus whose every dimension wraps (or has one chip) the participants
// are first translated so that the first one's chip sits at the origin, up to
// parity in even dimensions (the torus router breaks distance ties by the
// parity of the source coordinate, so only translations by even amounts leave
// every route unchanged); the canonical group is what is simulated. Groups that
// are translates of each other (the same ep/mp/dp group shape at another place)
// then share one simulation: the network is the same up to relabelling links.
// A key being simulated by one thread is waited for by the others (no
// duplicate simulations), and the value for a key never depends on which
// thread asked first, so results do not depend on the thread count.
class CollectiveCache {
 public:
  static constexpr double kScalingReferenceBytes = 1024.0 * 1024.0 * 1024.0;  // 2^30

  explicit CollectiveCache(const topology::Mesh& mesh, const NetworkOptions& network = {});
  // Seconds one collective takes alone on the mesh. A group of one device costs 0.
  [[nodiscard]] double duration_s(CollectiveOp op, CollectiveAlgorithm algorithm,
                                  const std::vector<topology::VertexId>& participants, double bytes_per_device,
                                  const ByteMatrix* matrix);
  [[nodiscard]] const topology::Mesh& mesh() const { return *mesh_; }
  [[nodiscard]] const NetworkOptions& network() const { return network_; }
  // Durations of several collectives that start together on an idle network
  // and run alone together (the shared step's batches, shared_step_executor.hpp),
  // memoized by `key`; `simulate` computes them when the key is new (outside
  // the lock: two threads may both compute a new key, with the same result).
  [[nodiscard]] std::vector<double> batch_durations(const std::string& key,
                                                    const std::function<std::vector<double>()>& simulate);
  // The plan of a collective (collective.hpp), memoized by `key` across steps
  // and threads; `make` plans it when the key is new. The plan kept has no
  // matrix pointer (the caller's matrix may not outlive it): its transfers
  // already carry the bytes.
  [[nodiscard]] std::shared_ptr<const CollectivePlan> plan(const std::string& key,
                                                           const std::function<CollectivePlan()>& make);
  [[nodiscard]] std::int64_t simulations() const;
  [[nodiscard]] std::int64_t hits() const;
  [[nodiscard]] std::int64_t scaled_hits() const;  // hits served by the bytes-scaling formula at other bytes
  [[nodiscard]] double simulated_wall_s() const;  // host seconds spent in simulate_collective
  [[nodiscard]] std::int64_t events() const;      // network events over all simulations
  // The group simulated for `participants` (a translate of it, or itself).
  [[nodiscard]] std::vector<topology::VertexId> canonical_group(const std::vector<topology::VertexId>& participants) const;

  // One memo entry: a fixed duration, or drain classes per byte (scalable).
  struct Entry {
    bool scalable = false;
    double time_s = 0.0;                    // not scalable
    double reference_bytes = 0.0;           // scalable: the bytes simulated
    std::vector<DrainClass> per_byte;       // scalable: max_drain_s per byte of bytes_per_device
    double floor_s = 0.0;                   // scalable: the byte-independent posting floor
    [[nodiscard]] double at(double bytes_per_device) const;
  };

 private:
  const topology::Mesh* mesh_;
  NetworkOptions network_;
  bool translation_invariant_ = false;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_future<Entry>> entries_;
  std::unordered_map<std::string, std::vector<double>> batches_;
  std::unordered_map<std::string, std::shared_ptr<const CollectivePlan>> plans_;
  std::int64_t simulations_ = 0;
  std::int64_t hits_ = 0;
  std::int64_t scaled_hits_ = 0;
  std::int64_t events_ = 0;
  double wall_s_ = 0.0;
};

// The memo key of one collective: (op, algorithm, bytes, the matrix's
// fingerprint, participants), self-delimiting so that keys concatenate.
[[nodiscard]] std::string collective_key(CollectiveOp op, CollectiveAlgorithm algorithm,
                                         const std::vector<topology::VertexId>& participants, double bytes,
                                         const ByteMatrix* matrix);

// A memo of op seconds keyed by every field of the shape (the cost model's whole input).
struct OpShapeHash {
  [[nodiscard]] std::size_t operator()(const kernels::OpShape& s) const noexcept;
};
struct OpShapeEqual {
  [[nodiscard]] bool operator()(const kernels::OpShape& a, const kernels::OpShape& b) const noexcept;
};
using ShapeSecondsMemo = std::unordered_map<kernels::OpShape, double, OpShapeHash, OpShapeEqual>;

// Seconds of one member's own shape (dropless expert loads), memoized by shape.
[[nodiscard]] double member_seconds(const kernels::OpShape& shape, const kernels::CostModel& cost, ShapeSecondsMemo& memo);

// Runs the graph. `cache` must belong to `mesh`. Thread-safe for distinct graphs.
// `progress` (optional) hears about the ops processed (step_progress.hpp).
[[nodiscard]] StepSchedule execute_step(const OpGraph& graph, const kernels::CostModel& cost, CollectiveCache& cache,
                                        const StepProgressCallback& progress = {}, double progress_interval_s = 1.0);

}  // namespace switchsim::sim
