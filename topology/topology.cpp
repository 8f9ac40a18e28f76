#include "topology/topology.hpp"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace switchsim::topology {

const char* to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::ici: return "ici";
    case LinkKind::on_chip: return "on_chip";
    case LinkKind::nvlink: return "nvlink";
    case LinkKind::nic: return "nic";
    case LinkKind::fabric: return "fabric";
  }
  return "unknown";
}

const char* to_string(VertexKind kind) {
  switch (kind) {
    case VertexKind::device: return "device";
    case VertexKind::chip_router: return "chip_router";
    case VertexKind::switch_node: return "switch";
  }
  return "unknown";
}

bool parse_link_kind(const std::string& text, LinkKind& kind) {
  for (int i = 0; i < kNumLinkKinds; ++i) {
    const auto k = static_cast<LinkKind>(i);
    if (text == to_string(k)) {
      kind = k;
      return true;
    }
  }
  return false;
}

bool parse_vertex_kind(const std::string& text, VertexKind& kind) {
  for (VertexKind k : {VertexKind::device, VertexKind::chip_router, VertexKind::switch_node}) {
    if (text == to_string(k)) {
      kind = k;
      return true;
    }
  }
  return false;
}

VertexId Topology::add_vertex(VertexKind kind, std::string name) {
  SWITCHSIM_ASSERT(!finalized(), "add_vertex after finalize");
  vertices_.push_back(Vertex{kind, std::move(name)});
  return static_cast<VertexId>(vertices_.size() - 1);
}

LinkId Topology::add_link(const Link& link) {
  SWITCHSIM_ASSERT(!finalized(), "add_link after finalize");
  SWITCHSIM_ASSERT(link.src >= 0 && link.src < num_vertices() && link.dst >= 0 && link.dst < num_vertices(),
                   "link endpoint is not a vertex");
  SWITCHSIM_ASSERT(link.src != link.dst, "self-loop link");
  SWITCHSIM_ASSERT(std::isfinite(link.bandwidth_Bps) && link.bandwidth_Bps > 0.0, "link bandwidth must be positive");
  SWITCHSIM_ASSERT(std::isfinite(link.latency_s) && link.latency_s >= 0.0, "link latency must be >= 0");
  SWITCHSIM_ASSERT(link.efficiency > 0.0 && link.efficiency <= 1.0, "link efficiency must be in (0, 1]");
  links_.push_back(link);
  return static_cast<LinkId>(links_.size() - 1);
}

LinkId Topology::add_duplex_link(VertexId a, VertexId b, double bandwidth_Bps, double latency_s, double efficiency,
                                 LinkKind kind) {
  const LinkId forward = add_link(Link{a, b, bandwidth_Bps, latency_s, efficiency, kind});
  add_link(Link{b, a, bandwidth_Bps, latency_s, efficiency, kind});
  return forward;
}

std::span<const LinkId> Topology::out_links(VertexId v) const {
  SWITCHSIM_ASSERT(finalized(), "out_links before finalize");
  const auto i = static_cast<std::size_t>(v);
  const auto begin = static_cast<std::size_t>(out_offsets_.at(i));
  const auto end = static_cast<std::size_t>(out_offsets_.at(i + 1));
  return std::span<const LinkId>(out_ids_).subspan(begin, end - begin);
}

namespace {

// Vertices reachable from `start` following links forward (or backward).
std::vector<char> reachable(const std::vector<Link>& links, std::int32_t n, VertexId start, bool backward) {
  std::vector<std::vector<VertexId>> adj(static_cast<std::size_t>(n));
  for (const Link& l : links) {
    if (backward) {
      adj[static_cast<std::size_t>(l.dst)].push_back(l.src);
    } else {
      adj[static_cast<std::size_t>(l.src)].push_back(l.dst);
    }
  }
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  std::vector<VertexId> stack{start};
  seen[static_cast<std::size_t>(start)] = 1;
  while (!stack.empty()) {
    const VertexId v = stack.back();
    stack.pop_back();
    for (VertexId w : adj[static_cast<std::size_t>(v)]) {
      if (seen[static_cast<std::size_t>(w)] == 0) {
        seen[static_cast<std::size_t>(w)] = 1;
        stack.push_back(w);
      }
    }
  }
  return seen;
}

}  // namespace

void Topology::finalize() {
  SWITCHSIM_ASSERT(!finalized(), "finalize called twice");
  num_devices_ = 0;
  for (const Vertex& v : vertices_) {
    if (v.kind != VertexKind::device) break;
    ++num_devices_;
  }
  for (VertexId v = num_devices_; v < num_vertices(); ++v) {
    SWITCHSIM_ASSERT(vertex(v).kind != VertexKind::device, "device vertices must come first");
  }
  if (num_devices_ == 0) {
    throw InputError("mesh", "has no devices");
  }
  // Every device must reach every other: all devices reachable from device 0
  // forward, and device 0 reachable from all devices (backward search).
  const auto fwd = reachable(links_, num_vertices(), 0, false);
  const auto bwd = reachable(links_, num_vertices(), 0, true);
  for (VertexId d = 0; d < num_devices_; ++d) {
    if (fwd[static_cast<std::size_t>(d)] == 0 || bwd[static_cast<std::size_t>(d)] == 0) {
      throw InputError("mesh", fmt::format("is disconnected: device '{}' cannot exchange data with device '{}'",
                                           vertex(d).name, vertex(0).name));
    }
  }
  // CSR adjacency, links of a vertex in insertion order.
  out_offsets_.assign(static_cast<std::size_t>(num_vertices()) + 1, 0);
  for (const Link& l : links_) ++out_offsets_[static_cast<std::size_t>(l.src) + 1];
  for (std::size_t i = 1; i < out_offsets_.size(); ++i) out_offsets_[i] += out_offsets_[i - 1];
  out_ids_.assign(links_.size(), 0);
  std::vector<std::int32_t> fill(out_offsets_.begin(), out_offsets_.end() - 1);
  for (LinkId id = 0; id < num_links(); ++id) {
    out_ids_[static_cast<std::size_t>(fill[static_cast<std::size_t>(link(id).src)]++)] = id;
  }
}

std::string Topology::to_string() const {
  return fmt::format("{} devices, {} switches, {} directed links", num_devices(), num_switches(), num_links());
}

}  // namespace switchsim::topology
