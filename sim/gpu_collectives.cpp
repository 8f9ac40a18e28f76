#include "sim/gpu_collectives.hpp"

#include <algorithm>
#include <map>

#include "common/errors.hpp"
#include "sim/collective_algorithms.hpp"
#include "sim/pipeline.hpp"

namespace switchsim::sim {

namespace {
using topology::VertexId;
std::size_t idx(std::int64_t i) { return static_cast<std::size_t>(i); }

// Generates `gen(bytes, graph)` pipelined over chunks (pipeline.hpp): once at
// the full size to find the chunk count, then one chunk's template.
template <class Gen>
void pipelined(double bytes, Gen&& gen, TransferGraph& g) {
  TransferGraph full;
  gen(bytes, full);
  double largest = 0.0;
  for (TransferId t = 0; t < full.size(); ++t) largest = std::max(largest, full.bytes(t));
  const int chunks = pipeline_chunks(largest, full.size());
  if (chunks == 1) {
    append_pipelined(full, 1, g);
    return;
  }
  TransferGraph tmpl;
  gen(bytes / chunks, tmpl);
  append_pipelined(tmpl, chunks, g);
}

// Reduce up and broadcast down a tree over `members` (participant indices)
// given by parent[k] (an index into members, -1: the root), each message
// `bytes` (one chunk of one tree). entry[k]: what member k waits for before
// its reduce send (empty: nothing). Returns, per member, what it waits for
// once it has the result: the broadcast into it, or for the root its
// children's reduce sends (and its entry).
std::vector<std::vector<TransferId>> generate_tree_phase(const std::vector<std::int32_t>& parent,
                                                         std::span<const std::int32_t> members, double bytes,
                                                         std::span<const VertexId> devices,
                                                         const std::vector<std::vector<TransferId>>& entry,
                                                         std::int32_t label, TransferGraph& g) {
  const auto n = static_cast<std::int32_t>(parent.size());
  std::vector<int> depth(idx(n), -1);
  std::int32_t root = -1;
  for (std::int32_t i = 0; i < n; ++i) {
    // Walk up to a node of known depth (parents form a tree: no cycles).
    std::vector<std::int32_t> path;
    std::int32_t x = i;
    while (x >= 0 && depth[idx(x)] < 0) {
      path.push_back(x);
      x = parent[idx(x)];
      SWITCHSIM_ASSERT(static_cast<std::int32_t>(path.size()) <= n, "tree parents form a cycle");
    }
    int d = x < 0 ? -1 : depth[idx(x)];
    for (auto it = path.rbegin(); it != path.rend(); ++it) depth[idx(*it)] = ++d;
    if (parent[idx(i)] < 0) root = i;
  }
  SWITCHSIM_ASSERT(root >= 0, "a tree needs a root");
  auto device = [&](std::int32_t k) { return devices[idx(members[idx(k)])]; };
  std::vector<std::int32_t> order(idx(n));
  for (std::int32_t i = 0; i < n; ++i) order[idx(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return depth[idx(a)] > depth[idx(b)]; });
  // Reduce: deepest first, so children's sends exist before their parent's.
  std::vector<std::vector<TransferId>> from_children(idx(n));
  for (const std::int32_t x : order) {
    const std::int32_t p = parent[idx(x)];
    if (p < 0) continue;
    std::vector<TransferId> deps = from_children[idx(x)];
    if (!entry.empty()) deps.insert(deps.end(), entry[idx(x)].begin(), entry[idx(x)].end());
    from_children[idx(p)].push_back(g.add(device(x), device(p), bytes, deps, label));
  }
  // Broadcast: shallowest first; the root starts once its children's sends arrived.
  std::vector<std::vector<TransferId>> exit(idx(n));
  exit[idx(root)] = from_children[idx(root)];
  if (!entry.empty()) exit[idx(root)].insert(exit[idx(root)].end(), entry[idx(root)].begin(), entry[idx(root)].end());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const std::int32_t x = *it;
    const std::int32_t p = parent[idx(x)];
    if (p < 0) continue;
    exit[idx(x)] = {g.add(device(p), device(x), bytes, exit[idx(p)], label + 1)};
  }
  return exit;
}

// The whole-buffer tree over every participant (parent indexes participants).
void generate_tree(const std::vector<std::int32_t>& parent, double bytes, std::span<const VertexId> devices,
                   TransferGraph& g) {
  std::vector<std::int32_t> members(parent.size());
  for (std::size_t i = 0; i < members.size(); ++i) members[i] = static_cast<std::int32_t>(i);
  (void)generate_tree_phase(parent, members, bytes, devices, {}, 1, g);
}

// Node u's participants rotated to start at local rank c.
std::vector<std::int32_t> rotated(const std::vector<std::int32_t>& members, int c) {
  std::vector<std::int32_t> out;
  const auto m = members.size();
  for (std::size_t k = 0; k < m; ++k) out.push_back(members[(k + static_cast<std::size_t>(c)) % m]);
  return out;
}

}  // namespace

bool NodeGroups::equal_sizes() const {
  return std::all_of(members.begin(), members.end(), [&](const auto& m) { return m.size() == members[0].size(); });
}

int NodeGroups::largest() const {
  std::size_t m = 0;
  for (const auto& g : members) m = std::max(m, g.size());
  return static_cast<int>(m);
}

NodeGroups group_by_node(const topology::Mesh& mesh, std::span<const VertexId> devices) {
  NodeGroups groups;
  std::map<int, int> index;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const int node = mesh.node_of(devices[i]);
    auto [it, inserted] = index.emplace(node, groups.count());
    if (inserted) {
      groups.members.emplace_back();
      groups.node.push_back(node);
    }
    groups.members[idx(it->second)].push_back(static_cast<std::int32_t>(i));
  }
  return groups;
}

int ring_channels(CollectiveOp op, const NodeGroups& groups, std::int32_t n) {
  if (groups.count() <= 1) return 1;
  const std::int64_t steps = op == CollectiveOp::all_reduce ? 2 * (n - 1) : n - 1;
  int channels = groups.largest();
  while (channels > 1 && static_cast<std::int64_t>(channels) * steps * n > kRingTransferBudget) --channels;
  return channels;
}

std::vector<std::vector<std::int32_t>> channel_ring_orders(const NodeGroups& groups, int channels) {
  std::vector<std::vector<std::int32_t>> orders(idx(channels));
  for (int c = 0; c < channels; ++c) {
    for (const auto& members : groups.members) {
      const auto r = rotated(members, c % static_cast<int>(members.size()));
      orders[idx(c)].insert(orders[idx(c)].end(), r.begin(), r.end());
    }
  }
  return orders;
}

void generate_nvls_all_reduce(double bytes, std::span<const VertexId> devices, const NodeGroups& groups,
                              std::span<const VertexId> node_switches, double nvls_efficiency, TransferGraph& g) {
  SWITCHSIM_ASSERT(nvls_efficiency > 0.0 && nvls_efficiency <= 1.0, "NVLS efficiency in (0, 1]");
  const double up_down = 1.0 / nvls_efficiency;  // wire bytes per payload byte on the switch's data path
  SWITCHSIM_ASSERT(groups.equal_sizes(), "NVLS needs the same number of participants on every node");
  SWITCHSIM_ASSERT(node_switches.size() == groups.members.size(), "one NVSwitch per node");
  const int N = groups.count();
  const int m = groups.largest();
  const auto n = static_cast<std::int32_t>(devices.size());
  pipelined(
      bytes,
      [&](double b, TransferGraph& t) {
        // state[i]: what participant i waits for before its next phase.
        std::vector<std::vector<TransferId>> state(idx(n));
        // In-switch reduce-scatter: every GPU's buffer up, each GPU's reduced shard (b/m) down.
        for (int u = 0; u < N; ++u) {
          const VertexId sw = node_switches[idx(u)];
          std::vector<TransferId> ups;
          for (const std::int32_t i : groups.members[idx(u)]) {
            ups.push_back(t.add(devices[idx(i)], sw, b * up_down, {}, 1));
          }
          for (const std::int32_t j : groups.members[idx(u)]) {
            state[idx(j)] = {t.add(sw, devices[idx(j)], b / m * up_down, ups, 2)};
          }
        }
        // Between nodes (NVLS_TREE): the b/m shard all-reduced per rail by
        // NCCL's double binary tree over the rail's N GPUs, half the shard each.
        if (N > 1) {
          for (int r = 0; r < m; ++r) {
            std::vector<std::int32_t> rail;
            for (int u = 0; u < N; ++u) rail.push_back(groups.members[idx(u)][idx(r)]);
            std::vector<std::vector<TransferId>> entry(idx(N));
            for (int u = 0; u < N; ++u) entry[idx(u)] = state[idx(rail[idx(u)])];
            for (int u = 0; u < N; ++u) state[idx(rail[idx(u)])].clear();
            for (int tree = 0; tree < 2; ++tree) {
              auto exit = generate_tree_phase(nccl_tree_parents(N, tree), rail, b / m / 2.0, devices, entry, 1000, t);
              for (int u = 0; u < N; ++u) {
                auto& st = state[idx(rail[idx(u)])];
                st.insert(st.end(), exit[idx(u)].begin(), exit[idx(u)].end());
              }
            }
          }
        }
        // In-switch all-gather: each GPU writes its shard once, the switch multicasts all shards.
        for (int u = 0; u < N; ++u) {
          const VertexId sw = node_switches[idx(u)];
          std::vector<TransferId> ups;
          for (const std::int32_t j : groups.members[idx(u)]) {
            ups.push_back(t.add(devices[idx(j)], sw, b / m * up_down, state[idx(j)], 2001));
          }
          for (const std::int32_t i : groups.members[idx(u)]) (void)t.add(sw, devices[idx(i)], b * up_down, ups, 2002);
        }
      },
      g);
}

std::vector<int> nccl_tree_parents(int nranks, int tree) {
  // ncclGetBtree: the parent of `rank` flips its lowest set bit `bit` and sets
  // the next one ((rank ^ bit) | (bit << 1)), or only clears it when that is out
  // of range; rank 0 is the root. The lowest set bit grows going up: a tree.
  auto btree = [nranks](int rank) {
    if (rank == 0) return -1;
    const int bit = rank & -rank;
    int up = (rank ^ bit) | (bit << 1);
    if (up >= nranks) up = rank ^ bit;
    return up;
  };
  std::vector<int> parent(idx(nranks));
  for (int r = 0; r < nranks; ++r) {
    if (tree == 0) {
      parent[idx(r)] = btree(r);
    } else if (nranks % 2 == 0) {  // mirror
      const int p = btree(nranks - 1 - r);
      parent[idx(r)] = p < 0 ? -1 : nranks - 1 - p;
    } else {  // shift by one
      const int p = btree((r - 1 + nranks) % nranks);
      parent[idx(r)] = p < 0 ? -1 : (p + 1) % nranks;
    }
  }
  return parent;
}

void generate_double_tree_all_reduce(double bytes, std::span<const VertexId> devices, const NodeGroups& groups,
                                     TransferGraph& g) {
  const int N = groups.count();
  const int channels = N > 1 ? groups.largest() : 1;
  const auto n = static_cast<std::int32_t>(devices.size());
  pipelined(
      bytes,
      [&](double b, TransferGraph& t) {
        for (int tree = 0; tree < 2; ++tree) {
          const std::vector<int> node_parent = nccl_tree_parents(N, tree);
          for (int c = 0; c < channels; ++c) {
            std::vector<std::int32_t> parent(idx(n), -1);
            std::vector<std::int32_t> head(idx(N));
            for (int u = 0; u < N; ++u) {
              const auto& mem = groups.members[idx(u)];
              const auto chain = rotated(mem, c % static_cast<int>(mem.size()));
              head[idx(u)] = chain[0];
              for (std::size_t k = 1; k < chain.size(); ++k) parent[idx(chain[k])] = chain[k - 1];
            }
            for (int u = 0; u < N; ++u) {
              if (node_parent[idx(u)] >= 0) parent[idx(head[idx(u)])] = head[idx(node_parent[idx(u)])];
            }
            generate_tree(parent, b / 2.0 / channels, devices, t);
          }
        }
      },
      g);
}

void generate_gpu_hierarchical(CollectiveOp op, double bytes, std::span<const VertexId> devices,
                               const NodeGroups& groups, TransferGraph& g) {
  SWITCHSIM_ASSERT(groups.equal_sizes(), "hierarchical needs the same number of participants on every node");
  const int N = groups.count();
  const int m = groups.largest();
  // Grid: dimension 0 = local rank (rows: a node), dimension 1 = node (columns: a rail).
  ParticipantGrid grid;
  grid.sizes = {m, N};
  grid.row_dims = 1;
  grid.coords.resize(devices.size());
  grid.at.assign(devices.size(), -1);
  for (int u = 0; u < N; ++u) {
    for (int r = 0; r < m; ++r) {
      const std::int32_t i = groups.members[idx(u)][idx(r)];
      grid.coords[idx(i)] = {r, u};
      grid.at[idx(r + m * u)] = i;
    }
  }
  pipelined(bytes, [&](double b, TransferGraph& t) { generate_two_level(op, b, devices, grid, false, t); }, g);
}

}  // namespace switchsim::sim
