#pragma once
// Collectives on the flow-level network. A collective algorithm turns
// (participants, bytes) into point-to-point transfers with dependencies; the
// network model runs them; the result is the simulated completion time.
//
// Byte semantics follow nccl-tests: `bytes_per_device` is each device's
// buffer. In an all-to-all each device sends bytes/n to every participant
// (itself included, which costs nothing); algbw = bytes / time and
// busbw = algbw * factor with factor (n-1)/n for all-to-all, all-gather and
// reduce-scatter, and 2(n-1)/n for all-reduce. As in nccl-tests, for
// all-gather `bytes` is the gathered (output) buffer and for reduce-scatter the
// input buffer: each device contributes / keeps bytes/n.
// With an explicit all-to-all matrix, bytes_per_device may be 0: the largest
// row sum (the busiest sender's buffer) is then reported as bytes_per_device.
//
// Per-link load model (NetworkOptions::load_model_above_devices, off by
// default): a direct all-to-all over more participants than that is not
// simulated flow by flow; its time is
//     T = max( max over links l of ( bytes crossing l / c_l ) + max over used paths of latency(P),
//              max over senders of ( posting of all its messages + hops of its last ) )
// with every transfer split evenly over its ECMP paths, and posting as in
// shared_network.hpp (one per-message overhead per peer, in sequence). The first term is a
// lower bound of any fluid schedule; the fluid max-min makespan came out 2.1%
// above to 1.8% below T on 32- and 128-way random matrices with dense rows, and
// up to ~8% below T with sparse rows (small messages, where the added largest
// latency weighs more; docs/network.md, bench_load_model). It costs one pass over the
// paths (no events), which is what makes 2048-way non-uniform (dropless)
// all-to-alls affordable; it scales exactly with the bytes like the simulation
// (one DrainClass). CollectiveResult::flows counts the routed sub-flows, events 0.
//
// Participant subsets: direct, pairwise, ring, bidir-ring and tree work on any
// subset (in the order given: it is the ring order). hierarchical,
// ring-channels, double-tree and nvls need a GPU cluster; hierarchical and nvls
// also the same number of participants on every node used, nvls an NVSwitch
// that reduces (MeshStructure::switch_reduction). torus_dims, torus_2d,
// torus_2d_bidir and torus_nd_bidir need a torus mesh and a subset that is a product grid (the
// same set of cores on every chip of a product of coordinate sets per
// dimension). Otherwise they are an InputError.
//
// `automatic` (what every simulated step uses; docs/network.md):
//   all-to-all: direct (NCCL's all-to-all is grouped point-to-point sends; XLA
//     on TPU sends directly too).
//   torus (XLA on TPU): all-reduce, all-gather, reduce-scatter on a product grid
//     -> the faster of torus-2d-bidir (rows and columns >= 2) and
//     torus-nd-bidir; not a product grid -> bidir-ring.
//   GPU cluster (NCCL): all-gather and reduce-scatter -> ring-channels (ring on
//     one node); all-reduce -> the fastest among ring (one node) or
//     ring-channels (several), double-tree, and nvls where the NVSwitch
//     reduces; each under NCCL's protocols LL, LL128 and Simple (nvls: Simple),
//     nccl_protocol.hpp, unless NetworkOptions::protocol says otherwise. With
//     ProtocolChoice::none: the model before protocols (ring on one node;
//     ring-channels, double-tree and hierarchical on several; nvls).
//   other meshes: ring.
// "Fastest": each candidate's transfers simulated alone when the largest
// candidate has at most kChooseBySimulationTransfers transfers, else the
// smallest estimate (plan_estimate.hpp).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/byte_matrix.hpp"
#include "sim/transfer_graph.hpp"
#include "sim/transfer_simulation.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

inline constexpr std::int64_t kChooseBySimulationTransfers = std::int64_t{1} << 18;

enum class CollectiveOp : std::uint8_t { all_to_all, all_reduce, all_gather, reduce_scatter };
enum class CollectiveAlgorithm : std::uint8_t {
  automatic,     // the best fit for the mesh and op
  direct,        // all-to-all: every pair at once
  pairwise,      // all-to-all: n-1 rounds, round r pairs i with i xor r (or i+r mod n)
  hierarchical,  // GPU clusters. all-to-all: intra-node, then inter-node; all-reduce etc.: NVLink ring in the node, rail rings between nodes
  torus_dims,    // all-to-all: dimension by dimension over the torus
  ring,          // all-reduce, all-gather, reduce-scatter
  torus_2d,      // all-reduce: reduce-scatter along rows, all-reduce along columns, all-gather along rows
  tree,          // all-reduce: binary tree reduce + broadcast (whole buffer, not pipelined)
  ring_channels,   // all-reduce, all-gather, reduce-scatter: NCCL's channels, one ring per NIC (gpu_collectives.hpp)
  bidir_ring,      // two counter-rotating rings, half the buffer each
  torus_2d_bidir,  // torus_2d (also all-gather, reduce-scatter) with bidirectional rings in every phase
  double_tree,     // all-reduce: NCCL's double binary tree between nodes, chains inside nodes, pipelined
  nvls,            // all-reduce: in-switch reduction (NVLink SHARP), per-rail rings between nodes, pipelined
  torus_nd_bidir,  // all-reduce, all-gather, reduce-scatter: bidirectional rings along each torus dimension in turn
};

[[nodiscard]] const char* to_string(CollectiveOp op);
[[nodiscard]] const char* to_string(CollectiveAlgorithm algorithm);
// Parse from the CLI spelling ("all-to-all", "torus-dims"); InputError on unknown.
[[nodiscard]] CollectiveOp parse_collective_op(const std::string& text);
[[nodiscard]] CollectiveAlgorithm parse_collective_algorithm(const std::string& text);

struct CollectiveRequest {
  CollectiveOp op = CollectiveOp::all_to_all;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic;
  std::vector<topology::VertexId> participants;  // device ids; empty = every device of the mesh
  double bytes_per_device = 0.0;                 // nccl-tests buffer size
  std::optional<ByteMatrix> matrix;              // all-to-all only: explicit (non-uniform) bytes
  bool record_trace = false;                     // keep per-transfer timings for a trace
  NetworkOptions network;                        // sharing policy and message overheads
};

// One point-to-point transfer as the simulation ran it (only with record_trace).
struct TransferRecord {
  topology::VertexId src = 0;
  topology::VertexId dst = 0;
  double bytes = 0.0;
  double start_s = 0.0;
  double end_s = 0.0;
};

struct CollectiveResult {
  CollectiveOp op = CollectiveOp::all_to_all;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic;  // the one that ran
  std::optional<NcclProtocol> protocol;  // GPU collectives under NCCL's protocols: the one that ran
  std::int32_t devices = 0;
  double bytes_per_device = 0.0;
  double time_s = 0.0;
  double algbw_Bps = 0.0;
  double busbw_Bps = 0.0;
  std::int64_t flows = 0;   // point-to-point flows simulated
  std::int64_t events = 0;  // network events processed
  double wall_s = 0.0;      // host time the simulation took
  std::int64_t rate_updates = 0;  // max-min solves
  double bytes_truncated = 0.0;   // residual bytes dropped by completion batching (transfer_simulation.hpp)
  std::vector<DrainClass> drain_classes;  // per path latency: the latest drain (transfer_simulation.hpp)
  double posting_floor_s = 0.0;           // byte-independent floor of the makespan (transfer_simulation.hpp)
  std::vector<TransferRecord> transfers;
};

// A collective ready to run: the algorithm chosen for the mesh and the
// point-to-point transfers it generates (transfer_graph.hpp), or, with the
// per-link load model, no transfers (load_model). The isolated model runs the
// transfers alone (simulate_collective); the step's shared network runs them
// beside every other collective in flight (shared_network.hpp).
struct CollectivePlan {
  CollectiveOp op = CollectiveOp::all_to_all;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic;  // never automatic once planned
  std::optional<NcclProtocol> protocol;  // GPU collectives under NCCL's protocols (nccl_protocol.hpp)
  std::vector<topology::VertexId> participants;
  double bytes_per_device = 0.0;  // as nccl-tests counts it (an explicit matrix: its largest row sum when 0 was given)
  TransferGraph transfers;
  bool load_model = false;            // a direct all-to-all priced by the per-link load model
  const ByteMatrix* matrix = nullptr;  // all-to-all: the caller's matrix (not owned; must outlive the plan)
  ByteMatrix uniform;                  // all-to-all without a matrix: bytes / n to every participant
  std::optional<TransferTimes> alone;  // when choosing the algorithm simulated it alone: those times
  [[nodiscard]] const ByteMatrix& all_to_all_matrix() const { return matrix != nullptr ? *matrix : uniform; }
};

// Per-link bytes of direct all-to-alls (the per-link load model above): add
// one matrix over `devices` with accumulate_all_to_all_load (several groups
// that run at the same time add up: the contention-aware form the shared step
// uses), then load_model_time_s = max(max_l bytes_l / c_l + latency, posting floor).
struct AllToAllLinkLoad {
  std::vector<double> bytes;       // per link
  double latency_s = 0.0;          // largest path latency
  double posting_floor_s = 0.0;    // largest posting of one sender + hops
  std::int64_t flows = 0;          // routed sub-flows counted
};
void accumulate_all_to_all_load(const topology::Mesh& mesh, const ByteMatrix& matrix,
                                std::span<const topology::VertexId> devices, const NetworkOptions& network,
                                AllToAllLinkLoad& load);
[[nodiscard]] double load_model_drain_s(const topology::Mesh& mesh, const AllToAllLinkLoad& load);
[[nodiscard]] double load_model_time_s(const topology::Mesh& mesh, const AllToAllLinkLoad& load);

// Validates the request (InputError as simulate_collective) and plans it.
[[nodiscard]] CollectivePlan plan_collective(const topology::Mesh& mesh, const CollectiveRequest& request,
                                             const ByteMatrix* matrix);

// Runs one collective alone on the mesh's network. Throws InputError for bad
// requests (bytes <= 0, participants not in the mesh, an algorithm that does
// not apply to the mesh).
[[nodiscard]] CollectiveResult simulate_collective(const topology::Mesh& mesh, const CollectiveRequest& request);
// The same with an all-to-all matrix given by pointer instead of request.matrix
// (which must then be empty): no copy of a large matrix. nullptr = uniform.
[[nodiscard]] CollectiveResult simulate_collective(const topology::Mesh& mesh, const CollectiveRequest& request,
                                                   const ByteMatrix* matrix);

}  // namespace switchsim::sim
