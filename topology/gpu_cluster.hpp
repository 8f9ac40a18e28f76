#pragma once
// GPU node and cluster builders.
//
// A node is `gpus_per_node` GPUs, each with one duplex NVLink link pair to the
// node's NVSwitch vertex at the per-direction NVLink figure (the GPU's NVLink
// ports aggregated). With more than one node, every GPU also has one NIC: a
// duplex link at the NIC figure into the scale-out fabric:
//
// fat_tree (two-level leaf/spine, non-blocking): GPU g (global index) plugs
//   into leaf g / gpus_per_leaf. With more than one leaf there are `spines`
//   spine switches and each leaf has one link pair to each spine with
//   bandwidth gpus_on_leaf * nic / spines (a bundle of ports), so a leaf's
//   uplink equals its downlink capacity. Leaf-to-leaf traffic has `spines`
//   equal-cost paths.
// rail_optimized: GPU i of every node plugs into rail switch i (one rail per
//   GPU index); `spines` spine switches join the rails, each rail having one
//   link pair to each spine with bandwidth nodes * nic / spines.
//
// Device ids: gpu = node * gpus_per_node + local index. Then the NVSwitches
// (one per node; vertex id num_devices() + node), then leaves or rails, then spines. Routing: shortest paths
// by latency (ties by hop count) with ECMP, through switches only (a GPU never
// forwards traffic), so traffic inside a node takes NVLink.

#include <string>

#include "topology/mesh.hpp"

namespace switchsim::topology {

struct GpuClusterSpec {
  int nodes = 1;
  int gpus_per_node = 8;
  FabricKind fabric = FabricKind::fat_tree;  // ignored for one node
  int gpus_per_leaf = 16;                    // fat-tree leaf size (GPU ports)
  int spines = 8;                            // spine switches when there is more than one leaf / rail
  LinkSpec nvlink;                           // GPU <-> NVSwitch, per direction
  LinkSpec nic;                              // GPU <-> leaf or rail, per direction
  LinkSpec fabric_port;                      // switch <-> switch: latency and efficiency (bandwidth is bundled)
  std::string device_kind;
  bool switch_reduction = false;             // NVSwitch reduces in the switch (NVLS)
  double nvls_efficiency = 1.0;              // fraction of NVLink bandwidth the NVLS data path reaches
};

// InputError("mesh", ...) for a bad spec.
[[nodiscard]] Mesh build_gpu_cluster(const std::string& name, const GpuClusterSpec& spec);

}  // namespace switchsim::topology
