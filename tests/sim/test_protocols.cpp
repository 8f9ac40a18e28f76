// NCCL's protocols (sim/nccl_protocol.hpp) in the GPU collectives: NCCL's
// latency constants, the per-step costs in the network (launch, step latency,
// streamed pipeline chunks), hand-computed ring all-reduces under LL, LL128
// and Simple, the choice per size, bus bandwidth against size, and the ideal
// line-rate model with `--protocol none`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>

#include "common/errors.hpp"
#include "sim/collective.hpp"
#include "sim/gpu_collectives.hpp"
#include "sim/nccl_protocol.hpp"
#include "sim/pipeline.hpp"
#include "sim/plan_estimate.hpp"
#include "sim/transfer_simulation.hpp"
#include "tests/sim/test_networks.hpp"
#include "topology/device_catalog.hpp"
#include "topology/gpu_cluster.hpp"
#include "topology/mesh_catalog.hpp"

using namespace switchsim;
using namespace switchsim::sim;

namespace {

constexpr double us = 1e-6;
constexpr std::size_t kNvlink = static_cast<std::size_t>(topology::LinkKind::nvlink);
constexpr std::size_t kNic = static_cast<std::size_t>(topology::LinkKind::nic);

// `nodes` x `gpus` GPUs with the H100 catalog links (or ideal NVLink: efficiency 1, no latency).
topology::Mesh cluster(int nodes, int gpus, bool ideal = false) {
  const auto& h100 = topology::device_spec("h100");
  topology::GpuClusterSpec spec;
  spec.nodes = nodes;
  spec.gpus_per_node = gpus;
  spec.fabric = topology::FabricKind::fat_tree;
  spec.gpus_per_leaf = 64;
  spec.nvlink = h100.link(topology::LinkKind::nvlink);
  spec.nic = h100.link(topology::LinkKind::nic);
  spec.fabric_port = h100.link(topology::LinkKind::fabric);
  if (ideal) spec.nvlink = {spec.nvlink.bandwidth_Bps, 0.0, 1.0};
  spec.device_kind = "h100";
  spec.switch_reduction = true;
  spec.nvls_efficiency = h100.nvls_efficiency;
  return topology::build_gpu_cluster("test-cluster", spec);
}

double nvlink_capacity(const topology::Mesh& mesh) {
  for (const auto& l : mesh.topology.links()) {
    if (l.kind == topology::LinkKind::nvlink) return l.bandwidth_Bps * l.efficiency;
  }
  FAIL("no NVLink");
  return 0.0;
}

CollectiveRequest all_reduce(double bytes, CollectiveAlgorithm algorithm, ProtocolChoice protocol) {
  CollectiveRequest r;
  r.op = CollectiveOp::all_reduce;
  r.algorithm = algorithm;
  r.bytes_per_device = bytes;
  r.network.protocol = protocol;
  return r;
}

// Ring all-reduce over n GPUs of one NVSwitch node under protocol p: every
// step each uplink and downlink carries one flow of S/n payload, S/(n e_p)
// wire bytes, at capacity c, then the step latency L_p; launch once:
//     T = base_p + 2(n-1) (L_p + S / (n e_p c)).
double ring_closed_form(NcclProtocol p, double S, int n, double c) {
  return nccl_base_latency_s(NcclAlgorithm::ring, p) +
         2.0 * (n - 1) * (nccl_nvlink_latency_s(NcclAlgorithm::ring, p) + S / n / (wire_efficiency(p) * c));
}

}  // namespace

TEST_CASE("protocols: NCCL's latency constants and wire formats", "[sim][protocol]") {
  // NVIDIA/nccl v2.30.7 src/graph/tuning.cc; src/include/device.h line formats.
  CHECK(wire_efficiency(NcclProtocol::ll) == 0.5);
  CHECK(wire_efficiency(NcclProtocol::ll128) == 120.0 / 128.0);
  CHECK(wire_efficiency(NcclProtocol::simple) == 1.0);
  // One node: launch = baseLat, NVLink step = hwLat[NVLINK].
  auto c = nccl_step_cost(NcclAlgorithm::ring, NcclProtocol::ll, 1, 8);
  CHECK(c.launch_s == Approx(6.6 * us));
  CHECK(c.latency_s[kNvlink] == Approx(0.6 * us));
  c = nccl_step_cost(NcclAlgorithm::tree, NcclProtocol::ll128, 1, 8);
  CHECK(c.launch_s == Approx(14.0 * us));
  CHECK(c.latency_s[kNvlink] == Approx(1.25 * us));
  // Several nodes: network steps hwLat[NET]; a ring's NVLink step costs at
  // least the net post overhead (1 us; 3 us for Simple).
  c = nccl_step_cost(NcclAlgorithm::ring, NcclProtocol::ll, 2, 8);
  CHECK(c.latency_s[kNvlink] == Approx(1.0 * us));
  CHECK(c.latency_s[kNic] == Approx(2.7 * us));
  c = nccl_step_cost(NcclAlgorithm::ring, NcclProtocol::simple, 2, 8);
  CHECK(c.latency_s[kNvlink] == Approx(3.4 * us));  // max(3.4, 3 x 1)
  CHECK(c.latency_s[kNic] == Approx(14.0 * us));
  c = nccl_step_cost(NcclAlgorithm::tree, NcclProtocol::ll, 4, 8);
  CHECK(c.latency_s[kNvlink] == Approx(0.6 * us));  // trees: no net-overhead floor
  CHECK(c.latency_s[kNic] == Approx(5.0 * us));
  // One GPU per node: the tree's network latency, as NCCL does.
  c = nccl_step_cost(NcclAlgorithm::ring, NcclProtocol::ll128, 4, 1);
  CHECK(c.latency_s[kNic] == Approx(8.5 * us));
  // NVLS: a flat 25 us inside the node; NVLS_TREE adds 20.9 us per network step.
  c = nccl_step_cost(NcclAlgorithm::nvls, NcclProtocol::simple, 1, 8);
  CHECK(c.launch_s == Approx(25.0 * us));
  CHECK(c.latency_s[kNvlink] == 0.0);
  c = nccl_step_cost(NcclAlgorithm::nvls_tree, NcclProtocol::simple, 4, 8);
  CHECK(c.launch_s == Approx(25.0 * us));
  CHECK(c.latency_s[kNic] == Approx(20.9 * us));
  // Parsing.
  CHECK(parse_protocol_choice("ll128") == ProtocolChoice::ll128);
  CHECK(parse_protocol_choice("automatic") == ProtocolChoice::automatic);
  try {
    (void)parse_protocol_choice("fast");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.field() == "--protocol");
  }
}

TEST_CASE("protocols: step costs in the network (launch, step latency, no posting clock)", "[sim][protocol]") {
  // Star of 3 at 10 GB/s, hop latency 1 us (ignored under step costs).
  auto net = testing::make_star(3, 10e9, 1e-6, topology::LinkKind::nvlink);
  StepCost cost;
  cost.launch_s = 5 * us;
  cost.latency_s[kNvlink] = 2 * us;
  // Two messages from 0 share its uplink (5 GB/s each): both drain at 2 x 1e6 / 1e10,
  // then the step latency; the launch delays their issue; no per-message posting in sequence.
  TransferGraph g;
  g.add(0, 1, 1e6);
  g.add(0, 2, 1e6);
  g.set_step_cost(cost);
  const auto t = simulate_transfers(g, net.links, net.router);
  CHECK(t.issue_s[0] == Approx(5 * us).epsilon(1e-12));
  CHECK(t.done_s[0] == Approx(5 * us + 2e-4 + 2 * us).epsilon(1e-12));
  CHECK(t.done_s[1] == Approx(t.done_s[0]).epsilon(1e-12));
  // The plan estimate sees the same fixed costs.
  TransferGraph one;
  one.add(0, 1, 1e6);
  one.set_step_cost(cost);
  const auto e = estimate_transfers(one, net.links, net.router, NetworkOptions{});
  CHECK(e.critical_path_s == Approx(5 * us + 1e-4 + 2 * us).epsilon(1e-12));
}

TEST_CASE("protocols: pipelined chunks pay the step latency once per stage", "[sim][protocol]") {
  // Two stages 0 -> 1 -> 2 (each transfer crosses 2 star links at 10 GB/s), K chunks
  // of d = 1e6 / 1e10 = 100 us. With step costs the chunks after the first are
  // streamed: T = (K + 1) d + 2 L. With the network's per-message costs every
  // chunk pays them: T = (K + 1)(d + o + 2h) (posting in sequence does not bind).
  auto net = testing::make_star(3, 10e9, 1e-6, topology::LinkKind::nvlink);
  TransferGraph tmpl;
  const TransferId a = tmpl.add(0, 1, 1e6);
  const std::vector<TransferId> deps = {a};
  tmpl.add(1, 2, 1e6, deps);
  const int K = 4;
  const double d = 1e-4;
  TransferGraph g;
  append_pipelined(tmpl, K, g);
  CHECK_FALSE(g.streamed(0));
  CHECK(g.streamed(2));
  const double o = kDefaultMessageOverhead_s[kNvlink];
  CHECK(simulate_transfers(g, net.links, net.router).makespan_s == Approx((K + 1) * (d + o + 2e-6)).epsilon(1e-12));
  StepCost cost;
  cost.latency_s[kNvlink] = 3 * us;
  g.set_step_cost(cost);
  CHECK(simulate_transfers(g, net.links, net.router).makespan_s == Approx((K + 1) * d + 2 * 3 * us).epsilon(1e-12));
}

TEST_CASE("protocols: ring all-reduce on 4 GPUs = base + 2(n-1)(L_p + S/(n e_p c)) per protocol",
          "[sim][protocol][ring]") {
  const auto mesh = cluster(1, 4);
  const double c = nvlink_capacity(mesh);  // 450 GB/s x 0.824 (NCCL's SM90_NVLINK_BW / line rate)
  const int n = 4;
  // Sizes where LL, LL128 and Simple win (crossovers from the closed forms:
  // LL = LL128 at S/n ~ 1.0 MB, LL128 = Simple at S/n ~ 3.2 MB on H100 NVLink).
  const std::map<double, NcclProtocol> winner = {
      {65536.0, NcclProtocol::ll}, {8.0 * 1048576, NcclProtocol::ll128}, {256.0 * 1048576, NcclProtocol::simple}};
  for (const auto& [S, best] : winner) {
    double fastest = std::numeric_limits<double>::infinity();
    for (const auto& [p, choice] : {std::pair{NcclProtocol::ll, ProtocolChoice::ll},
                                   std::pair{NcclProtocol::ll128, ProtocolChoice::ll128},
                                   std::pair{NcclProtocol::simple, ProtocolChoice::simple}}) {
      const auto r = simulate_collective(mesh, all_reduce(S, CollectiveAlgorithm::ring, choice));
      INFO("S = " << S << " protocol " << to_string(p));
      REQUIRE(r.protocol);
      CHECK(*r.protocol == p);
      CHECK(r.time_s == Approx(ring_closed_form(p, S, n, c)).epsilon(1e-9));
      fastest = std::min(fastest, r.time_s);
    }
    // automatic takes the fastest, as NCCL takes the smallest predicted time.
    const auto pick = simulate_collective(mesh, all_reduce(S, CollectiveAlgorithm::ring, ProtocolChoice::automatic));
    INFO("S = " << S);
    CHECK(*pick.protocol == best);
    CHECK(pick.time_s == Approx(fastest).epsilon(1e-12));
    CHECK(pick.time_s == Approx(ring_closed_form(best, S, n, c)).epsilon(1e-9));
  }
}

TEST_CASE("protocols: the choice moves LL -> LL128 -> Simple with size and busbw saturates", "[sim][protocol]") {
  const auto mesh = topology::build_mesh("dgx-h100-1");
  const double c = nvlink_capacity(mesh);
  // A ring: busbw rises with size and tends to the wire-efficient NVLink rate c.
  int last = -1;
  double last_busbw = 0.0;
  for (double S = 8; S <= 8.0 * 1073741824; S *= 4) {
    const auto r = simulate_collective(mesh, all_reduce(S, CollectiveAlgorithm::ring, ProtocolChoice::automatic));
    INFO("S = " << S << " protocol " << to_string(*r.protocol));
    CHECK(static_cast<int>(*r.protocol) >= last);  // LL, LL128, Simple in that order, never back
    CHECK(r.busbw_Bps > last_busbw);
    CHECK(r.busbw_Bps < c);
    last = static_cast<int>(*r.protocol);
    last_busbw = r.busbw_Bps;
  }
  CHECK(last == static_cast<int>(NcclProtocol::simple));
  CHECK(last_busbw > 0.998 * c);  // 56 us of latency in 40 ms at 8 GiB
  // automatic (ring, tree or NVLS): busbw rises with size; at 8 GiB NVLS, near its
  // bound 2(m-1)/(m+1) e_nvls c (the pipeline fill of 32 chunks costs a few percent).
  last_busbw = 0.0;
  CollectiveResult r;
  for (double S = 8; S <= 8.0 * 1073741824; S *= 8) {
    r = simulate_collective(mesh, all_reduce(S, CollectiveAlgorithm::automatic, ProtocolChoice::automatic));
    INFO("S = " << S << " " << to_string(r.algorithm) << " " << to_string(*r.protocol));
    CHECK(r.busbw_Bps > last_busbw);
    last_busbw = r.busbw_Bps;
  }
  CHECK(r.algorithm == CollectiveAlgorithm::nvls);
  const double bound = 2.0 * 7 / 9 * mesh.structure.nvls_efficiency * c;
  CHECK(r.busbw_Bps <= bound);
  CHECK(r.busbw_Bps > 0.95 * bound);
  // Small messages: latency-bound at NCCL's LL ring latency, 6.6 + 14 x 0.6 us.
  const auto tiny = simulate_collective(mesh, all_reduce(8, CollectiveAlgorithm::automatic, ProtocolChoice::automatic));
  CHECK(*tiny.protocol == NcclProtocol::ll);
  CHECK(tiny.time_s == Approx((6.6 + 14 * 0.6) * us).epsilon(1e-3));
}

TEST_CASE("protocols: `none` with ideal links is the line-rate model", "[sim][protocol]") {
  // NVLink at efficiency 1 with no hop latency and no per-message overhead: a
  // ring all-reduce takes exactly 2(n-1) S / (n B); NCCL's protocols add their
  // latencies (and LL / LL128 their wire overhead) on top.
  const auto mesh = cluster(1, 4, /*ideal=*/true);
  const double B = nvlink_capacity(mesh);
  const double S = 64.0 * 1048576;
  auto ideal = all_reduce(S, CollectiveAlgorithm::ring, ProtocolChoice::none);
  ideal.network.message_overhead_s.fill(0.0);
  const auto r = simulate_collective(mesh, ideal);
  CHECK_FALSE(r.protocol);
  CHECK(r.time_s == Approx(6.0 * S / 4 / B).epsilon(1e-12));
  const auto nccl = simulate_collective(mesh, all_reduce(S, CollectiveAlgorithm::ring, ProtocolChoice::simple));
  CHECK(nccl.time_s == Approx(r.time_s + (8.4 + 6 * 3.4) * us).epsilon(1e-9));
  // TPU meshes have no NCCL: the protocol setting changes nothing there.
  const auto tpu = topology::build_mesh("tpuv4-8x1x1");
  CollectiveRequest a = all_reduce(S, CollectiveAlgorithm::bidir_ring, ProtocolChoice::automatic);
  CollectiveRequest b = all_reduce(S, CollectiveAlgorithm::bidir_ring, ProtocolChoice::none);
  const auto ta = simulate_collective(tpu, a);
  CHECK_FALSE(ta.protocol);
  CHECK(ta.time_s == simulate_collective(tpu, b).time_s);
}

TEST_CASE("protocols: NVLS on several nodes runs NCCL's double tree per rail", "[sim][protocol][nvls]") {
  // 4 nodes x 2 GPUs. Per rail the trees are 0 <- 2 <- {1, 3} and 3 <- 1 <- {0, 2}
  // (nccl_tree_parents), each with half of the S/m shard: node 2's GPU sends
  // 3 halves in tree 0 (up once, down twice) and 1 in tree 1: 2 S/m over its
  // NIC, where a ring over the rail would send 2(N-1)/N S/m = 1.5 S/m.
  const auto mesh = cluster(4, 2);
  const double S = 1048576.0;
  const double m = 2.0;
  CollectiveRequest req = all_reduce(S, CollectiveAlgorithm::nvls, ProtocolChoice::simple);
  const CollectivePlan plan = plan_collective(mesh, req, nullptr);
  std::map<topology::VertexId, double> sent_off_node;
  for (TransferId t = 0; t < plan.transfers.size(); ++t) {
    const auto s = plan.transfers.src(t);
    const auto d = plan.transfers.dst(t);
    if (s < mesh.topology.num_devices() && d < mesh.topology.num_devices() && mesh.node_of(s) != mesh.node_of(d)) {
      sent_off_node[s] += plan.transfers.bytes(t);
    }
  }
  double busiest = 0.0;
  for (const auto& [gpu, bytes] : sent_off_node) busiest = std::max(busiest, bytes);
  CHECK(busiest == Approx(2.0 * S / m).epsilon(1e-12));
  CHECK(sent_off_node.at(0) == Approx(S / m).epsilon(1e-12));  // node 0: root of tree 0, leaf of tree 1
  // NVLS runs the Simple protocol only.
  CHECK_THROWS_AS(plan_collective(mesh, all_reduce(S, CollectiveAlgorithm::nvls, ProtocolChoice::ll), nullptr),
                  InputError);
}
