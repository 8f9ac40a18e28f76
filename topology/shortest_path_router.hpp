#pragma once
// Shortest-path router with ECMP for switched fabrics and custom meshes.
//
// Link cost = latency in picoseconds (rounded) + 1, so the lowest-latency
// paths win and, among equal latencies, the fewest hops; integer costs make
// "equal cost" exact. Dijkstra (Boost.Graph) from the source gives each
// vertex's distance; the equal-cost paths are the source-to-destination walks
// of the shortest-path DAG, enumerated depth-first in link order and capped at
// `max_paths` (8 by default). Endpoints are usually devices; a switch may be
// one too (an in-switch reduction sends to and receives from the NVSwitch). Transit vertices: switches and chip routers
// always; devices only when `devices_forward` (custom meshes without switches).
//
// Per source, the shortest-path DAG is computed on first use and kept (a few
// kB); `paths` materializes and caches that source's Path objects for every
// destination, while `path_count` / `append_path` walk the DAG without
// storing paths (use them to route every pair of a large cluster). All
// queries are thread-safe.

#include <memory>

#include "topology/mesh.hpp"

namespace switchsim::topology {

inline constexpr int kMaxEcmpPaths = 8;

[[nodiscard]] std::unique_ptr<Router> make_shortest_path_router(const Topology& topology, bool devices_forward,
                                                                int max_paths = kMaxEcmpPaths);

}  // namespace switchsim::topology
