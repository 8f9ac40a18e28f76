#pragma once
// Up-front estimates of what simulating training steps costs this machine, so
// that `simulate`, `capacity` and `recommend` refuse a request far too large
// (common/resource_limits.hpp: more than half the memory, or over an hour of
// CPU) before starting it, instead of running until memory runs out (issue 7).
//
// The model, per simulated step (flow-level network, sim/):
//   a collective over g devices is simulated alone; its transfers are created
//   up front: g(g-1) for an all-to-all, about 2g(g-1) for a ring all-reduce
//   (2(g-1) rounds of g transfers). At kBytesPerFlow bytes and kCpuSecondsPerFlow
//   of CPU per flow (bench/RESULTS.md measures ~220 B and well under 1 us per
//   flow for the 2048-way all-to-all), the largest collective sets the flow memory.
//   Dropless steps also keep, per Switch layer, micro-batch and expert-parallel
//   replica, two sparse ep x ep byte matrices (forward and its transpose,
//   sim/byte_matrix.hpp) alive in the op graph, each row holding at most
//   min(ep, top_k x the rank's local tokens) entries of 16 bytes.
//   CPU: the largest collective's flows times the distinct collectives a step
//   simulates (3 in capacity mode: the memo serves the rest; in dropless mode
//   4 more per Switch layer, micro-batch and replica, whose matrices differ),
//   plus, under the shared network with bucketed gradient sync, the re-solves
//   of all-to-all flows while gradient buckets overlap them (overlap_cpu_s in
//   the .cpp).
// These are order-of-magnitude figures for refusing the absurd, not a
// prediction of the run time: checked against the Switch-C step on 2048 cores
// (estimate 1.1 GB in capacity mode, measured 0.95 GiB).

#include <cstdint>

#include <vector>

#include "common/resource_limits.hpp"
#include "sim/collective.hpp"
#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::workloads {

inline constexpr double kBytesPerFlow = 256.0;
inline constexpr double kCpuSecondsPerFlow = 1e-6;

// One step of `layout` (StepOptions give the mode and micro-batches).
[[nodiscard]] ResourceEstimate estimate_step_resources(const Model& model, const Layout& layout,
                                                       const StepOptions& options);

// The most expensive step a layout search on `devices` devices may simulate
// (every device in one data-parallel all-reduce, the largest expert-parallel
// group, one micro-batch: more are tried only where memory needs them), times
// `threads` steps at once.
[[nodiscard]] ResourceEstimate estimate_search_resources(const Model& model, const TrainingSetup& training,
                                                         std::int64_t devices, bool dropless, std::int64_t threads);

// One collective simulated alone with the exact flow model (`switchsim
// collective`). A sample of up to 256 participant pairs is routed to measure
// the sub-flows per pair k (ECMP set size) and the links per sub-flow h, so
//     F = transfers x k      (transfers: n(n-1) for an all-to-all, ~2n(n-1) otherwise)
//     memory = F (200 + 8 h) bytes      (per-flow arrays + path links + solver copies;
//                                         2.3 GB measured for the 32x32 mesh-file torus)
// CPU. One path per pair (dimension-order tori): few distinct completion times,
// kCpuSecondsPerFlow per flow (the 2048-way tpuv3-32x32 all-to-all: 4.2M flows,
// ~3 s). Several paths per pair (shortest-path ECMP on mesh files, switched
// fabrics): rates differ per sub-flow, and each distinct completion time is a
// max-min re-solve of the flows at or above the lowest level it touched
// (sim/flow_network.hpp). Fitted on 16 MiB all-to-alls on n x n torus mesh
// files, n = 8, 12, 16, 32 (bench_mesh_file, bench/RESULTS.md):
//     rate updates  U(F) = 36.7 F^0.44      (2832 at F = 19456 ... 39821 at F = 7.78M)
//     re-solved     R(F) = 16.0 F^0.35 per update   (507 ... 4155)
//     CPU = kCpuSecondsPerFlow F + kCpuSecondsPerResolve U(F) R(F)
// An empirical fit, not a bound: a worse-conditioned graph may need more
// updates. kFasterNetworkModels names the measured approximations for the refusal.
inline constexpr double kCpuSecondsPerResolve = 3e-7;  // per flow re-solved (32x32 file: 50 s / 165M flows re-solved)

extern const char* const kFasterNetworkModels;
// The step-level alternatives named when a step is refused for its overlap (estimate_step_resources).
extern const char* const kFasterStepModels;

[[nodiscard]] ResourceEstimate estimate_collective_resources(const topology::Mesh& mesh, sim::CollectiveOp op,
                                                             const std::vector<topology::VertexId>& participants);

}  // namespace switchsim::workloads
