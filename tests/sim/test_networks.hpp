#pragma once
// Hand-built networks for the sim tests: a table router and small topologies
// built from raw links (no topology builders needed).
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "topology/mesh.hpp"

namespace switchsim::sim::testing {

// A router that returns whatever path sets were registered for each pair.
class TableRouter final : public topology::Router {
 public:
  void set(topology::VertexId src, topology::VertexId dst, std::vector<topology::Path> paths) {
    table_[{src, dst}] = std::move(paths);
  }
  [[nodiscard]] std::span<const topology::Path> paths(topology::VertexId src, topology::VertexId dst) const override {
    auto it = table_.find({src, dst});
    if (it == table_.end()) return {};
    return it->second;
  }

 private:
  std::map<std::pair<topology::VertexId, topology::VertexId>, std::vector<topology::Path>> table_;
};

// n devices on one switch (vertex n): device i has an uplink i -> n (link 2i)
// and a downlink n -> i (link 2i+1), both `bw_Bps` with `latency_s`.
struct StarNetwork {
  std::vector<topology::Link> links;
  TableRouter router;
};

inline StarNetwork make_star(int n, double bw_Bps, double latency_s, topology::LinkKind kind) {
  StarNetwork s;
  for (int i = 0; i < n; ++i) {
    s.links.push_back(topology::Link{i, n, bw_Bps, latency_s, 1.0, kind});
    s.links.push_back(topology::Link{n, i, bw_Bps, latency_s, 1.0, kind});
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j) s.router.set(i, j, {topology::Path{2 * i, 2 * j + 1}});
    }
  }
  return s;
}

// n devices on a unidirectional ring: link i goes i -> (i+1) mod n; the path
// from i to j follows the ring.
inline StarNetwork make_ring(int n, double bw_Bps, double latency_s, topology::LinkKind kind) {
  StarNetwork s;
  for (int i = 0; i < n; ++i) s.links.push_back(topology::Link{i, (i + 1) % n, bw_Bps, latency_s, 1.0, kind});
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      topology::Path p;
      for (int k = i; k != j; k = (k + 1) % n) p.push_back(k);
      s.router.set(i, j, {p});
    }
  }
  return s;
}

}  // namespace switchsim::sim::testing
