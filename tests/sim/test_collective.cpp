// simulate_collective on catalog meshes: closed forms, bounds, subsets, errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>

#include "common/errors.hpp"
#include "sim/collective.hpp"
#include "tests/sim/collective_request.hpp"
#include "sim/participants.hpp"
#include "topology/mesh_catalog.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::sim::testing::request;

namespace {
}  // namespace

TEST_CASE("collective: symmetric all-to-all on one NVSwitch node", "[sim][collective]") {
  const auto mesh = topology::build_mesh("dgx-h100-1");
  REQUIRE(mesh.topology.num_devices() == 8);
  // GPU 0's uplink to the NVSwitch: capacity c = bandwidth * efficiency, hop latency h.
  const auto& up = mesh.topology.link(mesh.topology.out_links(0)[0]);
  REQUIRE(up.kind == topology::LinkKind::nvlink);
  const double c = up.bandwidth_Bps * up.efficiency;
  // Each uplink and downlink carries 7 flows of S/8: all finish at 7/8 S / c,
  // then 2 hops of latency and the NVLink message overhead.
  const double S = 8.0 * 1048576;
  const double expected = 7.0 / 8.0 * S / c + 2 * up.latency_s + kDefaultMessageOverhead_s[2];
  const auto r = simulate_collective(mesh, request(CollectiveOp::all_to_all, S));
  CHECK(r.algorithm == CollectiveAlgorithm::direct);
  CHECK(r.flows == 56);
  CHECK(r.time_s == Approx(expected).epsilon(1e-12));
  // nccl-tests: algbw = S / t, busbw = algbw * 7/8.
  CHECK(r.algbw_Bps == Approx(S / expected));
  CHECK(r.busbw_Bps == Approx(S / expected * 7.0 / 8.0));
}

TEST_CASE("collective: ring all-reduce on one NVSwitch node = 2(n-1)(L + S/(n c))", "[sim][collective]") {
  const auto mesh = topology::build_mesh("dgx-h100-1");
  const auto& up = mesh.topology.link(mesh.topology.out_links(0)[0]);
  const double c = up.bandwidth_Bps * up.efficiency;
  const double L = 2 * up.latency_s + kDefaultMessageOverhead_s[2];
  const double S = 64.0 * 1048576;
  // n = 8: 14 steps, each one flow per link of S/8 bytes.
  const double expected = 14.0 * (L + S / 8.0 / c);
  // Explicit ring: `automatic` picks NVLS on H100 nodes (test_nccl_algorithms.cpp).
  const auto r = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::ring));
  CHECK(r.algorithm == CollectiveAlgorithm::ring);
  CHECK(r.time_s == Approx(expected).epsilon(1e-12));
  CHECK(r.busbw_Bps == Approx(S / expected * 2.0 * 7.0 / 8.0));
}

TEST_CASE("collective: torus all-to-all is never below its bisection bound", "[sim][collective]") {
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  const auto& topo = mesh.topology;
  const int n = topo.num_devices();
  REQUIRE(n == 32);
  // Half of a vertex: chip coordinate x0 < 2. Chip routers are found through
  // the on-chip link from each core.
  std::map<topology::VertexId, int> half;
  for (topology::VertexId d = 0; d < n; ++d) {
    half[d] = mesh.torus_coordinates(d)[0] < 2 ? 0 : 1;
    for (const auto l : topo.out_links(d)) half[topo.link(l).dst] = half[d];
  }
  double cut_Bps = 0.0;  // capacity from half 0 to half 1
  for (const auto& l : topo.links()) {
    if (half.at(l.src) == 0 && half.at(l.dst) == 1) cut_Bps += l.bandwidth_Bps * l.efficiency;
  }
  REQUIRE(cut_Bps > 0.0);
  const double S = 8.0 * 1048576;
  // Bytes that must cross the cut from half 0: 16 senders x 16 receivers x S/32.
  const double crossing = 16.0 * 16.0 * S / 32.0;
  const double bound = crossing / cut_Bps;
  for (auto a : {CollectiveAlgorithm::direct, CollectiveAlgorithm::torus_dims, CollectiveAlgorithm::pairwise}) {
    const auto r = simulate_collective(mesh, request(CollectiveOp::all_to_all, S, a));
    INFO(to_string(a));
    CHECK(r.time_s >= bound);
    CHECK(r.time_s <= 4 * bound);  // and not absurdly slow
  }
}

TEST_CASE("collective: congestion-unaware sharing is a lower bound", "[sim][collective]") {
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  // 64 MB: large enough that link sharing, not the posting of 31 messages per sender, sets the time.
  auto req = request(CollectiveOp::all_to_all, 64e6);
  const auto maxmin = simulate_collective(mesh, req);
  req.network.sharing = SharingKind::uncongested;
  const auto bound = simulate_collective(mesh, req);
  CHECK(bound.time_s < maxmin.time_s);
}

TEST_CASE("collective: participant subsets", "[sim][collective]") {
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  // Cores of chips x0 in {0,1}, x1 in {0..3}: a 2 x 2 x 4 product grid (core, x0, x1).
  std::vector<topology::VertexId> grid;
  for (topology::VertexId d = 0; d < 32; ++d) {
    if (mesh.torus_coordinates(d)[0] < 2) grid.push_back(d);
  }
  REQUIRE(grid.size() == 16);
  auto req = request(CollectiveOp::all_reduce, 1e6);
  req.participants = grid;
  const auto r = simulate_collective(mesh, req);
  CHECK((r.algorithm == CollectiveAlgorithm::torus_2d_bidir || r.algorithm == CollectiveAlgorithm::torus_nd_bidir));
  CHECK(r.devices == 16);
  CHECK(r.time_s > 0.0);
  req.op = CollectiveOp::all_to_all;
  req.algorithm = CollectiveAlgorithm::torus_dims;
  CHECK(simulate_collective(mesh, req).time_s > 0.0);
  // Not a product grid: torus-dims is an input error, ring still works.
  req.participants = {0, 1, 2, 7, 9};
  CHECK_THROWS_AS(simulate_collective(mesh, req), InputError);
  req.op = CollectiveOp::all_gather;
  req.algorithm = CollectiveAlgorithm::ring;
  CHECK(simulate_collective(mesh, req).devices == 5);
}

TEST_CASE("collective: hierarchical all-to-all on a GPU cluster", "[sim][collective]") {
  const auto mesh = topology::build_mesh("dgx-h100-2");
  const auto direct = simulate_collective(mesh, request(CollectiveOp::all_to_all, 8e6));
  const auto hier =
      simulate_collective(mesh, request(CollectiveOp::all_to_all, 8e6, CollectiveAlgorithm::hierarchical));
  CHECK(hier.algorithm == CollectiveAlgorithm::hierarchical);
  // Both move every inter-node byte over the NICs: neither beats the NIC bound
  // (each GPU sends 8 of its 16 shares to the other node).
  const auto& nic = mesh.topology.link(mesh.topology.out_links(0)[1]);
  INFO(topology::to_string(nic.kind));
  const double nic_c = nic.kind == topology::LinkKind::nic ? nic.bandwidth_Bps * nic.efficiency
                                                            : std::numeric_limits<double>::infinity();
  CHECK(direct.time_s >= 8e6 / 2 / nic_c);
  CHECK(hier.time_s >= 8e6 / 2 / nic_c);
}

TEST_CASE("collective: bad input is an InputError", "[sim][collective][errors]") {
  const auto torus = topology::build_mesh("tpuv3-4x4");
  const auto gpus = topology::build_mesh("dgx-h100-2");
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_to_all, 0.0)), InputError);
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_to_all, -5.0)), InputError);
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_to_all, std::nan(""))), InputError);
  CHECK_THROWS_AS(simulate_collective(gpus, request(CollectiveOp::all_to_all, 1e6, CollectiveAlgorithm::torus_dims)),
                  InputError);
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_to_all, 1e6, CollectiveAlgorithm::hierarchical)),
                  InputError);
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_reduce, 1e6, CollectiveAlgorithm::direct)),
                  InputError);
  auto req = request(CollectiveOp::all_to_all, 1e6);
  req.participants = {0, 1, 1};
  CHECK_THROWS_AS(simulate_collective(torus, req), InputError);
  req.participants = {0, 99};
  CHECK_THROWS_AS(simulate_collective(torus, req), InputError);
  CHECK_THROWS_AS(parse_collective_algorithm("bogus"), InputError);
  CHECK_THROWS_AS(parse_collective_op("all2all"), InputError);
}

TEST_CASE("participants: range syntax", "[sim][participants]") {
  CHECK(parse_participants("0-3, 8,10-11") == std::vector<topology::VertexId>{0, 1, 2, 3, 8, 10, 11});
  CHECK_THROWS_AS(parse_participants(""), InputError);
  CHECK_THROWS_AS(parse_participants("3-1"), InputError);
  CHECK_THROWS_AS(parse_participants("a"), InputError);
  CHECK_THROWS_AS(parse_participants("1,,2"), InputError);
}
