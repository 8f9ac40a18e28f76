#pragma once
// Routing of one MoE layer in one micro-batch (moved out of step_builder.cpp): the drops, each
// ep index's received assignments and, for routed loads (grouped), the dispatch byte matrix.
// Per-group counts (routing.hpp) unless the plan routes per token (limited_routing.hpp:
// node- or device-limited routing, per-node dispatch).

#include <cstdint>
#include <vector>

#include "sim/byte_matrix.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"
#include "workloads/step_builder.hpp"

namespace switchsim::workloads {

struct LayerRouting {
  DropStats drops;
  std::vector<double> received;       // per (rep * ep + e): processed assignments arriving at that ep index
  std::vector<sim::ByteMatrix> sent;  // uneven loads: per rep, ep x ep dispatch bytes i -> j
};

// `uneven`: the implementation moves and computes the processed loads themselves (grouped:
// dropless, or truncated to the capacity) rather than padded buffers, so the all-to-all needs
// the byte matrix of processed assignments (direct) or of the per-node copies (per-node).
[[nodiscard]] LayerRouting route_layer(const Model& m, const Layout& layout, std::int64_t G, std::int64_t groups,
                                       std::int64_t capacity, const RoutingOptions& ro, std::uint64_t stream,
                                       double bytes_per_token, bool uneven);

}  // namespace switchsim::workloads
