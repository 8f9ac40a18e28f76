#pragma once
// Meshes by name. Grammar (docs/topology.md):
//   tpuv3-AxB            TPU v3 slice of A x B chips (2 cores each), 2D
//   tpuv4-AxBxC          TPU v4 slice of A x B x C chips (1 megacore each), 3D
//   dgx-a100-N           N DGX A100 nodes (8 GPUs each)
//   dgx-h100-N           N DGX H100 nodes
//   hgx-h200-N           N HGX H200 nodes
//   ...-rail             GPU clusters only: rail-optimized fabric instead of fat-tree
// A TPU dimension wraps around when it has at least 4 chips (pod slices of
// full rings are tori); a dimension of 2 or 3 chips is a line. Anything that
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
