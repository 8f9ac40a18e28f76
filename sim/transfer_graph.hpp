#pragma once
// Point-to-point transfers with dependencies: what a collective algorithm
// generates and the transfer simulation runs. A transfer is issued when every
// transfer it depends on has been delivered (at the latest delivery time), and
// is delivered when its bytes have drained through the network plus its fixed
// latency (transfer_simulation.hpp).
//
// Step costs (optional, per graph). A collective run by a library with its own
// protocol (NCCL: sim/nccl_protocol.hpp) sets a StepCost: then each transfer's
// fixed latency is StepCost::latency_s of the costliest link kind on its path,
// in place of the network's per-message overhead and hop latencies, and it is
// not serialised on the sender's posting clock (a library runs each channel in
// its own thread block); transfers without dependencies are issued launch_s
// after the job starts. A transfer marked `streamed` (a pipelined chunk after
// the first one through the same slot, pipeline.hpp) pays no per-step latency
// of its own: the library keeps several steps in flight per connection
// (NCCL_STEPS = 8), so the latency is paid once per pipeline stage, not once
// per chunk. Without a StepCost both are ignored.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "sim/huge_page_allocator.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

using TransferId = std::int32_t;

struct StepCost {
  std::array<double, topology::kNumLinkKinds> latency_s{};  // per link kind (seconds)
  double launch_s = 0.0;
};

class TransferGraph {
 public:
  // `step` labels the transfer for traces (round, phase); it does not affect timing.
  TransferId add(topology::VertexId src, topology::VertexId dst, double bytes,
                 std::span<const TransferId> depends_on = {}, std::int32_t step = 0, bool streamed = false);
  void reserve(std::size_t transfers, std::size_t dependencies = 0);

  [[nodiscard]] std::int32_t size() const { return static_cast<std::int32_t>(src_.size()); }
  [[nodiscard]] topology::VertexId src(TransferId t) const { return src_[static_cast<std::size_t>(t)]; }
  [[nodiscard]] topology::VertexId dst(TransferId t) const { return dst_[static_cast<std::size_t>(t)]; }
  [[nodiscard]] double bytes(TransferId t) const { return bytes_[static_cast<std::size_t>(t)]; }
  [[nodiscard]] std::int32_t step(TransferId t) const { return step_[static_cast<std::size_t>(t)]; }
  [[nodiscard]] std::int32_t num_dependencies(TransferId t) const { return dep_count_[static_cast<std::size_t>(t)]; }
  [[nodiscard]] bool streamed(TransferId t) const { return streamed_[static_cast<std::size_t>(t)] != 0; }

  void set_step_cost(const StepCost& cost) { step_cost_ = cost; }
  [[nodiscard]] const std::optional<StepCost>& step_cost() const { return step_cost_; }
  [[nodiscard]] std::int64_t num_edges() const { return static_cast<std::int64_t>(edges_.size()); }
  [[nodiscard]] double total_bytes() const;

  // Transfers that wait on `t` (CSR, built on first call after the last add).
  [[nodiscard]] std::span<const TransferId> dependents(TransferId t) const;

 private:
  void build_dependents() const;
  BigVector<topology::VertexId> src_;
  BigVector<topology::VertexId> dst_;
  BigVector<double> bytes_;
  BigVector<std::int32_t> step_;
  BigVector<std::int32_t> dep_count_;
  BigVector<std::uint8_t> streamed_;
  std::optional<StepCost> step_cost_;
  std::vector<std::pair<TransferId, TransferId>> edges_;  // (dependency, dependent)
  mutable std::vector<std::int64_t> dependents_offset_;
  mutable std::vector<TransferId> dependents_;
  mutable bool built_ = false;
};

}  // namespace switchsim::sim
