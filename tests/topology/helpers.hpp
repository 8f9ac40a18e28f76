#pragma once
// Test helpers: a small torus with fixed link figures, and the vertex sequence a path visits.
#include <utility>
#include <vector>

#include "topology/topology.hpp"
#include "topology/torus.hpp"

namespace switchsim::topology::test {

// A torus with TPU v3-like links (100 GB/s ICI, 450 GB/s on-chip) named "test".
inline Mesh make_torus(std::vector<int> dims, std::vector<bool> wrap, int cores = 1) {
  TorusSpec spec;
  spec.dims = std::move(dims);
  spec.wraparound = std::move(wrap);
  spec.cores_per_chip = cores;
  spec.ici = LinkSpec{100e9, 1e-6, 0.9};
  spec.on_chip = LinkSpec{450e9, 0.0, 1.0};
  spec.device_kind = "tpuv3";
  return build_torus("test", spec);
}


inline std::vector<VertexId> visited(const Topology& topo, const Path& path) {
  std::vector<VertexId> v;
  if (path.empty()) return v;
  v.push_back(topo.link(path.front()).src);
  for (LinkId l : path) v.push_back(topo.link(l).dst);
  return v;
}

}  // namespace switchsim::topology::test
