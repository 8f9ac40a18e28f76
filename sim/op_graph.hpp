#pragma once
// The op graph of one training step, as the step executor runs it.
//
// An op is either
//   compute     the same kind of work on every device of a device set (each
//               device runs its own copy; `member_shapes` may give each member
//               its own shape, e.g. ragged expert loads in dropless mode), or
//   collective  one collective per group of a partition (the groups run
//               independently and at the same time; e.g. one all-to-all per
//               expert-parallel group), with uniform `bytes_per_device` or a
//               byte matrix per group.
// Ops are issued in id order; an op lists the ops it depends on (lower ids).
// Device sets are expressed once and shared, so a step on 2048 devices is a
// few thousand ops, not millions: identical devices' work is one op.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cost_model.hpp"
#include "sim/collective.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

using OpId = std::int32_t;
using DeviceSetId = std::int32_t;
using PartitionId = std::int32_t;

// Where the time of an op goes in the breakdown.
enum class OpCategory : std::uint8_t { compute, all_to_all, all_reduce, other_communication };
[[nodiscard]] const char* to_string(OpCategory category);

// Streams of a device: compute, and kCommStreams communication streams. Ops on
// one stream of a device run one at a time, in issue order. Streams 0 and 1: the
// collectives (1: gradient sync on its own communicator); 2-7: point-to-point sends
// between pipeline stages (workloads/step_builder.cpp: one stream per direction and
// neighbouring pair's colour, so each stream carries its sends in both ends' program order).
inline constexpr int kCommStreams = 8;
inline constexpr int kStreams = 1 + kCommStreams;

enum class OpType : std::uint8_t { compute, collective };

struct Op {
  OpType type = OpType::compute;
  std::string name;   // "enc3.ffn.expert_in.fwd"
  std::string layer;  // for traces: "enc3"
  std::vector<OpId> deps;
  // compute
  DeviceSetId devices = 0;
  kernels::OpShape shape;
  std::vector<kernels::OpShape> member_shapes;  // empty: every member runs `shape`
  // collective
  PartitionId partition = 0;
  CollectiveOp collective = CollectiveOp::all_reduce;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic;
  double bytes_per_device = 0.0;
  std::vector<std::shared_ptr<const ByteMatrix>> matrices;  // empty, or one per group of the partition
  std::uint8_t comm_stream = 0;  // collective: which communication stream of each member (0 .. kCommStreams - 1)
  // collective: a point-to-point send (an all-to-all of two-member groups with one non-zero entry,
  // e.g. pipeline stages' activations); its time counts as other_communication, not all_to_all.
  bool point_to_point = false;

  [[nodiscard]] OpCategory category() const;
  // 0 = compute, 1 + comm_stream for collectives.
  [[nodiscard]] int stream() const { return type == OpType::compute ? 0 : 1 + comm_stream; }
};

class OpGraph {
 public:
  explicit OpGraph(std::int32_t num_devices) : num_devices_(num_devices) {}

  [[nodiscard]] std::int32_t num_devices() const { return num_devices_; }

  // A set of devices (sorted, no repeats); returns its id. add_all_devices() is the whole mesh.
  DeviceSetId add_device_set(std::vector<topology::VertexId> devices);
  DeviceSetId add_all_devices();
  // A partition into disjoint groups (each group keeps its order: the ring order).
  PartitionId add_partition(std::vector<std::vector<topology::VertexId>> groups);

  OpId add_compute(std::string name, std::string layer, DeviceSetId devices, const kernels::OpShape& shape,
                   std::vector<OpId> deps);
  OpId add_collective(std::string name, std::string layer, PartitionId partition, CollectiveOp op,
                      double bytes_per_device, std::vector<OpId> deps,
                      CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic);
  // Mutable access while building (e.g. to attach member shapes or matrices).
  [[nodiscard]] Op& op(OpId id) { return ops_[static_cast<std::size_t>(id)]; }
  [[nodiscard]] const Op& op(OpId id) const { return ops_[static_cast<std::size_t>(id)]; }
  [[nodiscard]] std::int32_t num_ops() const { return static_cast<std::int32_t>(ops_.size()); }
  [[nodiscard]] const std::vector<topology::VertexId>& device_set(DeviceSetId id) const {
    return device_sets_[static_cast<std::size_t>(id)];
  }
  [[nodiscard]] const std::vector<std::vector<topology::VertexId>>& partition(PartitionId id) const {
    return partitions_[static_cast<std::size_t>(id)];
  }
  // The devices an op runs on, sorted.
  [[nodiscard]] const std::vector<topology::VertexId>& members(OpId id) const;

 private:
  std::int32_t num_devices_ = 0;
  std::vector<Op> ops_;
  std::vector<std::vector<topology::VertexId>> device_sets_;
  std::vector<std::vector<std::vector<topology::VertexId>>> partitions_;
  std::vector<DeviceSetId> partition_members_;  // partition id -> device set of its union
  DeviceSetId all_devices_ = -1;
};

}  // namespace switchsim::sim
