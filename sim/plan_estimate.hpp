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
//   chain latency   the longest dependency chain counting only each
//                   transfer's fixed latency (message overhead + hops);
//   critical path   the longest dependency chain, each transfer costing what it
//                   would alone: latency(P) + (bytes / k) / min_{l in P} c_l
//                   over its k paths P (no transfer finishes sooner).
//   estimate        max(load bound + chain latency, critical path).
//
// The critical path is a lower bound of the simulated (fluid max-min) time and
// is exact for a ring on a contention-free ring; it misses links shared by
// concurrent transfers (two rings over one chip's links), which the load bound
// sees. load + chain latency is the time of the busiest link kept busy from
// start to end plus the latencies the last chain pays after its drains: exact
// for a ring too, close when one link kind is the bottleneck throughout, and
// not a strict bound (a chain's latency can overlap the busiest link's
// drain). It misses the pipeline fill of chunked schedules (pipeline.hpp).
// Cost: one routing pass over the transfers, no events.

#include <span>

#include "sim/transfer_graph.hpp"
#include "sim/transfer_simulation.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

struct PlanEstimate {
  double load_bound_s = 0.0;
  double critical_path_s = 0.0;
  double chain_latency_s = 0.0;
  [[nodiscard]] double time_s() const {
    const double shared = load_bound_s + chain_latency_s;
    return shared > critical_path_s ? shared : critical_path_s;
  }
};

[[nodiscard]] PlanEstimate estimate_transfers(const TransferGraph& graph, std::span<const topology::Link> links,
                                              const topology::Router& router, const NetworkOptions& options);

}  // namespace switchsim::sim
