// Transfer simulation (latency + dependencies) and collective generators on
// hand-built networks, against closed forms.
#include <catch2/catch.hpp>

#include "sim/collective_algorithms.hpp"
#include "sim/transfer_simulation.hpp"
#include "tests/sim/test_networks.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::sim::testing::make_ring;
using switchsim::sim::testing::make_star;

TEST_CASE("transfers: one message on one link = overhead + latency + bytes / capacity", "[sim][transfers]") {
  // Star of 2 with 10 GB/s links, 1 us per hop, ICI overhead 1 us. 1 GB from 0 to 1
  // crosses 2 links: 1e9 / 1e10 = 0.1 s + 2 us hops + 1 us overhead.
  auto net = make_star(2, 10e9, 1e-6, topology::LinkKind::ici);
  TransferGraph g;
  g.add(0, 1, 1e9);
  const auto t = simulate_transfers(g, net.links, net.router);
  const double expected = 0.1 + 2e-6 + kDefaultMessageOverhead_s[0];
  CHECK(t.makespan_s == Approx(expected).epsilon(1e-12));
  CHECK(t.flows == 1);
  CHECK(t.bytes_sent == 1e9);
}

TEST_CASE("transfers: dependencies start at the latest delivery", "[sim][transfers]") {
  // 0->1 (1 GB) and 1->0 (2 GB) run in parallel on separate links (0.1 s, 0.2 s,
  // plus latency L = 3 us each); 0->1 again waits for both: starts at 0.2 s + L,
  // ends 0.1 s + L later.
  auto net = make_star(2, 10e9, 1e-6, topology::LinkKind::ici);
  TransferGraph g;
  const TransferId a = g.add(0, 1, 1e9);
  const TransferId b = g.add(1, 0, 2e9);
  const std::vector<TransferId> deps = {a, b};
  const TransferId c = g.add(0, 1, 1e9, deps);
  const auto t = simulate_transfers(g, net.links, net.router);
  const double L = 3e-6;
  CHECK(t.issue_s[static_cast<std::size_t>(c)] == Approx(0.2 + L).epsilon(1e-12));
  CHECK(t.makespan_s == Approx(0.3 + 2 * L).epsilon(1e-12));
}

TEST_CASE("transfers: ECMP splits a transfer evenly over the path set", "[sim][transfers]") {
  // Two parallel 5 GB/s links from 0 to 1 (no latency, overhead 0): 1 GB split
  // into two sub-flows of 0.5 GB at 5 GB/s each: 0.1 s, like one 10 GB/s link.
  std::vector<topology::Link> links = {topology::Link{0, 1, 5e9, 0.0, 1.0, topology::LinkKind::fabric},
                                       topology::Link{0, 1, 5e9, 0.0, 1.0, topology::LinkKind::fabric}};
  testing::TableRouter router;
  router.set(0, 1, {topology::Path{0}, topology::Path{1}});
  TransferGraph g;
  g.add(0, 1, 1e9);
  NetworkOptions options;
  options.message_overhead_s.fill(0.0);
  const auto t = simulate_transfers(g, links, router, options);
  CHECK(t.flows == 2);
  CHECK(t.makespan_s == Approx(0.1).epsilon(1e-12));
}

TEST_CASE("collectives: ring all-reduce = 2(n-1)(L + S/(nB))", "[sim][collective][ring]") {
  // Unidirectional ring of 4, B = 10 GB/s, hop latency 1 us, ICI overhead 1 us:
  // L = 2 us per step; S = 1 GB: 2*3*(2e-6 + 1e9/(4*1e10)) = 6 * 0.025002 = 0.150012 s.
  auto net = make_ring(4, 10e9, 1e-6, topology::LinkKind::ici);
  const std::vector<topology::VertexId> devices = {0, 1, 2, 3};
  TransferGraph g;
  generate_ring(CollectiveOp::all_reduce, 1e9, devices, g);
  CHECK(g.size() == 2 * 3 * 4);
  const auto t = simulate_transfers(g, net.links, net.router);
  CHECK(t.makespan_s == Approx(0.150012).epsilon(1e-12));
  // All-gather on the same ring: (n-1) steps: 3 * 0.025002 = 0.075006 s.
  TransferGraph ag;
  generate_ring(CollectiveOp::all_gather, 1e9, devices, ag);
  CHECK(simulate_transfers(ag, net.links, net.router).makespan_s == Approx(0.075006).epsilon(1e-12));
}

TEST_CASE("collectives: symmetric all-to-all on a switch = (n-1)/n S / B + latency", "[sim][collective][a2a]") {
  // 8 GPUs on one switch, 450 GB/s per direction, hop latency 0.5 us, NVLink
  // overhead 2 us. Each uplink carries 7 flows of S/8 (each gets B/7): all end at
  // 7/8 S / B. S = 8 MiB: 7/8 * 8388608 / 450e9 = 16.3119...us; + 2 * 0.5 us + 2 us.
  auto net = make_star(8, 450e9, 0.5e-6, topology::LinkKind::nvlink);
  ByteMatrix m = ByteMatrix::filled(8, 8388608.0 / 8);
  const std::vector<topology::VertexId> devices = {0, 1, 2, 3, 4, 5, 6, 7};
  TransferGraph g;
  generate_all_to_all_direct(m, devices, g);
  CHECK(g.size() == 56);
  const auto t = simulate_transfers(g, net.links, net.router);
  const double expected = 7.0 / 8.0 * 8388608.0 / 450e9 + 1e-6 + 2e-6;
  CHECK(t.makespan_s == Approx(expected).epsilon(1e-12));
  CHECK(t.events <= 3);  // one drain batch and one delivery batch (all flows equal)

  // Pairwise: 7 rounds, each a permutation (one flow per link): 7 (S/8/B + L).
  TransferGraph pw;
  generate_all_to_all_pairwise(m, devices, pw);
  const double round = 8388608.0 / 8 / 450e9 + 3e-6;
  CHECK(simulate_transfers(pw, net.links, net.router).makespan_s == Approx(7 * round).epsilon(1e-12));
}

TEST_CASE("collectives: skewed all-to-all is limited by the hot receiver", "[sim][collective][a2a]") {
  // 4 GPUs on a switch, 10 GB/s links, no latency. Everyone sends 1 GB to GPU 0
  // and 0.1 GB to each other GPU. GPU 0's downlink takes 3 GB: >= 0.3 s. The
  // flows into 0 are max-min limited by that downlink (10/3 GB/s each) while
  // the others run faster, so the all-to-all takes exactly 0.3 s.
  auto net = make_star(4, 10e9, 0.0, topology::LinkKind::nvlink);
  std::vector<double> dense(16, 0.1e9);
  for (std::size_t i = 0; i < 4; ++i) dense[i * 4] = 1e9;
  const ByteMatrix m = ByteMatrix::from_dense(4, dense);
  const std::vector<topology::VertexId> devices = {0, 1, 2, 3};
  TransferGraph g;
  generate_all_to_all_direct(m, devices, g);
  NetworkOptions options;
  options.message_overhead_s.fill(0.0);
  const auto t = simulate_transfers(g, net.links, net.router, options);
  CHECK(t.makespan_s == Approx(0.3).epsilon(1e-9));
}

TEST_CASE("collectives: tree all-reduce on a switch", "[sim][collective][tree]") {
  // n = 4 in heap order: 0 <- {1, 2}, 1 <- {3}. Star, B = 10 GB/s, no latency,
  // S = 1 GB (0.1 s per message alone). Reduce: 3->1 and 2->0 in [0, 0.1];
  // 1->0 in [0.1, 0.2]. Broadcast: 0->1 and 0->2 share 0's uplink: [0.2, 0.4];
  // 1->3 in [0.4, 0.5]. Total 0.5 s.
  auto net = make_star(4, 10e9, 0.0, topology::LinkKind::nvlink);
  const std::vector<topology::VertexId> devices = {0, 1, 2, 3};
  TransferGraph g;
  generate_tree_all_reduce(1e9, devices, g);
  NetworkOptions options;
  options.message_overhead_s.fill(0.0);
  CHECK(simulate_transfers(g, net.links, net.router, options).makespan_s == Approx(0.5).epsilon(1e-12));
}

TEST_CASE("collectives: hierarchical all-to-all moves every byte to its destination", "[sim][collective][a2a]") {
  // 2 "nodes" of 2 on one star (group_of = {0,0,1,1}). Uniform 4 MB per pair.
  // Phase 1: (u,a)->(u,b) carries 2 pairs' worth = 8 MB; phase 2 (u,b)->(v,b)
  // carries 8 MB. Total bytes = 4 phase-1 transfers * 8 + 4 phase-2 * 8 = 64 MB.
  auto net = make_star(4, 10e9, 0.0, topology::LinkKind::nvlink);
  ByteMatrix m = ByteMatrix::filled(4, 4e6);
  const std::vector<topology::VertexId> devices = {0, 1, 2, 3};
  const std::vector<int> group = {0, 0, 1, 1};
  TransferGraph g;
  generate_all_to_all_hierarchical(m, devices, group, g);
  CHECK(g.size() == 8);
  CHECK(g.total_bytes() == Approx(64e6));
  // Phase 1 alone: every link carries one 8 MB flow: 0.8 ms; phase 2 the same:
  // 1.6 ms in total (no latency).
  NetworkOptions options;
  options.message_overhead_s.fill(0.0);
  CHECK(simulate_transfers(g, net.links, net.router, options).makespan_s == Approx(1.6e-3).epsilon(1e-12));
}

TEST_CASE("collectives: pairwise all-to-all with n not a power of two", "[sim][collective][a2a]") {
  // n = 3 on a star (10 GB/s, no latency): rounds r = 1, 2 send i -> i+r mod 3,
  // a permutation per round (one flow per link): 2 * (1 GB / 10 GB/s) = 0.2 s.
  auto net = make_star(3, 10e9, 0.0, topology::LinkKind::nvlink);
  ByteMatrix m = ByteMatrix::filled(3, 1e9);
  const std::vector<topology::VertexId> devices = {0, 1, 2};
  TransferGraph g;
  generate_all_to_all_pairwise(m, devices, g);
  CHECK(g.size() == 6);
  NetworkOptions options;
  options.message_overhead_s.fill(0.0);
  CHECK(simulate_transfers(g, net.links, net.router, options).makespan_s == Approx(0.2).epsilon(1e-12));
}
