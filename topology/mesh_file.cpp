#include "topology/mesh_file.hpp"

#include <unordered_map>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "topology/device_catalog.hpp"
#include "topology/shortest_path_router.hpp"

namespace switchsim::topology {

Mesh load_mesh_file(const std::string& path) {
  Mesh mesh = mesh_from_json(read_json_file(path, "--mesh"), path);
  mesh.file = path;
  return mesh;
}

Mesh mesh_from_json(const json& doc, const std::string& name) {
  if (!doc.is_object()) throw InputError("mesh", "must be a JSON object");
  // The format, field by field: docs/topology.md ("Custom meshes").
  require_known_keys(doc, {"schema_version", "name", "description", "device_kind", "vertices", "links", "devices_forward"},
                     "mesh");
  if (doc.contains("description")) (void)require_string(doc, "description", "mesh");
  Mesh mesh;
  mesh.name = doc.contains("name") ? require_string(doc, "name", "mesh") : name;
  mesh.device_kind = require_string(doc, "device_kind", "mesh");
  const DeviceSpec* dev = nullptr;
  try {
    dev = &device_spec(mesh.device_kind);
  } catch (const InputError& e) {
    throw InputError("mesh.device_kind", e.reason());
  }
  mesh.structure.family = MeshFamily::custom;

  const json& vertices = require(doc, "vertices", "mesh");
  if (!vertices.is_array()) throw InputError("mesh.vertices", "must be an array");
  struct Parsed {
    std::string name;
    VertexKind kind;
  };
  std::vector<Parsed> parsed;
  for (std::size_t i = 0; i < vertices.size(); ++i) {
    const std::string where = fmt::format("mesh.vertices[{}]", i);
    require_known_keys(vertices[i], {"name", "kind"}, where);
    Parsed p{require_string(vertices[i], "name", where), VertexKind::device};
    if (p.name.empty()) throw InputError(where + ".name", "must not be empty");
    const std::string kind = require_string(vertices[i], "kind", where);
    if (!parse_vertex_kind(kind, p.kind)) {
      throw InputError(where + ".kind", "unknown vertex kind '" + kind + "' (device, switch, chip_router)");
    }
    parsed.push_back(std::move(p));
  }
  // Devices first, in file order; then the rest in file order.
  std::unordered_map<std::string, VertexId> ids;
  bool has_switches = false;
  for (bool devices_pass : {true, false}) {
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      if ((parsed[i].kind == VertexKind::device) != devices_pass) continue;
      if (ids.count(parsed[i].name) != 0) {
        throw InputError(fmt::format("mesh.vertices[{}].name", i), "duplicate vertex '" + parsed[i].name + "'");
      }
      ids[parsed[i].name] = mesh.topology.add_vertex(parsed[i].kind, parsed[i].name);
      has_switches = has_switches || !devices_pass;
    }
  }
  if (mesh.topology.num_vertices() == 0 || parsed.front().kind != VertexKind::device) {
    bool any = false;
    for (const Parsed& p : parsed) any = any || p.kind == VertexKind::device;
    if (!any) throw InputError("mesh.vertices", "has no devices");
  }

  const json& links = require(doc, "links", "mesh");
  if (!links.is_array()) throw InputError("mesh.links", "must be an array");
  for (std::size_t i = 0; i < links.size(); ++i) {
    const std::string where = fmt::format("mesh.links[{}]", i);
    const json& l = links[i];
    require_known_keys(l, {"src", "dst", "bandwidth_Bps", "latency_s", "kind", "efficiency", "duplex"}, where);
    auto endpoint = [&](const char* key) {
      const std::string v = require_string(l, key, where);
      auto it = ids.find(v);
      if (it == ids.end()) throw InputError(where + "." + key, "no vertex named '" + v + "'");
      return it->second;
    };
    Link link;
    link.src = endpoint("src");
    link.dst = endpoint("dst");
    if (link.src == link.dst) throw InputError(where + ".dst", "a link must join two different vertices");
    link.bandwidth_Bps = require_positive(l, "bandwidth_Bps", where);
    link.latency_s = require_number(l, "latency_s", where);
    if (link.latency_s < 0.0) throw InputError(where + ".latency_s", "must be >= 0");
    const std::string kind = require_string(l, "kind", where);
    if (!parse_link_kind(kind, link.kind)) {
      throw InputError(where + ".kind", "unknown link kind '" + kind + "' (ici, on_chip, nvlink, nic, fabric)");
    }
    link.efficiency = dev->has_link(link.kind) ? dev->link(link.kind).efficiency : 1.0;
    if (l.contains("efficiency")) {
      link.efficiency = require_number(l, "efficiency", where);
      if (!(link.efficiency > 0.0 && link.efficiency <= 1.0)) {
        throw InputError(where + ".efficiency", "must be in (0, 1]");
      }
    }
    bool duplex = true;
    if (l.contains("duplex")) {
      if (!l["duplex"].is_boolean()) throw InputError(where + ".duplex", "must be true or false");
      duplex = l["duplex"].get<bool>();
    }
    mesh.topology.add_link(link);
    if (duplex) {
      Link back = link;
      std::swap(back.src, back.dst);
      mesh.topology.add_link(back);
    }
  }
  try {
    mesh.topology.finalize();
  } catch (const InputError& e) {
    throw InputError("mesh.links", e.reason());
  }
  bool devices_forward = !has_switches;
  if (doc.contains("devices_forward")) {
    if (!doc["devices_forward"].is_boolean()) throw InputError("mesh.devices_forward", "must be true or false");
    devices_forward = doc["devices_forward"].get<bool>();
  }
  mesh.router = make_shortest_path_router(mesh.topology, devices_forward);
  return mesh;
}

}  // namespace switchsim::topology
