#pragma once
// Meshes by name. Grammar (docs/topology.md):
//   tpuv3-AxB            TPU v3 slice of A x B chips (2 cores each), 2D
//   tpuv4-AxBxC          TPU v4 slice of A x B x C chips (1 megacore each), 3D
//   dgx-a100-N           N DGX A100 nodes (8 GPUs each)
//   dgx-h100-N           N DGX H100 nodes
//   hgx-h200-N           N HGX H200 nodes
//   dgx-h800-N           N H800 nodes (8 GPUs, NVLink 400 GB/s)
//   dgx-b200-N           N DGX B200 nodes (8 GPUs, NVLink 5)
//   gb200-nvl72-N        N GB200 NVL72 racks, each one 72-GPU NVLink domain
//   tpuv5p-AxBxC         TPU v5p slice (1 megacore per chip), 3D, at most 16x16x24 (6144 chips)
//   tpuv5e-AxB           TPU v5e slice (1 TensorCore per chip), 2D, at most 16x16
//   cpu-1                the host CPU as one device (device kind `cpu`, no links); pricing
//                        it needs a measured profile (--profile, docs/kernels.md)
//   ...-rail             GPU clusters only: rail-optimized fabric instead of fat-tree
// Wraparound (mesh_catalog.cpp, WrapRule): tpuv3/tpuv4: a dimension of 4 chips
// or more is a ring, 2 or 3 a line; tpuv5p: a slice of whole 4x4x4 cubes is a
// full torus, any other slice has no wraparound; tpuv5e: an axis wraps only at
// its full 16 chips. A slice larger than the published largest one, or a GPU
// cluster above 65536 GPUs, is InputError("--mesh") naming the mesh. Anything that
// is not a catalog name but names an existing file (or ends in .json) is read
// as a custom mesh (mesh_file.hpp).

#include <string>
#include <vector>

#include "topology/mesh.hpp"

namespace switchsim::topology {

// Builds the named mesh or loads the JSON file. InputError("--mesh" or the
// file's field, ...) on an unknown name or bad file.
[[nodiscard]] Mesh build_mesh(const std::string& name_or_path);

// Example catalog names for `switchsim list meshes` (the grammar accepts more).
[[nodiscard]] std::vector<std::string> catalog_mesh_names();

// The mesh name grammar in one line per pattern, for help and errors.
[[nodiscard]] std::vector<std::string> mesh_name_grammar();

}  // namespace switchsim::topology
