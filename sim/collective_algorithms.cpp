#include "sim/collective_algorithms.hpp"

#include <algorithm>
#include <map>

#include "common/errors.hpp"

namespace switchsim::sim {

namespace {
using topology::VertexId;
std::size_t idx(std::int64_t i) { return static_cast<std::size_t>(i); }
}  // namespace

std::int64_t ParticipantGrid::linear(std::span<const int> c) const {
  std::int64_t lin = 0;
  std::int64_t stride = 1;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    lin += c[k] * stride;
    stride *= sizes[k];
  }
  return lin;
}

void generate_all_to_all_direct(const ByteMatrix& m, std::span<const VertexId> devices, TransferGraph& g) {
  const std::int32_t n = m.n();
  g.reserve(static_cast<std::size_t>(m.nonzeros()));
  for (std::int32_t i = 0; i < n; ++i) {
    for (const ByteMatrix::Entry& e : m.row(i)) {
      if (i != e.col && e.bytes > 0.0) g.add(devices[idx(i)], devices[idx(e.col)], e.bytes);
    }
  }
}

void generate_all_to_all_pairwise(const ByteMatrix& m, std::span<const VertexId> devices, TransferGraph& g) {
  const std::int32_t n = m.n();
  const bool power_of_two = (n & (n - 1)) == 0;
  // send_of[i]: i's transfer of the previous round; recv_of[i]: the one into i.
  std::vector<TransferId> send_of(idx(n), -1), recv_of(idx(n), -1);
  std::vector<TransferId> new_send(idx(n), -1), new_recv(idx(n), -1);
  for (std::int32_t r = 1; r < n; ++r) {
    for (std::int32_t i = 0; i < n; ++i) {
      const std::int32_t j = power_of_two ? (i ^ r) : (i + r) % n;
      std::vector<TransferId> deps;
      if (send_of[idx(i)] >= 0) deps.push_back(send_of[idx(i)]);
      if (recv_of[idx(i)] >= 0) deps.push_back(recv_of[idx(i)]);
      const TransferId t = g.add(devices[idx(i)], devices[idx(j)], m.at(i, j), deps, r);
      new_send[idx(i)] = t;
      new_recv[idx(j)] = t;
    }
    send_of.swap(new_send);
    recv_of.swap(new_recv);
  }
}

void generate_all_to_all_hierarchical(const ByteMatrix& m, std::span<const VertexId> devices,
                                      std::span<const int> group_of, TransferGraph& g) {
  const std::int32_t n = m.n();
  // Groups in order of first appearance; local rank = order within the group.
  std::map<int, int> group_index;
  std::vector<int> grp(idx(n)), local(idx(n));
  std::vector<std::vector<std::int32_t>> members;
  for (std::int32_t i = 0; i < n; ++i) {
    auto [it, inserted] = group_index.emplace(group_of[idx(i)], static_cast<int>(members.size()));
    if (inserted) members.emplace_back();
    grp[idx(i)] = it->second;
    local[idx(i)] = static_cast<int>(members[idx(it->second)].size());
    members[idx(it->second)].push_back(i);
  }
  const auto groups = static_cast<int>(members.size());
  const auto per = static_cast<int>(members[0].size());
  for (const auto& mem : members) {
    if (static_cast<int>(mem.size()) != per) {
      throw InputError("--algorithm", "hierarchical all-to-all needs the same number of participants on every node");
    }
  }
  // Phase 1: (u,a) -> (u,b) carries sum_v M((u,a),(v,b)).
  std::vector<std::vector<TransferId>> received(idx(n));
  for (int u = 0; u < groups; ++u) {
    for (int a = 0; a < per; ++a) {
      for (int b = 0; b < per; ++b) {
        if (a == b) continue;
        const std::int32_t src = members[idx(u)][idx(a)];
        const std::int32_t dst = members[idx(u)][idx(b)];
        double bytes = 0.0;
        for (int v = 0; v < groups; ++v) bytes += m.at(src, members[idx(v)][idx(b)]);
        if (bytes <= 0.0) continue;
        received[idx(dst)].push_back(g.add(devices[idx(src)], devices[idx(dst)], bytes, {}, 1));
      }
    }
  }
  // Phase 2: (u,b) -> (v,b) carries sum_a M((u,a),(v,b)), after (u,b)'s phase-1 receives.
  for (int u = 0; u < groups; ++u) {
    for (int b = 0; b < per; ++b) {
      const std::int32_t src = members[idx(u)][idx(b)];
      for (int v = 0; v < groups; ++v) {
        if (v == u) continue;
        const std::int32_t dst = members[idx(v)][idx(b)];
        double bytes = 0.0;
        for (int a = 0; a < per; ++a) bytes += m.at(members[idx(u)][idx(a)], dst);
        if (bytes <= 0.0) continue;
        g.add(devices[idx(src)], devices[idx(dst)], bytes, received[idx(src)], 2);
      }
    }
  }
}

void generate_all_to_all_grid(const ByteMatrix& m, std::span<const VertexId> devices, const ParticipantGrid& grid,
                              TransferGraph& g) {
  const std::int32_t n = m.n();
  const auto dims = grid.sizes.size();
  std::vector<std::vector<TransferId>> received(idx(n));  // everything received so far
  std::vector<int> h(dims);
  for (std::size_t k = 0; k < dims; ++k) {
    const int sk = grid.sizes[k];
    if (sk <= 1) continue;
    // bytes[a * sk + v]: what node a sends along dimension k to coordinate v.
    std::vector<double> bytes(idx(n) * idx(sk), 0.0);
    for (std::int32_t s = 0; s < n; ++s) {
      const auto& cs = grid.coords[idx(s)];
      for (const ByteMatrix::Entry& e : m.row(s)) {
        const std::int32_t y = e.col;
        const double b = e.bytes;
        if (s == y || b <= 0.0) continue;
        const auto& cy = grid.coords[idx(y)];
        if (cs[k] == cy[k]) continue;
        for (std::size_t q = 0; q < dims; ++q) h[q] = q < k ? cy[q] : cs[q];
        const std::int32_t a = grid.at[idx(grid.linear(h))];
        bytes[idx(a) * idx(sk) + idx(cy[k])] += b;
      }
    }
    std::vector<std::vector<TransferId>> now_received(idx(n));
    for (std::int32_t a = 0; a < n; ++a) {
      for (int v = 0; v < sk; ++v) {
        const double b = bytes[idx(a) * idx(sk) + idx(v)];
        if (b <= 0.0) continue;
        std::vector<int> c = grid.coords[idx(a)];
        c[k] = v;
        const std::int32_t dst = grid.at[idx(grid.linear(c))];
        const TransferId t =
            g.add(devices[idx(a)], devices[idx(dst)], b, received[idx(a)], static_cast<std::int32_t>(k) + 1);
        now_received[idx(dst)].push_back(t);
      }
    }
    for (std::int32_t a = 0; a < n; ++a) {
      auto& r = received[idx(a)];
      r.insert(r.end(), now_received[idx(a)].begin(), now_received[idx(a)].end());
    }
  }
}

std::vector<std::vector<TransferId>> generate_ring_steps(std::span<const std::int32_t> members,
                                                         std::span<const VertexId> devices, int steps,
                                                         double chunk_bytes,
                                                         const std::vector<std::vector<TransferId>>& entry,
                                                         std::int32_t step_label, TransferGraph& g,
                                                         int send_window) {
  SWITCHSIM_ASSERT(send_window >= 1, "a ring's send window is at least one step");
  const auto r = members.size();
  if (r < 2 || steps <= 0) return entry;
  // sends[k][j]: member j's send of step k.
  std::vector<std::vector<TransferId>> sends(static_cast<std::size_t>(steps), std::vector<TransferId>(r, -1));
  std::vector<TransferId> deps;
  for (int k = 0; k < steps; ++k) {
    const auto ki = static_cast<std::size_t>(k);
    for (std::size_t j = 0; j < r; ++j) {
      deps.clear();
      if (k == 0) {
        deps = entry[j];
      } else {
        deps.push_back(sends[ki - 1][(j + r - 1) % r]);  // previous receive from j-1
        if (k >= send_window) deps.push_back(sends[ki - static_cast<std::size_t>(send_window)][j]);  // own send
      }
      sends[ki][j] = g.add(devices[idx(members[j])], devices[idx(members[(j + 1) % r])], chunk_bytes, deps,
                           step_label + k);
    }
  }
  // After the last step a member waits for its receive and for every send still in flight.
  std::vector<std::vector<TransferId>> exit(r);
  const int first = std::max(0, steps - send_window);
  for (std::size_t j = 0; j < r; ++j) {
    exit[j] = {sends.back()[(j + r - 1) % r]};
    for (int k = first; k < steps; ++k) exit[j].push_back(sends[static_cast<std::size_t>(k)][j]);
  }
  return exit;
}

void generate_ring(CollectiveOp op, double bytes, std::span<const VertexId> devices, TransferGraph& g,
                   int send_window) {
  const auto n = static_cast<std::int32_t>(devices.size());
  std::vector<std::int32_t> members(idx(n));
  for (std::int32_t i = 0; i < n; ++i) members[idx(i)] = i;
  const int steps = op == CollectiveOp::all_reduce ? 2 * (n - 1) : n - 1;
  (void)generate_ring_steps(members, devices, steps, bytes / n, std::vector<std::vector<TransferId>>(idx(n)), 1, g,
                            send_window);
}

void generate_tree_all_reduce(double bytes, std::span<const VertexId> devices, TransferGraph& g) {
  const auto n = static_cast<std::int32_t>(devices.size());
  if (n < 2) return;
  // Reduce: node i sends to its parent once its children's sends arrived.
  // Children of i: 2i+1, 2i+2. Process from the leaves up (descending index).
  std::vector<TransferId> up(idx(n), -1);
  std::vector<std::vector<TransferId>> from_children(idx(n));
  for (std::int32_t i = n - 1; i >= 1; --i) {
    const std::int32_t parent = (i - 1) / 2;
    up[idx(i)] = g.add(devices[idx(i)], devices[idx(parent)], bytes, from_children[idx(i)], 1);
    from_children[idx(parent)].push_back(up[idx(i)]);
  }
  // Broadcast: the root starts after all its children's reduce sends; node i
  // forwards after the broadcast into i arrived.
  std::vector<TransferId> down(idx(n), -1);
  for (std::int32_t i = 1; i < n; ++i) {
    const std::int32_t parent = (i - 1) / 2;
    std::vector<TransferId> deps;
    if (parent == 0) {
      deps = from_children[0];
    } else {
      deps.push_back(down[idx(parent)]);
    }
    down[idx(i)] = g.add(devices[idx(parent)], devices[idx(i)], bytes, deps, 2);
  }
}

void generate_rings(CollectiveOp op, double bytes, std::span<const VertexId> devices,
                    const std::vector<std::vector<std::int32_t>>& orders, TransferGraph& g, int send_window) {
  const auto n = static_cast<std::int32_t>(devices.size());
  const int steps = op == CollectiveOp::all_reduce ? 2 * (n - 1) : n - 1;
  const double chunk = bytes / static_cast<double>(orders.size()) / static_cast<double>(n);
  for (const auto& order : orders) {
    SWITCHSIM_ASSERT(static_cast<std::int32_t>(order.size()) == n, "a ring order must hold every participant");
    (void)generate_ring_steps(order, devices, steps, chunk, std::vector<std::vector<TransferId>>(idx(n)), 1, g,
                              send_window);
  }
}

std::vector<std::vector<std::int32_t>> bidirectional_orders(std::int32_t n) {
  std::vector<std::int32_t> forward(idx(n));
  for (std::int32_t i = 0; i < n; ++i) forward[idx(i)] = i;
  std::vector<std::int32_t> backward(forward.rbegin(), forward.rend());
  return {forward, backward};
}

std::vector<std::vector<TransferId>> generate_ring_phase(std::span<const std::int32_t> ring,
                                                         std::span<const VertexId> devices, int steps,
                                                         double chunk_bytes,
                                                         const std::vector<std::vector<TransferId>>& entry,
                                                         std::int32_t step_label, bool bidirectional,
                                                         TransferGraph& g) {
  if (!bidirectional) return generate_ring_steps(ring, devices, steps, chunk_bytes, entry, step_label, g);
  auto exit = generate_ring_steps(ring, devices, steps, chunk_bytes / 2.0, entry, step_label, g);
  // The reversed ring: member j of `ring` is member r-1-j of `reversed`.
  const std::size_t r = ring.size();
  std::vector<std::int32_t> reversed(ring.rbegin(), ring.rend());
  std::vector<std::vector<TransferId>> rentry(r);
  for (std::size_t j = 0; j < r; ++j) rentry[j] = entry[r - 1 - j];
  const auto rexit = generate_ring_steps(reversed, devices, steps, chunk_bytes / 2.0, rentry, step_label, g);
  for (std::size_t j = 0; j < r; ++j) {
    const auto& other = rexit[r - 1 - j];
    auto& mine = exit[j];
    for (const TransferId t : other) {
      if (std::find(mine.begin(), mine.end(), t) == mine.end()) mine.push_back(t);
    }
  }
  return exit;
}

void generate_torus_2d_all_reduce(double bytes, std::span<const VertexId> devices, const ParticipantGrid& grid,
                                  TransferGraph& g) {
  generate_two_level(CollectiveOp::all_reduce, bytes, devices, grid, false, g);
}

void generate_two_level(CollectiveOp op, double bytes, std::span<const VertexId> devices, const ParticipantGrid& grid,
                        bool bidirectional, TransferGraph& g) {
  SWITCHSIM_ASSERT(op != CollectiveOp::all_to_all, "two-level rings: not an all-to-all algorithm");
  const auto n = static_cast<std::int32_t>(devices.size());
  std::int64_t R = 1;
  for (int k = 0; k < grid.row_dims && k < static_cast<int>(grid.sizes.size()); ++k) R *= grid.sizes[idx(k)];
  const std::int64_t C = static_cast<std::int64_t>(n) / R;
  SWITCHSIM_ASSERT(R * C == n, "two-level rings need a product grid");
  // Row id and column id of each participant: linear index = row_pos + R * col_pos.
  std::vector<std::vector<std::int32_t>> rows(idx(C)), cols(idx(R));
  for (std::int64_t lin = 0; lin < static_cast<std::int64_t>(n); ++lin) {
    const std::int32_t p = grid.at[idx(lin)];
    rows[idx(lin / R)].push_back(p);
    cols[idx(lin % R)].push_back(p);
  }
  std::vector<std::vector<TransferId>> state(idx(n));  // per participant: what it waits for
  auto run_rings = [&](const std::vector<std::vector<std::int32_t>>& rings, std::int64_t steps, double chunk,
                       int label) {
    for (const auto& ring : rings) {
      std::vector<std::vector<TransferId>> entry(ring.size());
      for (std::size_t j = 0; j < ring.size(); ++j) entry[j] = state[idx(ring[j])];
      auto exit = generate_ring_phase(ring, devices, static_cast<int>(steps), chunk, entry, label, bidirectional, g);
      for (std::size_t j = 0; j < ring.size(); ++j) state[idx(ring[j])] = std::move(exit[j]);
    }
  };
  const double r = static_cast<double>(R);
  const double c = static_cast<double>(C);
  switch (op) {
    case CollectiveOp::all_reduce:
      run_rings(rows, R - 1, bytes / r, 1);                // reduce-scatter along rows
      run_rings(cols, 2 * (C - 1), bytes / (r * c), 1000);  // all-reduce of the S/R shard along columns
      run_rings(rows, R - 1, bytes / r, 2000);              // all-gather along rows
      break;
    case CollectiveOp::reduce_scatter:
      run_rings(rows, R - 1, bytes / r, 1);
      run_rings(cols, C - 1, bytes / (r * c), 1000);
      break;
    case CollectiveOp::all_gather:
      run_rings(cols, C - 1, bytes / (r * c), 1);
      run_rings(rows, R - 1, bytes / r, 1000);
      break;
    case CollectiveOp::all_to_all: break;
  }
}

void generate_per_dimension(CollectiveOp op, double bytes, std::span<const VertexId> devices,
                            const ParticipantGrid& grid, bool bidirectional, TransferGraph& g) {
  SWITCHSIM_ASSERT(op != CollectiveOp::all_to_all, "per-dimension rings: not an all-to-all algorithm");
  const auto n = static_cast<std::int32_t>(devices.size());
  const std::size_t dims = grid.sizes.size();
  // rings[k]: participants that differ only in grid dimension k, by coordinate.
  std::vector<std::vector<std::vector<std::int32_t>>> rings(dims);
  for (std::size_t k = 0; k < dims; ++k) {
    const auto sk = static_cast<std::int64_t>(grid.sizes[k]);
    std::int64_t stride = 1;
    for (std::size_t q = 0; q < k; ++q) stride *= grid.sizes[q];
    // Linear index = low + stride * (c_k + sk * high): one ring per (low, high).
    for (std::int64_t base = 0; base < static_cast<std::int64_t>(n); ++base) {
      if ((base / stride) % sk != 0) continue;
      std::vector<std::int32_t> ring;
      for (std::int64_t c = 0; c < sk; ++c) ring.push_back(grid.at[idx(base + c * stride)]);
      rings[k].push_back(std::move(ring));
    }
  }
  std::vector<std::vector<TransferId>> state(idx(n));
  auto run_rings = [&](std::size_t k, std::int64_t steps, double chunk, int label) {
    for (const auto& ring : rings[k]) {
      std::vector<std::vector<TransferId>> entry(ring.size());
      for (std::size_t j = 0; j < ring.size(); ++j) entry[j] = state[idx(ring[j])];
      auto exit = generate_ring_phase(ring, devices, static_cast<int>(steps), chunk, entry, label, bidirectional, g);
      for (std::size_t j = 0; j < ring.size(); ++j) state[idx(ring[j])] = std::move(exit[j]);
    }
  };
  // b[k]: the buffer that phase k scatters (or gathers into): S / (s_0 ... s_{k-1}).
  std::vector<double> b(dims + 1, bytes);
  for (std::size_t k = 0; k < dims; ++k) b[k + 1] = b[k] / grid.sizes[k];
  const auto s = [&](std::size_t k) { return static_cast<std::int64_t>(grid.sizes[k]); };
  const auto label = [](std::size_t k, int pass) { return 1 + 1000 * static_cast<int>(k) + 100000 * pass; };
  if (dims == 0) return;
  switch (op) {
    case CollectiveOp::all_reduce:
      for (std::size_t k = 0; k + 1 < dims; ++k) run_rings(k, s(k) - 1, b[k + 1], label(k, 0));
      run_rings(dims - 1, 2 * (s(dims - 1) - 1), b[dims], label(dims - 1, 0));
      for (std::size_t k = dims - 1; k-- > 0;) run_rings(k, s(k) - 1, b[k + 1], label(k, 1));
      break;
    case CollectiveOp::reduce_scatter:
      for (std::size_t k = 0; k < dims; ++k) run_rings(k, s(k) - 1, b[k + 1], label(k, 0));
      break;
    case CollectiveOp::all_gather:
      for (std::size_t k = dims; k-- > 0;) run_rings(k, s(k) - 1, b[k + 1], label(k, 1));
      break;
    case CollectiveOp::all_to_all: break;
  }
}

}  // namespace switchsim::sim
