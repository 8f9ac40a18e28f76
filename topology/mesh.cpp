#include "topology/mesh.hpp"

#include "common/errors.hpp"

namespace switchsim::topology {

std::vector<int> Mesh::torus_coordinates(VertexId device) const {
  SWITCHSIM_ASSERT(structure.family == MeshFamily::torus, "torus_coordinates on a mesh that is not a torus");
  SWITCHSIM_ASSERT(device >= 0 && device < topology.num_devices(), "not a device");
  // Devices are numbered chip-major: device = chip * cores_per_chip + core,
  // chip = x0 + n0 * (x1 + n1 * (x2 ...)) (dimension 0 varies fastest).
  int chip = device / structure.cores_per_chip;
  std::vector<int> coords(structure.dims.size());
  for (std::size_t d = 0; d < structure.dims.size(); ++d) {
    coords[d] = chip % structure.dims[d];
    chip /= structure.dims[d];
  }
  return coords;
}

int Mesh::core_index(VertexId device) const {
  SWITCHSIM_ASSERT(structure.family == MeshFamily::torus, "core_index on a mesh that is not a torus");
  SWITCHSIM_ASSERT(device >= 0 && device < topology.num_devices(), "not a device");
  return device % structure.cores_per_chip;
}

int Mesh::node_of(VertexId device) const {
  SWITCHSIM_ASSERT(structure.family == MeshFamily::gpu_cluster, "node_of on a mesh that is not a GPU cluster");
  SWITCHSIM_ASSERT(device >= 0 && device < topology.num_devices(), "not a device");
  return device / structure.gpus_per_node;
}

VertexId Mesh::node_switch(int node) const {
  SWITCHSIM_ASSERT(structure.family == MeshFamily::gpu_cluster, "node_switch on a mesh that is not a GPU cluster");
  SWITCHSIM_ASSERT(node >= 0 && node < structure.nodes, "no such node");
  const VertexId v = topology.num_devices() + node;  // gpu_cluster.hpp: NVSwitches follow the GPUs
  SWITCHSIM_ASSERT(topology.vertex(v).kind == VertexKind::switch_node, "not the node's NVSwitch");
  return v;
}

}  // namespace switchsim::topology
