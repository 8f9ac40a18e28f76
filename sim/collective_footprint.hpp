#pragma once
// The network resources a set of transfers can touch: the step executor's test
// for "these collectives cannot slow each other down" (shared_step_executor.hpp).
//
// In the shared network (shared_network.hpp) two jobs interact only through
//   * links: flows that share a link share its capacity (max-min), and
//   * posting clocks: a device posts its messages one at a time, so two jobs
//     whose transfers are posted by the same device delay each other.
// A transfer uses every link of every one of its ECMP paths (its sub-flows),
// and the posting clock of its sender when it is posted at all (a transfer
// under a library's step costs is not: transfer_graph.hpp; a switch vertex
// forwards without a clock). Transfers to themselves or of 0 bytes are
// delivered at once and use nothing. Max-min fairness decomposes over link
// sets: if two jobs' footprints are disjoint, every flow of one sees the same
// rates whether or not the other is in flight, so each job runs exactly as it
// would alone (the flow network's optional completion window, which merges
// completions across all flows, is the one coupling left; it is 0 by default).

#include <cstdint>
#include <span>
#include <vector>

#include "sim/transfer_graph.hpp"
#include "sim/transfer_simulation.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

struct NetworkFootprint {
  std::vector<topology::LinkId> links;      // sorted, unique
  std::vector<topology::VertexId> posters;  // devices whose posting clock it uses; sorted, unique
};

// `devices`: vertices numbered from it are switches (no posting clock).
[[nodiscard]] NetworkFootprint network_footprint(const TransferGraph& graph, std::span<const topology::Link> links,
                                                 const topology::Router& router, const NetworkOptions& options,
                                                 std::int32_t devices);

}  // namespace switchsim::sim
