#pragma once
// Test helpers: the vertex sequence a path visits.
#include <vector>

#include "topology/topology.hpp"

namespace switchsim::topology::test {

inline std::vector<VertexId> visited(const Topology& topo, const Path& path) {
  std::vector<VertexId> v;
  if (path.empty()) return v;
  v.push_back(topo.link(path.front()).src);
  for (LinkId l : path) v.push_back(topo.link(l).dst);
  return v;
}

}  // namespace switchsim::topology::test
