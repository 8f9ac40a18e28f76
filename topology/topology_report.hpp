#pragma once
// The `switchsim topology` result: JSON (an API: schema_version, provenance)
// and a short human summary. Also the per-device catalog view used by
// `switchsim list devices`.

#include <string>

#include "common/json_io.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh.hpp"
#include "topology/metrics.hpp"

namespace switchsim::topology {

[[nodiscard]] const char* to_string(MeshFamily family);
[[nodiscard]] const char* to_string(FabricKind fabric);

// {"schema_version", "kind": "topology", "mesh", "device_kind", "family",
//  "structure", "devices", "switches", "links", "diameter_hops",
//  "average_hops", "bisection_bandwidth_Bps", "hops_method",
//  "bisection_method", "link_kinds": [...], "device": {...}, "provenance"}
[[nodiscard]] json topology_json(const Mesh& mesh, const MeshMetrics& metrics);
[[nodiscard]] std::string topology_text(const Mesh& mesh, const MeshMetrics& metrics);

// One device kind: per-device figures, per-chip figures, links with sources.
[[nodiscard]] json device_json(const DeviceSpec& spec);

}  // namespace switchsim::topology
