#pragma once
// Collectives on GPU clusters as NCCL runs them (transfer generators, in
// participant-index space like collective_algorithms.hpp). The cluster model
// (topology/gpu_cluster.hpp): each GPU has one aggregated NVLink pair to its
// node's NVSwitch (bandwidth B_v per direction) and one NIC into the fabric
// (B_n); a node of m GPUs has m NICs. S = the nccl-tests buffer, n
// participants on N nodes, m per node.
//
// Channels (ring-channels). NCCL runs a collective over several channels, each
// its own ring through every GPU, and places the rings so that different
// channels leave a node through different NICs (NCCL's topology search,
// src/graph/search.cc). Here channel c visits each node's participants in
// their order rotated by c: it enters node u at local rank c and leaves it from
// local rank c-1 (mod m), i.e. through that GPU's NIC. With C = m channels each
// NIC sends one channel's chunk and receives one per step, so a step moves
// S/(nC) over every NIC at once: all-reduce time
//     T = 2(n-1) (alpha_net + S / (n C B_n))
// and bus bandwidth 2(n-1)/n * S / T -> C B_n: the node's total NIC bandwidth
// (one NIC's B_n with a single ring). Each GPU's NVLink carries the other C-1
// channels' chunks, (C-1) S/(nC) per step, which takes no longer than the
// NIC's S/(nC) as long as (C-1)/B_v <= 1/B_n (DGX H100 with the catalog
// efficiencies: 7/370.8 vs 1/48.5 per GB/s; DGX A100: 7/240 vs 1/24).
//
// NVLS (in-switch reduction, NVLink SHARP on third-generation NVSwitch). NCCL's
// NVLS all-reduce gives each GPU 1/m of the buffer: the GPU issues
// multimem.ld_reduce, the switch reads that shard from every GPU, reduces it
// and returns it; then multimem.st writes the result once and the switch
// multicasts it to every GPU. What crosses GPU i's NVLink: up S (its data of
// every shard, read by the switch) + S/m (its reduced shard, written once);
// down S/m (its reduced shard) + S (every shard, multicast): about S each way
// instead of the ring's 2(m-1)/m S. The network model's router routes to and
// from the NVSwitch vertex, so this is expressed exactly as transfers:
//     reduce-scatter: GPU i -> switch, S (all its shards);
//                     switch -> GPU j, S/m, after every GPU's send arrived;
//     all-gather:     GPU j -> switch, S/m (its reduced shard);
//                     switch -> GPU i, S (all shards), after every shard arrived.
// The switch's arithmetic has no separate limit; the NVLS data path reaches
// the fraction e_nvls of the NVLink rate (NCCL's nvlsEfficiency, 0.85 on
// Hopper: MeshStructure::nvls_efficiency from data/devices.json), expressed
// as wire bytes: every transfer to or from the switch carries its bytes /
// e_nvls. The schedule is pipelined over chunks (pipeline.hpp), as NCCL does,
// so up and down links work at once: T -> S (1 + 1/m) / (e_nvls B_v), bus
// bandwidth -> 2(m-1)/(m+1) e_nvls B_v (single node; 1.56 x 0.85 = 1.32 B_v
// at m = 8, where a ring gets B_v).
// On several nodes NVLS runs inside each node and the shards are all-reduced
// between nodes per rail (local rank r of every node) by NCCL's double binary
// tree over the rail's N GPUs, each tree carrying half of the S/m shard
// through the GPUs' own NICs (NCCL's NVLS_TREE). Per NIC and direction a tree
// moves up to 2 S/m (an interior node receives from two children and sends to
// them), where a ring over the rail would move 2(N-1)/N S/m; on 2 nodes both
// are S/m. NVLink SHARP does not reach across nodes (NVIDIA/nccl issue #1031).
//
// Double binary tree (NCCL's tree algorithm, src/graph/trees.cc): between
// nodes two binary trees over the N nodes, the second the mirror (N even) or
// the shift by one (N odd) of the first, so that a node that is interior in
// one is a leaf in the other; each tree carries half the buffer. Inside a node
// a chain from the node's head GPU through the others. Per channel c (C = m,
// as for rings) the head is local rank c, so every NIC carries one channel's
// traffic. Reduce flows up (a GPU sends to its parent once its children's
// chunks arrived), broadcast flows down; pipelined over chunks (pipeline.hpp).
// Per node and direction about 2S cross the NICs (as a ring's 2(n-1)/n S); the
// tree's gain is latency: 2 (depth) message steps instead of 2(n-1).

#include <cstdint>
#include <span>
#include <vector>

#include "sim/collective.hpp"
#include "sim/transfer_graph.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

// The participants grouped by GPU node, nodes in order of first appearance,
// each node's participants in the order given.
struct NodeGroups {
  std::vector<std::vector<std::int32_t>> members;  // participant indices per node used
  std::vector<int> node;                           // the mesh node of each group
  [[nodiscard]] int count() const { return static_cast<int>(members.size()); }
  [[nodiscard]] bool equal_sizes() const;
  [[nodiscard]] int largest() const;
};
[[nodiscard]] NodeGroups group_by_node(const topology::Mesh& mesh, std::span<const topology::VertexId> devices);

// NCCL's channels: one ring per NIC of a node (the largest group) when the
// participants span several nodes, else 1; fewer when the rings would exceed
// kRingTransferBudget transfers (a cost limit of the simulation).
inline constexpr std::int64_t kRingTransferBudget = std::int64_t{1} << 22;
[[nodiscard]] int ring_channels(CollectiveOp op, const NodeGroups& groups, std::int32_t n);
// The ring order of each channel (above).
[[nodiscard]] std::vector<std::vector<std::int32_t>> channel_ring_orders(const NodeGroups& groups, int channels);

// NVLS all-reduce (one node, or every node with the same number of
// participants), pipelined; `nvls_efficiency` in (0, 1] (above).
void generate_nvls_all_reduce(double bytes, std::span<const topology::VertexId> devices, const NodeGroups& groups,
                              std::span<const topology::VertexId> node_switches, double nvls_efficiency,
                              TransferGraph& g);

// NCCL's binary tree over nranks (ncclGetBtree): parent of each rank, -1 for
// the root. tree 1 is the mirror (nranks even) or shift (odd) of tree 0.
[[nodiscard]] std::vector<int> nccl_tree_parents(int nranks, int tree);

// Double binary tree all-reduce (above), pipelined.
void generate_double_tree_all_reduce(double bytes, std::span<const topology::VertexId> devices,
                                     const NodeGroups& groups, TransferGraph& g);

// Two-level (hierarchical) all-reduce, reduce-scatter or all-gather on a GPU
// cluster: rows = the participants of a node (NVLink), columns = rails (the
// same local rank on every node, through their NICs); collective_algorithms.hpp
// gives the phases. Pipelined. Needs equal groups.
void generate_gpu_hierarchical(CollectiveOp op, double bytes, std::span<const topology::VertexId> devices,
                               const NodeGroups& groups, TransferGraph& g);

}  // namespace switchsim::sim
