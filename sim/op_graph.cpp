#include "sim/op_graph.hpp"

#include <algorithm>

#include "common/errors.hpp"

namespace switchsim::sim {

const char* to_string(OpCategory category) {
  switch (category) {
    case OpCategory::compute: return "compute";
    case OpCategory::all_to_all: return "all_to_all";
    case OpCategory::all_reduce: return "all_reduce";
    case OpCategory::other_communication: return "other_communication";
  }
  return "?";
}

OpCategory Op::category() const {
  if (type == OpType::compute) return OpCategory::compute;
  if (point_to_point) return OpCategory::other_communication;
  if (collective == CollectiveOp::all_to_all) return OpCategory::all_to_all;
  if (collective == CollectiveOp::all_reduce) return OpCategory::all_reduce;
  return OpCategory::other_communication;
}

DeviceSetId OpGraph::add_device_set(std::vector<topology::VertexId> devices) {
  std::sort(devices.begin(), devices.end());
  SWITCHSIM_ASSERT(std::adjacent_find(devices.begin(), devices.end()) == devices.end(), "device set has repeats");
  SWITCHSIM_ASSERT(devices.empty() || (devices.front() >= 0 && devices.back() < num_devices_),
                   "device set outside the mesh");
  device_sets_.push_back(std::move(devices));
  return static_cast<DeviceSetId>(device_sets_.size() - 1);
}

DeviceSetId OpGraph::add_all_devices() {
  if (all_devices_ < 0) {
    std::vector<topology::VertexId> all(static_cast<std::size_t>(num_devices_));
    for (std::int32_t d = 0; d < num_devices_; ++d) all[static_cast<std::size_t>(d)] = d;
    all_devices_ = add_device_set(std::move(all));
  }
  return all_devices_;
}

PartitionId OpGraph::add_partition(std::vector<std::vector<topology::VertexId>> groups) {
  std::vector<topology::VertexId> all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  partition_members_.push_back(add_device_set(std::move(all)));  // asserts disjointness
  partitions_.push_back(std::move(groups));
  return static_cast<PartitionId>(partitions_.size() - 1);
}

OpId OpGraph::add_compute(std::string name, std::string layer, DeviceSetId devices, const kernels::OpShape& shape,
                          std::vector<OpId> deps) {
  const auto id = static_cast<OpId>(ops_.size());
  for (OpId d : deps) SWITCHSIM_ASSERT(d >= 0 && d < id, "an op may depend only on earlier ops");
  Op op;
  op.type = OpType::compute;
  op.name = std::move(name);
  op.layer = std::move(layer);
  op.devices = devices;
  op.shape = shape;
  op.deps = std::move(deps);
  ops_.push_back(std::move(op));
  return id;
}

OpId OpGraph::add_collective(std::string name, std::string layer, PartitionId partition, CollectiveOp collective,
                             double bytes_per_device, std::vector<OpId> deps, CollectiveAlgorithm algorithm) {
  const auto id = static_cast<OpId>(ops_.size());
  for (OpId d : deps) SWITCHSIM_ASSERT(d >= 0 && d < id, "an op may depend only on earlier ops");
  Op op;
  op.type = OpType::collective;
  op.name = std::move(name);
  op.layer = std::move(layer);
  op.partition = partition;
  op.devices = partition_members_[static_cast<std::size_t>(partition)];
  op.collective = collective;
  op.algorithm = algorithm;
  op.bytes_per_device = bytes_per_device;
  op.deps = std::move(deps);
  ops_.push_back(std::move(op));
  return id;
}

const std::vector<topology::VertexId>& OpGraph::members(OpId id) const { return device_set(op(id).devices); }

}  // namespace switchsim::sim
