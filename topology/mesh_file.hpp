#pragma once
// Custom meshes from JSON (format in docs/topology.md, example in
// data/examples/custom_ring4.json):
//
//   {"name": "...", "device_kind": "h100",
//    "vertices": [{"name": "gpu0", "kind": "device"}, {"name": "sw", "kind": "switch"}, ...],
//    "links": [{"src": "gpu0", "dst": "sw", "bandwidth_Bps": 4.5e11, "latency_s": 5e-7,
//               "kind": "nvlink", "efficiency": 0.8, "duplex": true}, ...]}
//
// Vertex kinds: device, switch, chip_router. Link kinds: ici, on_chip, nvlink,
// nic, fabric. `efficiency` defaults to the catalog figure of the device for
// that link kind (1.0 when the catalog has none); `duplex` (default true) adds
// both directions. Devices get ids in file order, before all other vertices.
// Routing: shortest paths with ECMP. Devices forward traffic (act as routers)
// when "devices_forward" is true; its default is true exactly when the mesh
// has no switch or chip_router vertices.

#include <string>

#include "common/json_io.hpp"
#include "topology/mesh.hpp"

namespace switchsim::topology {

// Reads `path`; InputError naming the field ("mesh.links[3].dst", ...) for a
// malformed or inconsistent file.
[[nodiscard]] Mesh load_mesh_file(const std::string& path);
// Builds from an already parsed document; `name` is used when it has none.
[[nodiscard]] Mesh mesh_from_json(const json& doc, const std::string& name);

}  // namespace switchsim::topology
