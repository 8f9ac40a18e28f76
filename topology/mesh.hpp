#pragma once
// A mesh is a topology plus what builders know about its structure (torus
// dimensions, GPU nodes) plus its router. Collectives and the op-graph builder
// read the structure to choose algorithms and to map logical axes onto
// physical dimensions.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "topology/topology.hpp"

namespace switchsim::topology {

enum class MeshFamily : std::uint8_t { torus, gpu_cluster, custom };
enum class FabricKind : std::uint8_t { none, fat_tree, rail_optimized };

struct MeshStructure {
  MeshFamily family = MeshFamily::custom;
  // torus: chip grid per dimension, wraparound per dimension, cores per chip.
  std::vector<int> dims;
  std::vector<bool> wraparound;
  int cores_per_chip = 1;
  // gpu_cluster: nodes x gpus_per_node, NVSwitch inside a node, NICs into a fabric.
  int nodes = 0;
  int gpus_per_node = 0;
  FabricKind fabric = FabricKind::none;
  // gpu_cluster: the NVSwitch reduces in the switch (NVLink SHARP: NCCL's NVLS),
  // from the device catalog (DeviceSpec::nvswitch_reduction).
  bool switch_reduction = false;
  // gpu_cluster: the fraction of NVLink bandwidth the in-switch reduction
  // reaches (DeviceSpec::nvls_efficiency; NCCL's NVLS efficiency).
  double nvls_efficiency = 1.0;
};

// Routes between devices. Paths are computed once and cached; `paths` is safe
// to call from several threads at once.
class Router {
 public:
  virtual ~Router() = default;
  // The equal-cost paths (ECMP set) from device `src` to device `dst`: at least
  // one when src != dst, none when src == dst. Traffic is spread evenly over them.
  // The shortest-path router of GPU clusters also routes to and from switch
  // vertices (in-switch reduction, gpu_cluster.hpp); the torus router does not.
  [[nodiscard]] virtual std::span<const Path> paths(VertexId src, VertexId dst) const = 0;

  // Bulk routing without caching (an all-to-all over 2048 TPU cores asks for
  // 4 million pairs; storing every path would take ~300 MB). `path_count` is
  // the size of the ECMP set; `append_path` appends the links of path `choice`
  // (0 <= choice < path_count) to `out`. Same paths, same order as `paths`.
  // The defaults go through `paths`; the torus router computes them
  // arithmetically (dimension-order routing) without touching the cache.
  [[nodiscard]] virtual std::int32_t path_count(VertexId src, VertexId dst) const {
    return static_cast<std::int32_t>(paths(src, dst).size());
  }
  virtual void append_path(VertexId src, VertexId dst, std::int32_t choice, Path& out) const {
    const Path& p = paths(src, dst)[static_cast<std::size_t>(choice)];
    out.insert(out.end(), p.begin(), p.end());
  }
};

struct Mesh {
  std::string name;         // catalog name; a mesh file's "name" (default: its path) labels it in every output
  std::string file;         // the mesh file it was read from (empty for catalog names)
  std::string device_kind;  // key into the device catalog ("tpuv3", "h100", ...)
  // TPU meshes run XLA (fused gradient sync, einsum MoE); the others are GPU meshes (NCCL, DDP).
  [[nodiscard]] bool is_tpu() const { return device_kind.rfind("tpu", 0) == 0; }
  MeshStructure structure;
  Topology topology;
  std::unique_ptr<Router> router;

  // Torus: the chip-grid coordinates of device d, and which core of its chip it is.
  [[nodiscard]] std::vector<int> torus_coordinates(VertexId device) const;
  [[nodiscard]] int core_index(VertexId device) const;
  // GPU cluster: the node of device d.
  [[nodiscard]] int node_of(VertexId device) const;
  // GPU cluster: the NVSwitch vertex of a node (the shortest-path router routes
  // to and from it, for in-switch reductions).
  [[nodiscard]] VertexId node_switch(int node) const;
};

}  // namespace switchsim::topology
