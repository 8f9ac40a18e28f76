#pragma once
// A cheap estimate of a transfer graph's time on a network, for choosing among
// collective algorithms (collective.hpp, `automatic`), as NCCL's tuner
// estimates each algorithm's time before choosing (latency + bytes /
// bandwidth per algorithm; src/graph/tuning.cc). Here the estimate comes from
// the generated transfers themselves, so it needs no formula per algorithm:
//
//   load bound      max over links l of (bytes routed over l) / c_l
//                   (every transfer split evenly over its ECMP paths; no
//                   schedule drains a link faster);
//   critical path   the longest dependency chain, each transfer costing what it
//                   would alone: latency(P) + (bytes / k) / min_{l in P} c_l
//                   over its k paths P (no transfer finishes sooner).
//   estimate        max(load bound, critical path).
//
// Both are lower bounds of the simulated (fluid max-min) time, so the estimate
// is one too; it is exact for a ring on a contention-free ring and misses the
// pipeline fill of chunked schedules (pipeline.hpp) and contention between
// transfers that are neither on one chain nor on the busiest link. Cost: one
// routing pass over the transfers, no events.

#include <span>

#include "sim/transfer_graph.hpp"
#include "sim/transfer_simulation.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

struct PlanEstimate {
  double load_bound_s = 0.0;
  double critical_path_s = 0.0;
  [[nodiscard]] double time_s() const { return load_bound_s > critical_path_s ? load_bound_s : critical_path_s; }
};

[[nodiscard]] PlanEstimate estimate_transfers(const TransferGraph& graph, std::span<const topology::Link> links,
                                              const topology::Router& router, const NetworkOptions& options);

}  // namespace switchsim::sim
