#pragma once
// The `nvlink_domain` what-if (docs/sweep.md): the same GPUs of a catalog GPU
// cluster (dgx-*, hgx-*, gb200-nvl72-*), regrouped into NVLink domains of n GPUs.
//
//   GPUs G = nodes x gpus_per_node (unchanged)  ->  G / n nodes of n GPUs each
//
// e.g. dgx-h100-4 (4 nodes x 8) with nvlink_domain 16 = 2 nodes of 16 GPUs; with
// nvlink_domain 32 = one 32-GPU domain and no fabric. The rebuilt mesh keeps the
// device kind, every per-GPU link figure of the catalog (NVLink, NIC and fabric
// port: topology::device_spec), the fabric kind (fat-tree, or rail-optimized for
// a -rail mesh) and the NVSwitch reduction.
//
// engineering assumption: a domain of n GPUs is one NVSwitch vertex giving every
// GPU the device's NVLink bandwidth to every other (as an NVL72 rack's switch
// trays do); a larger NVLink fabric of several switch levels would add hop
// latency this does not model. Each GPU keeps its own NIC.
//
// Refused (InputError naming `field`): TPU tori and custom mesh files (no node
// size to rebuild), and a domain size that does not divide the GPUs.

#include <string>

#include "topology/mesh.hpp"

namespace switchsim::sweep {

void check_nvlink_domain(const topology::Mesh& mesh, int gpus_per_domain, const std::string& field);
[[nodiscard]] topology::Mesh rebuild_with_nvlink_domain(const topology::Mesh& mesh, int gpus_per_domain,
                                                        const std::string& field);

}  // namespace switchsim::sweep
