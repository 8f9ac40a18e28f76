#include "sweep/nvlink_domain.hpp"

#include <fmt/format.h>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "topology/gpu_cluster.hpp"

namespace switchsim::sweep {

void check_nvlink_domain(const topology::Mesh& mesh, int gpus_per_domain, const std::string& field) {
  if (mesh.structure.family != topology::MeshFamily::gpu_cluster || !mesh.file.empty()) {
    throw InputError(field, fmt::format("mesh '{}' is not a catalog GPU cluster (dgx-, hgx-, gb200-nvl72-): "
                                        "it has no NVLink domains to rebuild",
                                        mesh.name));
  }
  const int gpus = mesh.structure.nodes * mesh.structure.gpus_per_node;
  if (gpus_per_domain < 1 || gpus % gpus_per_domain != 0) {
    throw InputError(field, fmt::format("{} does not divide the {} GPUs of mesh '{}'", gpus_per_domain, gpus,
                                        mesh.name));
  }
}

topology::Mesh rebuild_with_nvlink_domain(const topology::Mesh& mesh, int gpus_per_domain, const std::string& field) {
  check_nvlink_domain(mesh, gpus_per_domain, field);
  const topology::DeviceSpec& dev = topology::device_spec(mesh.device_kind);
  topology::GpuClusterSpec spec;  // as mesh_catalog.cpp builds dgx-/gb200- meshes, with the new node size
  spec.nodes = mesh.structure.nodes * mesh.structure.gpus_per_node / gpus_per_domain;
  spec.gpus_per_node = gpus_per_domain;
  // A one-node mesh records no fabric: its name says whether it is a -rail mesh.
  const bool rail = mesh.structure.fabric == topology::FabricKind::rail_optimized || mesh.name.ends_with("-rail");
  spec.fabric = rail ? topology::FabricKind::rail_optimized : topology::FabricKind::fat_tree;
  spec.nvlink = dev.link(topology::LinkKind::nvlink);
  spec.nic = dev.link(topology::LinkKind::nic);
  spec.fabric_port = dev.link(topology::LinkKind::fabric);
  spec.device_kind = mesh.device_kind;
  spec.switch_reduction = dev.nvswitch_reduction;
  spec.nvls_efficiency = dev.nvls_efficiency;
  return topology::build_gpu_cluster(mesh.name, spec);
}

}  // namespace switchsim::sweep
