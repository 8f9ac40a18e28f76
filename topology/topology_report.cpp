#include "topology/topology_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace switchsim::topology {

const char* to_string(MeshFamily family) {
  switch (family) {
    case MeshFamily::torus: return "torus";
    case MeshFamily::gpu_cluster: return "gpu_cluster";
    case MeshFamily::custom: return "custom";
  }
  return "unknown";
}

const char* to_string(FabricKind fabric) {
  switch (fabric) {
    case FabricKind::none: return "none";
    case FabricKind::fat_tree: return "fat_tree";
    case FabricKind::rail_optimized: return "rail_optimized";
  }
  return "unknown";
}

namespace {

struct KindSummary {
  std::int64_t directed_links = 0;
  double min_Bps = 0.0;
  double max_Bps = 0.0;
  double latency_s = 0.0;
  double efficiency = 0.0;
};

std::map<LinkKind, KindSummary> summarize_links(const Topology& topo) {
  std::map<LinkKind, KindSummary> kinds;
  for (const Link& l : topo.links()) {
    auto [it, fresh] = kinds.try_emplace(l.kind);
    KindSummary& k = it->second;
    if (fresh) {
      k.min_Bps = k.max_Bps = l.bandwidth_Bps;
      k.latency_s = l.latency_s;
      k.efficiency = l.efficiency;
    }
    ++k.directed_links;
    k.min_Bps = std::min(k.min_Bps, l.bandwidth_Bps);
    k.max_Bps = std::max(k.max_Bps, l.bandwidth_Bps);
  }
  return kinds;
}

json structure_json(const MeshStructure& s) {
  json j;
  j["family"] = to_string(s.family);
  if (s.family == MeshFamily::torus) {
    j["dims"] = s.dims;
    json wrap = json::array();
    for (bool w : s.wraparound) wrap.push_back(w);
    j["wraparound"] = wrap;
    j["cores_per_chip"] = s.cores_per_chip;
  } else if (s.family == MeshFamily::gpu_cluster) {
    j["nodes"] = s.nodes;
    j["gpus_per_node"] = s.gpus_per_node;
    j["fabric"] = to_string(s.fabric);
  }
  return j;
}

std::string si(double value, const char* unit) {
  // Prefixes n, u, m, -, k, M, G, T, P: index 3 is none.
  const char* prefixes[] = {"n", "u", "m", "", "k", "M", "G", "T", "P"};
  int i = 3;
  while (std::abs(value) >= 1000.0 && i < 8) {
    value /= 1000.0;
    ++i;
  }
  while (value != 0.0 && std::abs(value) < 1.0 && i > 0) {
    value *= 1000.0;
    --i;
  }
  return fmt::format("{:.4g} {}{}", value, prefixes[i], unit);
}

}  // namespace

json device_json(const DeviceSpec& spec) {
  json j;
  j["kind"] = spec.kind;
  j["description"] = spec.description;
  j["cores_per_chip"] = spec.cores_per_chip;
  j["per_device"] = {{"peak_bf16_flops", spec.peak_bf16_flops},
                     {"peak_fp32_flops", spec.peak_fp32_flops},
                     {"peak_fp8_flops", spec.peak_fp8_flops},  // 0: no FP8 matrix path (--precision fp8 refused)
                     {"memory_bytes", spec.memory_bytes},
                     {"memory_Bps", spec.memory_Bps}};
  j["catalog"] = spec.catalog_entry;
  return j;
}

json topology_json(const Mesh& mesh, const MeshMetrics& m) {
  json j;
  j["schema_version"] = kSchemaVersion;
  j["kind"] = "topology";
  j["mesh"] = mesh.name;
  j["device_kind"] = mesh.device_kind;
  j["structure"] = structure_json(mesh.structure);
  j["devices"] = m.devices;
  j["switches"] = m.switches;
  j["links"] = m.links;
  j["diameter_hops"] = m.hops.diameter_hops;
  j["average_hops"] = m.hops.average_hops;
  j["bisection_bandwidth_Bps"] = m.bisection_bandwidth_Bps;
  j["hops_method"] = m.hops_method;
  j["bisection_method"] = m.bisection_method;
  const DeviceSpec* dev = nullptr;
  try {
    dev = &device_spec(mesh.device_kind);
  } catch (const std::exception&) {
    dev = nullptr;
  }
  json kinds = json::array();
  for (const auto& [kind, k] : summarize_links(mesh.topology)) {
    json e;
    e["kind"] = to_string(kind);
    e["directed_links"] = k.directed_links;
    e["bandwidth_Bps"] = k.max_Bps;
    e["bandwidth_Bps_min"] = k.min_Bps;
    e["latency_s"] = k.latency_s;
    e["efficiency"] = k.efficiency;
    if (mesh.structure.family != MeshFamily::custom && dev != nullptr && dev->has_link(kind)) {
      const LinkKindSpec& ls = dev->link_kind(kind);
      e["source"] = {{"bandwidth_Bps", ls.bandwidth_source},
                     {"latency_s", ls.latency_source},
                     {"efficiency", ls.efficiency_source}};
    } else if (mesh.structure.family == MeshFamily::custom) {
      e["source"] = "mesh file";
    }
    kinds.push_back(e);
  }
  j["link_kinds"] = kinds;
  if (dev != nullptr) j["device"] = device_json(*dev)["per_device"];
  json prov = provenance();
  prov["device_catalog"] = "data/devices.json";
  j["provenance"] = prov;
  return j;
}

std::string topology_text(const Mesh& mesh, const MeshMetrics& m) {
  std::string out = fmt::format("mesh {} ({}, device {})\n", mesh.name, to_string(mesh.structure.family),
                                mesh.device_kind);
  const MeshStructure& s = mesh.structure;
  if (s.family == MeshFamily::torus) {
    std::vector<std::string> dims;
    for (std::size_t d = 0; d < s.dims.size(); ++d) {
      dims.push_back(fmt::format("{}{}", s.dims[d], s.wraparound[d] ? " (ring)" : " (line)"));
    }
    out += fmt::format("  chips        {}, {} device(s) per chip\n", fmt::join(dims, " x "), s.cores_per_chip);
  } else if (s.family == MeshFamily::gpu_cluster) {
    out += fmt::format("  nodes        {} x {} GPUs, fabric {}\n", s.nodes, s.gpus_per_node, to_string(s.fabric));
  }
  out += fmt::format("  devices      {}\n  switches     {} (incl. chip routers)\n  links        {} directed\n",
                     m.devices, m.switches, m.links);
  out += fmt::format("  diameter     {} hops\n  average      {:.4f} hops between distinct devices\n",
                     m.hops.diameter_hops, m.hops.average_hops);
  out += fmt::format("  bisection    {} one direction ({})\n", si(m.bisection_bandwidth_Bps, "B/s"),
                     m.bisection_method);
  for (const auto& [kind, k] : summarize_links(mesh.topology)) {
    const std::string bw = k.min_Bps == k.max_Bps
                               ? si(k.max_Bps, "B/s")
                               : fmt::format("{} .. {}", si(k.min_Bps, "B/s"), si(k.max_Bps, "B/s"));
    out += fmt::format("  {:<12} {} links, {} per direction, {} latency, efficiency {}\n", to_string(kind),
                       k.directed_links, bw, si(k.latency_s, "s"), k.efficiency);
  }
  return out;
}

}  // namespace switchsim::topology
