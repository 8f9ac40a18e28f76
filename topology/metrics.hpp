#pragma once
// Graph metrics of a mesh.
//
// Hops are the links a routed path crosses between two devices (on-chip and
// NVLink hops count, so two cores of one TPU v3 chip are 2 hops apart and two
// GPUs of one node are 2 hops apart through the NVSwitch).
//
// Tori, closed form (n = chips along a dimension, k = devices per chip,
// C = chips, N = C k devices). Over all ordered pairs of positions on a ring
// with wraparound the distance min(f, n - f) sums to n * floor(n^2 / 4), so
// the mean per dimension is floor(n^2/4)/n; on a line it is (n^2 - 1)/(3n).
// Dimension-order routes are minimal, so the mean ICI distance over all
// ordered chip pairs (equal chips included) is m = sum over dimensions of the
// per-dimension means, and over distinct devices
//   average_hops = N m / (N - 1) + (k > 1 ? 2 : 0).
// Diameter = sum over dimensions of (wrap ? floor(n/2) : n - 1), + 2 when k > 1.
//
// Bisection bandwidth (one direction, line rate, bytes/s): the minimum over a
// documented family of balanced cuts, because the minimum over all balanced
// bipartitions is NP-hard in general:
//   torus:       halve each dimension with n >= 2 (chips with coordinate < n/2
//                against the rest): (C / n) rings cross the cut, each by 2
//                links with wraparound and 1 without, so
//                bisection = min over d of (C / n_d) * (wrap_d ? 2 : 1) * ici_Bps;
//                a single chip of k cores: floor(k/2) on-chip links.
//   GPU cluster: the first half of the nodes against the rest (one node: the
//                first half of its GPUs against the rest).
//   custom:      the first half of the devices (by id) against the rest.
// For each cut the exact minimum S->T cut is a max-flow (Boost.Graph
// push-relabel) from a super-source feeding every device of S to a super-sink
// fed by every device of T.

#include <cstdint>
#include <string>
#include <vector>

#include "topology/mesh.hpp"

namespace switchsim::topology {

struct HopStats {
  int diameter_hops = 0;
  double average_hops = 0.0;  // over ordered pairs of distinct devices
};

struct MeshMetrics {
  std::int32_t devices = 0;
  std::int32_t switches = 0;  // every non-device vertex (switches, chip routers)
  std::int32_t links = 0;     // directed
  HopStats hops;
  double bisection_bandwidth_Bps = 0.0;
  std::string hops_method;       // "closed_form_torus" or "routed_paths"
  std::string bisection_method;  // "closed_form_torus" or "max_flow"
};

// Closed forms for tori, routed paths and max-flow otherwise.
[[nodiscard]] MeshMetrics compute_metrics(const Mesh& mesh);

// Torus closed forms (structure.family must be torus).
[[nodiscard]] HopStats torus_hop_stats(const MeshStructure& structure);
[[nodiscard]] double torus_bisection_Bps(const Mesh& mesh);

// By enumerating the router's first path for every ordered device pair.
[[nodiscard]] HopStats routed_hop_stats(const Mesh& mesh);

// Exact max-flow (bytes/s) from devices in `side_s` to all other devices.
[[nodiscard]] double max_flow_Bps(const Topology& topology, const std::vector<VertexId>& side_s);

// The documented cut family of the mesh (each entry: the devices of S), and
// the minimum max-flow over it.
[[nodiscard]] std::vector<std::vector<VertexId>> bisection_cuts(const Mesh& mesh);
[[nodiscard]] double bisection_max_flow_Bps(const Mesh& mesh);

}  // namespace switchsim::topology
