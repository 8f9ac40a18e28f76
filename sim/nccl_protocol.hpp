#pragma once
// NCCL's protocols and its latency model: what a GPU collective's messages cost
// beyond the bytes on the wire. Every constant is NCCL's own, read in
// NVIDIA/nccl v2.30.7 (commit 5067397c, makefiles/version.mk 2.30.7):
// src/graph/tuning.cc (latencies, NVLS efficiency, net overhead) and
// src/include/device.h (line formats, NCCL_STEPS).
//
// Protocols (src/include/device.h). Each moves the payload in its own format:
//   LL      16-byte FIFO lines of two 4-byte data words and two 4-byte flags
//           (union ncclLLFifoLine): 8 payload bytes per 16 moved, wire
//           efficiency 1/2. The receiver polls the flags, so there is no
//           separate synchronisation: the lowest latency per step.
//   LL128   128-byte lines of 16 8-byte elements, one of them the flag
//           (NCCL_LL128_DATAELEMS = NCCL_LL128_LINEELEMS - 1): 120/128.
//           tuning.cc's own estimate uses 0.92 for it.
//   Simple  the payload as is (1), synchronised per step by a flag written
//           after the data (memory fences): the highest latency per step.
// A protocol therefore multiplies a transfer's wire bytes by
// 1 / wire_efficiency(p) and sets its fixed per-step latency.
//
// Latency model (tuning.cc, ncclTopoTuneModel): a collective on algorithm a
// with protocol p costs
//     baseLat[a][p]                      once (launch, setup)
//   + per step: hwLat[NVLINK][a][p] for a step inside a node,
//               hwLat[NET][a][p] for a step that crosses the network
// with, on more than one node, the intra-node steps of a ring costing at least
// the network post overhead (1 us on x86 Intel, 2 us on AMD: getNetOverhead;
// 3x for Simple). Steps per algorithm: ring all-reduce 2(n-1), ring
// all-gather / reduce-scatter n-1; tree 2 x (the chain inside the node + the
// tree's depth between nodes); NVLS a flat hwLat[NVLINK][NVLS][Simple]
// (25 us) and NVLS_TREE the same plus 2 log2(nodes) network steps. Here the
// latencies are not summed by formula: they are each transfer's fixed latency
// in the simulated transfer graph (StepCost, transfer_graph.hpp), so the
// steps a schedule really has (its dependency chains) decide how many are
// paid, and bandwidth comes from the flow network, not from NCCL's table.
// NCCL's topology-dependent extra latency (graph->latencyInter, also added
// again for Simple's flush) is taken as 0 (not known without NCCL's topology
// search).
//
// What NCCL's tuner has and this model leaves out: its per-protocol bandwidth
// caps (llMaxBws, perChMaxRingLL128Bws, perChMaxTreeBws: SM-throughput limits
// of the protocols), the tree-specific factors (LL 1/3.8, LL128 7/9 on one
// node, Simple 0.92), the ring Simple "plateau" factor 1.4 on several nodes
// and the tree correction table by size; they are empirical refinements of
// NCCL's own estimate, not mechanisms the fluid model can express.
//
// NVLS efficiency (tuning.cc nvlsEfficiency): NCCL prices the NVLink SHARP
// data path at 0.85 (Hopper; 0.74 Blackwell) of the NVLink bandwidth. It is a
// property of the switch generation and lives in data/devices.json
// (nvswitch.nvls_efficiency), applied to the NVLS transfers to and from the
// switch (gpu_collectives.hpp).

#include <array>
#include <cstdint>
#include <string>

#include "sim/transfer_graph.hpp"

namespace switchsim::sim {

// How a GPU collective's messages are priced (NetworkOptions::protocol,
// `--protocol`): NCCL's protocols chosen per size (automatic) or one forced;
// `none`: no library protocol, every transfer pays the network's per-message
// overhead and hop latencies (the ideal line-rate model; tests with
// hand-computed times use it). Meshes other than GPU clusters (TPU: XLA over
// ICI) always use `none`.
enum class ProtocolChoice : std::uint8_t { automatic, ll, ll128, simple, none };
enum class NcclProtocol : std::uint8_t { ll, ll128, simple };
// NCCL's algorithms that the simulator's GPU collectives stand for:
// ring / ring-channels -> ring, double-tree -> tree, nvls on one node -> NVLS,
// nvls on several nodes -> NVLS_TREE.
enum class NcclAlgorithm : std::uint8_t { tree, ring, nvls, nvls_tree };

inline constexpr int kNcclSteps = 8;  // NCCL_STEPS: slots per connection, i.e. steps a sender may run ahead

[[nodiscard]] const char* to_string(ProtocolChoice choice);
[[nodiscard]] const char* to_string(NcclProtocol protocol);
// "auto" | "ll" | "ll128" | "simple" | "none"; InputError("--protocol") otherwise.
[[nodiscard]] ProtocolChoice parse_protocol_choice(const std::string& text);

// Payload bytes per byte moved: LL 1/2, LL128 120/128, Simple 1.
[[nodiscard]] double wire_efficiency(NcclProtocol protocol);

// NCCL's latency constants in seconds (tuning.cc ncclTunerConstantsDefaults).
[[nodiscard]] double nccl_base_latency_s(NcclAlgorithm algorithm, NcclProtocol protocol);
[[nodiscard]] double nccl_nvlink_latency_s(NcclAlgorithm algorithm, NcclProtocol protocol);
[[nodiscard]] double nccl_net_latency_s(NcclAlgorithm algorithm, NcclProtocol protocol);
// getNetOverhead's default on x86 Intel hosts (the catalog's DGX / HGX nodes).
inline constexpr double kNcclNetOverhead_s = 1.0e-6;

// The fixed costs of one collective on `nodes` nodes of `gpus_per_node`
// participants (above): launch = baseLat, per-step latency by link kind
// (NVLink steps hwLat[NVLINK], steps over the NIC / fabric hwLat[NET], or the
// tree's network latency when there is one GPU per node, as NCCL does; on
// several nodes a ring's NVLink step costs at least the net post overhead, x3
// for Simple). NVLS / NVLS_TREE: the flat intra-node latency as launch, no
// per-step NVLink latency.
[[nodiscard]] StepCost nccl_step_cost(NcclAlgorithm algorithm, NcclProtocol protocol, int nodes, int gpus_per_node);

}  // namespace switchsim::sim
