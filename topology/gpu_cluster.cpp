#include "topology/gpu_cluster.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "topology/shortest_path_router.hpp"

namespace switchsim::topology {

Mesh build_gpu_cluster(const std::string& name, const GpuClusterSpec& spec) {
  if (spec.nodes < 1) throw InputError("mesh", "a GPU cluster needs at least one node");
  if (spec.gpus_per_node < 1) throw InputError("mesh", "a node needs at least one GPU");
  if (static_cast<long long>(spec.nodes) * spec.gpus_per_node > (1 << 16)) {
    throw InputError("mesh", "GPU cluster too large (more than 65536 GPUs)");
  }
  if (spec.gpus_per_leaf < 1 || spec.spines < 1) throw InputError("mesh", "leaf size and spines must be >= 1");
  const int gpus = spec.nodes * spec.gpus_per_node;

  Mesh mesh;
  mesh.name = name;
  mesh.device_kind = spec.device_kind;
  mesh.structure.family = MeshFamily::gpu_cluster;
  mesh.structure.nodes = spec.nodes;
  mesh.structure.gpus_per_node = spec.gpus_per_node;
  mesh.structure.fabric = spec.nodes > 1 ? spec.fabric : FabricKind::none;
  mesh.structure.switch_reduction = spec.switch_reduction;
  if (!(spec.nvls_efficiency > 0.0 && spec.nvls_efficiency <= 1.0)) {
    throw InputError("mesh", "NVLS efficiency must be in (0, 1]");
  }
  mesh.structure.nvls_efficiency = spec.nvls_efficiency;

  Topology& topo = mesh.topology;
  for (int g = 0; g < gpus; ++g) {
    topo.add_vertex(VertexKind::device, fmt::format("gpu{}", g));
  }
  for (int n = 0; n < spec.nodes; ++n) {
    const VertexId sw = topo.add_vertex(VertexKind::switch_node, fmt::format("nvswitch{}", n));
    for (int i = 0; i < spec.gpus_per_node; ++i) {
      topo.add_duplex_link(n * spec.gpus_per_node + i, sw, spec.nvlink.bandwidth_Bps, spec.nvlink.latency_s,
                           spec.nvlink.efficiency, LinkKind::nvlink);
    }
  }
  const FabricKind fabric = mesh.structure.fabric;
  if (fabric != FabricKind::none) {
    // Edge switches: leaves (fat-tree) or rails; `members[e]` = GPUs on edge e.
    std::vector<std::vector<int>> members;
    std::string edge_name;
    if (fabric == FabricKind::fat_tree) {
      edge_name = "leaf";
      const int leaves = (gpus + spec.gpus_per_leaf - 1) / spec.gpus_per_leaf;
      members.resize(static_cast<std::size_t>(leaves));
      for (int g = 0; g < gpus; ++g) members[static_cast<std::size_t>(g / spec.gpus_per_leaf)].push_back(g);
    } else {
      edge_name = "rail";
      members.resize(static_cast<std::size_t>(spec.gpus_per_node));
      for (int g = 0; g < gpus; ++g) members[static_cast<std::size_t>(g % spec.gpus_per_node)].push_back(g);
    }
    std::vector<VertexId> edges;
    for (std::size_t e = 0; e < members.size(); ++e) {
      edges.push_back(topo.add_vertex(VertexKind::switch_node, fmt::format("{}{}", edge_name, e)));
    }
    for (std::size_t e = 0; e < members.size(); ++e) {
      for (int g : members[e]) {
        topo.add_duplex_link(g, edges[e], spec.nic.bandwidth_Bps, spec.nic.latency_s, spec.nic.efficiency,
                             LinkKind::nic);
      }
    }
    if (members.size() > 1) {
      std::vector<VertexId> spines;
      for (int s = 0; s < spec.spines; ++s) {
        spines.push_back(topo.add_vertex(VertexKind::switch_node, fmt::format("spine{}", s)));
      }
      for (std::size_t e = 0; e < members.size(); ++e) {
        // Non-blocking: the edge's uplinks carry what its GPUs' NICs can send.
        const double bundle_Bps =
            static_cast<double>(members[e].size()) * spec.nic.bandwidth_Bps / static_cast<double>(spec.spines);
        for (VertexId s : spines) {
          topo.add_duplex_link(edges[e], s, bundle_Bps, spec.fabric_port.latency_s, spec.fabric_port.efficiency,
                               LinkKind::fabric);
        }
      }
    }
  }
  topo.finalize();
  mesh.router = make_shortest_path_router(topo, /*devices_forward=*/false);
  return mesh;
}

}  // namespace switchsim::topology
