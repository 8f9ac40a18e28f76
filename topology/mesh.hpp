#pragma once
// A mesh is a topology plus what builders know about its structure (torus
// dimensions, GPU nodes) plus its router. Collectives and the op-graph builder
// read the structure to choose algorithms and to map logical axes onto
// physical dimensions.

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
};

// Routes between devices. Paths are computed once and cached; `paths` is safe
// to call from several threads at once.
class Router {
 public:
  virtual ~Router() = default;
  // The equal-cost paths (ECMP set) from device `src` to device `dst`: at least
  // one when src != dst, none when src == dst. Traffic is spread evenly over them.
  [[nodiscard]] virtual std::span<const Path> paths(VertexId src, VertexId dst) const = 0;
};

struct Mesh {
  std::string name;         // catalog name or file path it came from
  std::string device_kind;  // key into the device catalog ("tpuv3", "h100", ...)
  MeshStructure structure;
  Topology topology;
  std::unique_ptr<Router> router;

  // Torus: the chip-grid coordinates of device d, and which core of its chip it is.
  [[nodiscard]] std::vector<int> torus_coordinates(VertexId device) const;
  [[nodiscard]] int core_index(VertexId device) const;
  // GPU cluster: the node of device d.
  [[nodiscard]] int node_of(VertexId device) const;
};

}  // namespace switchsim::topology
