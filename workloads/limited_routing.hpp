#pragma once
// Node- and device-limited routing, and the per-node dispatch that makes them pay off.
//
// Node-limited (DeepSeek-V3, arXiv 2412.19437 sec. 2.1.2, --max-nodes-per-token M): a token's
// routed experts lie on at most M nodes. For each node, the sum of the highest ceil(K/M) affinity
// scores of its experts; the M nodes with the largest sums are kept, then the top K experts among
// the kept nodes' experts. (The paper writes K_r/M with K_r = 8, M = 4; rounding up when M does not
// divide K is an engineering assumption.)
// Device-limited (DeepSeek-V2, arXiv 2405.04434 sec. 2.2.2, --max-devices-per-token M): the M
// devices (ep indices: the devices holding one slice of the experts) whose experts have the
// highest affinity are kept, then the top K experts among theirs. With both limits the nodes are
// chosen first, then the devices among them.
//
// Affinities. The unrestricted samplers (routing.hpp) draw K distinct experts with probability
// proportional to the popularity p_e (uniform, zipf, dirichlet). Here every token draws
//     a_e = p_e / X_e,  X_e ~ Exp(1) independent
// (Gumbel-max: log a_e = log p_e + Gumbel), whose top K is exactly K draws without replacement
// proportional to p_e (Plackett-Luce), so without a limit the per-token router samples the same
// distribution as routing.hpp. Engineering assumption: the router's affinities are modelled by
// these scores (a real router's scores are correlated across experts and tokens). A trace gives
// per-group counts, not per-token scores, and is refused.
//
// Capacity: in capacity mode the slots of expert e are claimed in token order, first choices of
// the group's tokens before second choices (GShard), so the first C assignments are processed;
// the drops per group are sum_e max(0, n_e - C) as in routing.hpp, now of the restricted counts.
//
// Per-node dispatch (--dispatch per-node; DeepEP, github.com/deepseek-ai/DeepEP; DeepSeek-V3
// sec. 3.2.2): a token crosses the scale-out network at most once per destination node, to the
// device of the same rank (rail) on that node, which forwards it over NVLink to each device of
// that node holding one of its experts (one copy per device); devices on the source's own node
// get one copy each over NVLink. The combine is the transpose (NVLink to the relay, then one
// transfer back). Both legs are one all-to-all byte matrix: DeepEP overlaps the NVLink forward
// with the RDMA transfers chunk by chunk, so they are simulated as concurrent (the relay's
// store-and-forward latency is not added). Direct dispatch (--dispatch direct, routing.hpp's
// model) sends one copy per processed assignment straight to the expert's device.
// Default (auto): per-node when --max-nodes-per-token is given and the MoE implementation moves
// the routed loads (grouped), direct otherwise. Per-node needs routed loads: the padded
// implementations (einsum, gather) send the full [E, C] buffer to every device whatever the
// routing, so --dispatch per-node with them is refused.
//
// "Node": a GPU-cluster mesh's node (NVLink domain). A TPU mesh or a custom mesh file has no
// nodes, so --max-nodes-per-token and --dispatch per-node are refused there
// (--max-devices-per-token works on every mesh).

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/moe_impl.hpp"
#include "workloads/routing.hpp"

namespace switchsim::topology {
struct Mesh;
}

namespace switchsim::workloads {

struct Layout;
struct Model;

enum class Dispatch : std::uint8_t { automatic, direct, per_node };
[[nodiscard]] const char* to_string(Dispatch d);
[[nodiscard]] Dispatch parse_dispatch(const std::string& text, const std::string& field = "--dispatch");

struct RoutingLimit {
  std::int64_t max_nodes = 0;    // --max-nodes-per-token (0: no limit)
  std::int64_t max_devices = 0;  // --max-devices-per-token (0: no limit)
};

// How the routing of one step is restricted and dispatched, resolved against mesh and layout.
struct RoutingPlan {
  RoutingLimit limit;                 // as given (recorded)
  Dispatch dispatch = Dispatch::direct;  // resolved: direct or per_node
  std::int64_t nodes_limit = 0;       // effective: 0 when the limit does not restrict (M >= nodes)
  std::int64_t devices_limit = 0;     // effective: 0 when M >= ep
  // Per replica, the node (0 .. nodes-1, in order of first appearance) of each ep index.
  std::vector<std::vector<std::int32_t>> node_of;
  std::int32_t nodes = 1;  // nodes one ep group spans
  // Routed per token (this file) rather than per group counts (routing.hpp).
  [[nodiscard]] bool per_token() const {
    return nodes_limit > 0 || devices_limit > 0 || dispatch == Dispatch::per_node;
  }
  // Something to record in the JSON (a limit given or per-node dispatch).
  [[nodiscard]] bool recorded() const {
    return limit.max_nodes > 0 || limit.max_devices > 0 || dispatch == Dispatch::per_node;
  }
};

// Validates the flags (InputError naming the flag: M < 1, M > nodes or devices of an ep group,
// M x experts per node (device) < top_k, no nodes on the mesh, a trace, per-node dispatch with
// padded buffers) and resolves the dispatch. `impl` is the resolved MoE implementation.
[[nodiscard]] RoutingPlan resolve_routing_plan(const RoutingLimit& limit, Dispatch dispatch, const topology::Mesh& mesh,
                                               const Layout& layout, const Model& model, MoeImpl impl,
                                               const RoutingSpec& spec);

// Routes one token at a time: K distinct experts, highest affinity first.
class TokenRouter {
 public:
  // `weights`: the popularity p_e (empty: uniform). `node_of_index`: the node of each ep index
  // (experts e / (E / ep)); limits 0 = none.
  TokenRouter(std::vector<double> weights, std::int64_t experts, std::int64_t top_k, std::int64_t ep,
              std::vector<std::int32_t> node_of_index, std::int64_t nodes_limit, std::int64_t devices_limit);
  void route(Rng& rng, std::int64_t* out);

 private:
  std::vector<double> weights_;
  std::int64_t E_, k_, ep_, per_index_;
  std::vector<std::int32_t> node_of_index_;
  std::vector<std::int32_t> node_of_expert_;
  std::int32_t nodes_ = 1;
  std::int64_t nodes_limit_, devices_limit_, r_;
  std::vector<double> score_;
  std::vector<std::int64_t> order_;
  std::vector<double> group_score_;
  std::vector<std::int32_t> group_order_;
  std::vector<char> allowed_;
  std::vector<double> best_;      // nodes x r highest scores
  std::vector<char> kept_node_;
  // Uniform fast path (route_uniform).
  struct Cand {
    double x;
    std::int32_t group;
  };
  void route_uniform(Rng& rng, std::int64_t* out);
  std::vector<std::vector<std::int64_t>> members_;  // experts of each node
  std::vector<double> xs_;                          // nodes x k order statistics
  std::vector<std::int64_t> have_;
  std::vector<Cand> cand_;
};

// The processed assignments of one routing group of G tokens, token-major (G x K experts,
// processed[t * K + c] says whether the assignment got a slot). Returns the dropped assignments.
std::int64_t claim_capacity(const std::vector<std::int64_t>& choices, std::int64_t top_k, std::int64_t experts,
                            std::int64_t capacity, ExecutionMode mode, std::vector<char>& processed,
                            std::vector<std::int64_t>& counts);

// The nodes of one ep group: node of each ep index, the ep indices of each node (ascending) and
// each index's rank among its node's indices (its rail when the group has one device per GPU).
struct NodeMap {
  std::vector<std::int32_t> node_of;
  std::vector<std::vector<std::int32_t>> members;
  std::vector<std::int32_t> rank;
  explicit NodeMap(std::vector<std::int32_t> node_of_index);
  // The ep index on `node` that receives what `source` sends there (per-node dispatch): the one of
  // the same rank, modulo the node's count.
  [[nodiscard]] std::int32_t relay(std::int64_t source, std::int32_t node) const {
    const auto& m = members[static_cast<std::size_t>(node)];
    return m[static_cast<std::size_t>(rank[static_cast<std::size_t>(source)]) % m.size()];
  }
};

// Adds one token's dispatch (copies, not bytes) from ep index `source` to the ep x ep row-major
// matrix `copies`: `dest` are the ep indices of its processed assignments (repeats allowed).
// Direct: one copy per assignment. Per-node: see above.
void add_token_dispatch(Dispatch dispatch, const NodeMap& nodes, std::int64_t source, const std::int64_t* dest,
                        std::int64_t n, std::vector<double>& copies);

}  // namespace switchsim::workloads
