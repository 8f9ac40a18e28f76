#pragma once
// The picture of the machine: devices (GPUs or TPU TensorCores) and switches
// are vertices, links are directed edges with a bandwidth per direction and a
// latency. Device vertices come first: ids [0, num_devices()) are devices, the
// rest are switches or chip routers. A TPU v3 chip is a router vertex whose two
// cores hang off it by on-chip links, so both cores share the chip's ICI links.
//
// The graph is stored as flat arrays (links in a vector, adjacency as CSR) and
// is exposed to Boost.Graph algorithms through `to_boost_graph()`.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace switchsim::topology {

using VertexId = std::int32_t;
using LinkId = std::int32_t;

enum class VertexKind : std::uint8_t { device, chip_router, switch_node };

// What a link is made of; the device catalog gives bandwidth, latency and the
// achievable fraction of line rate (efficiency) per kind.
enum class LinkKind : std::uint8_t { ici, on_chip, nvlink, nic, fabric };

[[nodiscard]] const char* to_string(LinkKind kind);
[[nodiscard]] const char* to_string(VertexKind kind);
// The inverse of to_string; false when `text` names no kind.
[[nodiscard]] bool parse_link_kind(const std::string& text, LinkKind& kind);
[[nodiscard]] bool parse_vertex_kind(const std::string& text, VertexKind& kind);
inline constexpr int kNumLinkKinds = 5;

struct Vertex {
  VertexKind kind = VertexKind::device;
  std::string name;  // "core(3,1).0", "gpu12", "leaf3"
};

// One direction of a physical link.
struct Link {
  VertexId src = 0;
  VertexId dst = 0;
  double bandwidth_Bps = 0.0;  // bytes per second, this direction, line rate
  double latency_s = 0.0;      // propagation + switching latency of this hop
  double efficiency = 1.0;     // achievable fraction of line rate (catalog)
  LinkKind kind = LinkKind::ici;
};

// The figures of one kind of link, per direction (builders take these from the
// device catalog).
struct LinkSpec {
  double bandwidth_Bps = 0.0;
  double latency_s = 0.0;
  double efficiency = 1.0;
};

// A routed path: the links a transfer crosses, in order from source to destination.
using Path = std::vector<LinkId>;

class Topology {
 public:
  Topology() = default;

  // Builders and loaders call these; `add_link` adds one direction.
  VertexId add_vertex(VertexKind kind, std::string name);
  LinkId add_link(const Link& link);
  // Adds both directions with the same figures; returns the forward link id.
  LinkId add_duplex_link(VertexId a, VertexId b, double bandwidth_Bps, double latency_s, double efficiency,
                         LinkKind kind);

  [[nodiscard]] std::int32_t num_vertices() const { return static_cast<std::int32_t>(vertices_.size()); }
  [[nodiscard]] std::int32_t num_devices() const { return num_devices_; }
  [[nodiscard]] std::int32_t num_switches() const { return num_vertices() - num_devices_; }
  [[nodiscard]] std::int32_t num_links() const { return static_cast<std::int32_t>(links_.size()); }
  [[nodiscard]] const Vertex& vertex(VertexId v) const { return vertices_.at(static_cast<std::size_t>(v)); }
  [[nodiscard]] const Link& link(LinkId l) const { return links_[static_cast<std::size_t>(l)]; }
  [[nodiscard]] const std::vector<Link>& links() const { return links_; }
  [[nodiscard]] std::span<const LinkId> out_links(VertexId v) const;

  // Must be called once all vertices and links are added: checks that devices
  // come first, builds the CSR adjacency. Throws InputError("mesh", ...) for an
  // empty or disconnected graph (every device must reach every other device
  // along directed links).
  void finalize();
  [[nodiscard]] bool finalized() const { return !out_offsets_.empty(); }

  // One line: "32 devices, 16 switches, 192 directed links".
  [[nodiscard]] std::string to_string() const;

 private:
  std::vector<Vertex> vertices_;
  std::vector<Link> links_;
  std::int32_t num_devices_ = 0;
  std::vector<std::int32_t> out_offsets_;  // CSR: out_links of v are out_ids_[out_offsets_[v] .. out_offsets_[v+1])
  std::vector<LinkId> out_ids_;
};

}  // namespace switchsim::topology
