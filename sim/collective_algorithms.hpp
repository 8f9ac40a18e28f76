#pragma once
// Collective algorithms as generators of point-to-point transfers with
// dependencies (transfer_graph.hpp). They work in participant-index space
// (0..n-1) and write device ids into the graph; they know nothing of the
// network beyond the participant grid or node grouping they are given.
//
// Notation: n participants, S = the nccl-tests buffer size per device, B the
// bandwidth of the bottleneck link, L the latency of one message.
//   direct all-to-all     every i != j sends M(i,j) at once (n(n-1) transfers).
//   pairwise all-to-all   n-1 rounds; round r: i sends to i xor r (n a power of
//                         two) or to (i + r) mod n; a round starts at i when
//                         its send and receive of the previous round are done.
//   hierarchical a2a      phase 1 inside each node: (u,a) sends to (u,b) all it
//                         has for local rank b of every node; phase 2 between
//                         nodes, rail-aligned: (u,b) sends to (v,b) what the
//                         node u has for (v,b). Phase 2 at (u,b) waits for its
//                         phase-1 receives. Needs equal participants per node.
//   grid all-to-all       (torus_dims) one phase per grid dimension k: an item
//                         from s to y moves along dimension k from the node
//                         with coordinates (y_0..y_{k-1}, s_k..) to the one with
//                         (y_0..y_k, s_{k+1}..). Phase k at a node waits for
//                         everything it received in earlier phases.
//   ring (rs / ag)        n-1 steps of S/n; ring all-reduce 2(n-1) steps of S/n:
//                         time = 2(n-1) (L + S/(n B)) on a contention-free ring.
//                         Step k at member i waits for its step k-1 send and
//                         the step k-1 receive from i-1.
//   tree all-reduce       binary tree in heap order (parent of i = (i-1)/2),
//                         whole buffer per message, not pipelined: reduce up,
//                         then broadcast down: 2 * depth * (L + S/B).
//   rings (channels)      C rings over orders of the participants, each carrying
//                         S/C (chunks S/(C n)); NCCL's channels. The two
//                         counter-rotating rings (order and its reverse, S/2
//                         each) are the bidirectional ring: on a torus each
//                         direction of a link is its own link, so it moves a
//                         step's bytes in half the time (XLA's bidirectional
//                         rings on TPU).
//   two-level (torus_2d,  grid rows = dims [0, row_dims), columns = the rest
//   hierarchical)         (R x C participants). all-reduce: reduce-scatter
//                         along rows (R-1 steps of S/R), all-reduce of the S/R
//                         shard along columns (2(C-1) steps of S/(RC)),
//                         all-gather along rows. reduce-scatter: rows (R-1
//                         steps of S/R), then columns (C-1 steps of S/(RC)).
//                         all-gather: columns (C-1 steps of S/n), then rows
//                         (R-1 steps of S/R). Bidirectional: every ring phase
//                         as two counter-rotating rings of half the chunk.

#include <cstdint>
#include <span>
#include <vector>

#include "sim/collective.hpp"
#include "sim/transfer_graph.hpp"

namespace switchsim::sim {

// Participants as a product grid: sizes[k] per grid dimension and each
// participant's coordinate per dimension (dimension 0 varies fastest in `at`).
struct ParticipantGrid {
  std::vector<int> sizes;
  std::vector<std::vector<int>> coords;  // coords[i][k]
  std::vector<std::int32_t> at;          // linear grid index -> participant index
  int row_dims = 1;  // torus_2d: the leading dimensions that form a row (core and first torus dimension)
  [[nodiscard]] std::int64_t linear(std::span<const int> c) const;
};

void generate_all_to_all_direct(const ByteMatrix& m, std::span<const topology::VertexId> devices, TransferGraph& g);
void generate_all_to_all_pairwise(const ByteMatrix& m, std::span<const topology::VertexId> devices,
                                  TransferGraph& g);
// group_of[i]: node of participant i; every group must have the same size.
void generate_all_to_all_hierarchical(const ByteMatrix& m, std::span<const topology::VertexId> devices,
                                      std::span<const int> group_of, TransferGraph& g);
void generate_all_to_all_grid(const ByteMatrix& m, std::span<const topology::VertexId> devices,
                              const ParticipantGrid& grid, TransferGraph& g);

// Ring steps over `members` (participant indices in ring order): `steps` steps
// of `chunk_bytes`. entry[j] lists transfers member j must wait for before its
// first send; the result lists, per member, what it waits for after the last
// step (its last receive and its sends still in flight), or entry[j] when
// there is no step. Step k at member j waits for its receive of step k-1 and
// for its own send of step k - send_window: with 1 (the default) a member
// sends one step at a time; a library that keeps W steps in flight per
// connection (NCCL: NCCL_STEPS = 8 slots) lets a member whose outgoing link
// is slower than its incoming one run up to W steps ahead of its own
// deliveries, so a slow link's latency is not paid on every step.
[[nodiscard]] std::vector<std::vector<TransferId>> generate_ring_steps(
    std::span<const std::int32_t> members, std::span<const topology::VertexId> devices, int steps,
    double chunk_bytes, const std::vector<std::vector<TransferId>>& entry, std::int32_t step_label,
    TransferGraph& g, int send_window = 1);

void generate_ring(CollectiveOp op, double bytes, std::span<const topology::VertexId> devices, TransferGraph& g,
                   int send_window = 1);
// Ring steps of `op` (2(n-1) for all-reduce, n-1 otherwise) over each order of
// `orders` (permutations of 0..n-1), each ring carrying bytes / orders.size().
void generate_rings(CollectiveOp op, double bytes, std::span<const topology::VertexId> devices,
                    const std::vector<std::vector<std::int32_t>>& orders, TransferGraph& g, int send_window = 1);
// 0..n-1 and n-1..0: the two counter-rotating rings.
[[nodiscard]] std::vector<std::vector<std::int32_t>> bidirectional_orders(std::int32_t n);
// Ring phase over `ring` (participant indices) from entry to exit (as
// generate_ring_steps); bidirectional: also the reversed ring, each with half
// the chunk, and the exit waits for both.
[[nodiscard]] std::vector<std::vector<TransferId>> generate_ring_phase(
    std::span<const std::int32_t> ring, std::span<const topology::VertexId> devices, int steps, double chunk_bytes,
    const std::vector<std::vector<TransferId>>& entry, std::int32_t step_label, bool bidirectional, TransferGraph& g);
void generate_tree_all_reduce(double bytes, std::span<const topology::VertexId> devices, TransferGraph& g);
// Rows: participants that differ only in grid dimensions [0, row_dims), in
// linear order (dimension 0 fastest); columns: those that differ only in the
// other dimensions. Needs rows and columns of at least 2.
void generate_torus_2d_all_reduce(double bytes, std::span<const topology::VertexId> devices,
                                  const ParticipantGrid& grid, TransferGraph& g);
// Per-dimension rings (torus-nd-bidir): one ring phase per grid dimension k
// (size s_k), over the participants that differ only in k. all-reduce:
// reduce-scatter along dimensions 0..D-2 (phase k: s_k - 1 steps of
// S/(s_0..s_k)), all-reduce along D-1, all-gather back along D-2..0;
// reduce-scatter: the first half; all-gather: the gathers from D-1 down to 0.
// Every ring runs between torus neighbours, so on a torus each phase uses only
// its own dimension's links.
void generate_per_dimension(CollectiveOp op, double bytes, std::span<const topology::VertexId> devices,
                            const ParticipantGrid& grid, bool bidirectional, TransferGraph& g);
// The two-level all-reduce, reduce-scatter or all-gather above (rows or columns
// of 1 are skipped).
void generate_two_level(CollectiveOp op, double bytes, std::span<const topology::VertexId> devices,
                        const ParticipantGrid& grid, bool bidirectional, TransferGraph& g);

}  // namespace switchsim::sim
