#pragma once
// The device x device traffic of a step's all-to-alls, summed over every
// all-to-all op of an op graph (dispatch and combine, forward and backward,
// every micro-batch): at(i, j) = bytes device i sends to device j.
//
// Per group of an op's partition (participants g_0 .. g_{n-1}):
//   uniform bytes B per device  ->  g_i sends B / n to every other g_j
//                                   (nccl-tests semantics, sim/collective.hpp);
//   byte matrix M               ->  g_i sends M(i, j) to g_j, j != i.
// The diagonal is 0: a device's share for itself never leaves it.
// Other collectives (all-reduce etc.) are not included.

#include <cstdint>

#include "sim/collective.hpp"
#include "sim/op_graph.hpp"

namespace switchsim::sim {

// n = graph.num_devices(); memory n^2 doubles: callers bound n.
[[nodiscard]] ByteMatrix all_to_all_traffic(const OpGraph& graph);

}  // namespace switchsim::sim
