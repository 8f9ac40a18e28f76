// Collectives as NCCL and XLA run them: channels over every NIC, hierarchical,
// double binary tree, in-switch reduction (NVLS), bidirectional rings on a
// torus, and what `automatic` picks. Closed forms are written out per case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/errors.hpp"
#include "sim/collective.hpp"
#include "tests/sim/collective_request.hpp"
#include "sim/gpu_collectives.hpp"
#include "sim/pipeline.hpp"
#include "topology/gpu_cluster.hpp"
#include "topology/mesh_catalog.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::sim::testing::request;

namespace {

// The first out-link of vertex v of the given kind.
const topology::Link& link_of(const topology::Mesh& mesh, topology::VertexId v, topology::LinkKind kind) {
  for (const auto l : mesh.topology.out_links(v)) {
    if (mesh.topology.link(l).kind == kind) return mesh.topology.link(l);
  }
  FAIL("no such link");
  return mesh.topology.link(0);
}
double capacity(const topology::Link& l) { return l.bandwidth_Bps * l.efficiency; }

// A small GPU cluster with the H100 catalog figures: `nodes` x `gpus` on one leaf.
topology::Mesh small_cluster(int nodes, int gpus, bool switch_reduction) {
  const auto h100 = topology::build_mesh("dgx-h100-2");
  topology::GpuClusterSpec spec;
  spec.nodes = nodes;
  spec.gpus_per_node = gpus;
  spec.fabric = topology::FabricKind::fat_tree;
  spec.gpus_per_leaf = 64;
  const auto& nv = link_of(h100, 0, topology::LinkKind::nvlink);
  const auto& nic = link_of(h100, 0, topology::LinkKind::nic);
  spec.nvlink = {nv.bandwidth_Bps, nv.latency_s, nv.efficiency};
  spec.nic = {nic.bandwidth_Bps, nic.latency_s, nic.efficiency};
  spec.fabric_port = spec.nic;
  spec.device_kind = "h100";
  spec.switch_reduction = switch_reduction;
  return topology::build_gpu_cluster("test-cluster", spec);
}

// Latency of a message GPU a -> GPU b (overhead + hops): path_latency_s of its route.
double message_latency(const topology::Mesh& mesh, topology::VertexId a, topology::VertexId b) {
  return path_latency_s(mesh.topology.links(), mesh.router->paths(a, b)[0], NetworkOptions{});
}
}  // namespace

TEST_CASE("nccl: ring channels use every NIC of a node", "[sim][collective][nccl]") {
  const auto mesh = topology::build_mesh("dgx-h100-2");  // 2 nodes x 8 GPUs, one 400 Gb/s NIC per GPU
  const double nic = capacity(link_of(mesh, 0, topology::LinkKind::nic));
  const double S = 1073741824.0;
  const auto one = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::ring));
  const auto many = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::ring_channels));
  // One ring crosses each node boundary through one NIC: bus bandwidth <= one NIC.
  CHECK(one.busbw_Bps <= nic * 1.0001);
  // 8 channels, each leaving a node through its own NIC: a step moves S/(8n)
  // over every NIC at once, T = 2(n-1)(a + S/(8 n c_nic)), bus bandwidth -> 8 c_nic.
  const double a = message_latency(mesh, 7, 8);
  const double n = 16.0;
  const double expected = 2 * (n - 1) * (a + S / (8 * n * nic));
  CHECK(many.time_s == Approx(expected).epsilon(0.02));
  CHECK(many.busbw_Bps > 0.95 * 8 * nic);
  CHECK(many.busbw_Bps <= 8 * nic * 1.0001);
  // Every GPU sends to the other node in some channel (its NIC carries traffic).
  CollectiveRequest traced = request(CollectiveOp::all_reduce, 16.0 * 1048576, CollectiveAlgorithm::ring_channels);
  traced.record_trace = true;
  std::set<topology::VertexId> crossing;
  for (const auto& t : simulate_collective(mesh, traced).transfers) {
    if (mesh.node_of(t.src) != mesh.node_of(t.dst)) crossing.insert(t.src);
  }
  CHECK(crossing.size() == 16);
  // All-gather and reduce-scatter over the same channels: bus bandwidth -> 8 c_nic too.
  for (auto op : {CollectiveOp::all_gather, CollectiveOp::reduce_scatter}) {
    const auto r = simulate_collective(mesh, request(op, S, CollectiveAlgorithm::ring_channels));
    CHECK(r.busbw_Bps > 0.95 * 8 * nic);
    CHECK(simulate_collective(mesh, request(op, S, CollectiveAlgorithm::ring)).busbw_Bps <= nic * 1.0001);
  }
}

TEST_CASE("nccl: hierarchical all-reduce = NVLink ring, rail ring, NVLink ring", "[sim][collective][nccl]") {
  // 2 nodes x 2 GPUs; S small enough for one pipeline chunk (largest transfer S/2 <= 512 KiB).
  const auto mesh = small_cluster(2, 2, false);
  const double S = 512.0 * 1024;
  REQUIRE(pipeline_chunks(S / 2, 8) == 1);
  const double cv = capacity(link_of(mesh, 0, topology::LinkKind::nvlink));
  const double cn = capacity(link_of(mesh, 0, topology::LinkKind::nic));
  const double av = message_latency(mesh, 0, 1);
  const double an = message_latency(mesh, 0, 2);
  // m = 2, N = 2: reduce-scatter in the node (1 step of S/2 over NVLink),
  // all-reduce of the S/2 shard per rail (2 steps of S/4 over the NICs),
  // all-gather in the node (1 step of S/2): every step's links are disjoint.
  const double expected = 2 * (av + S / 2 / cv) + 2 * (an + S / 4 / cn);
  const auto r = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::hierarchical));
  CHECK(r.algorithm == CollectiveAlgorithm::hierarchical);
  CHECK(r.time_s == Approx(expected).epsilon(1e-9));
  // Reduce-scatter: the node's step, then one rail step of S/4.
  const auto rs = simulate_collective(mesh, request(CollectiveOp::reduce_scatter, S, CollectiveAlgorithm::hierarchical));
  CHECK(rs.time_s == Approx((av + S / 2 / cv) + (an + S / 4 / cn)).epsilon(1e-9));
  // All-gather: one rail step of S/4, then the node's step of S/2.
  const auto ag = simulate_collective(mesh, request(CollectiveOp::all_gather, S, CollectiveAlgorithm::hierarchical));
  CHECK(ag.time_s == Approx((an + S / 4 / cn) + (av + S / 2 / cv)).epsilon(1e-9));
}

TEST_CASE("nccl: double binary tree matches NCCL's trees", "[sim][collective][nccl]") {
  // ncclGetBtree on 14 ranks (NCCL's trees.cc illustration): 0 - 8 - {4, 12},
  // 4 - {2, 6}, 12 - {10, 13}, 2 - {1, 3}, 6 - {5, 7}, 10 - {9, 11}.
  const std::vector<int> t0 = nccl_tree_parents(14, 0);
  const std::vector<int> expect0 = {-1, 2, 4, 2, 8, 6, 4, 6, 0, 10, 12, 10, 8, 12};
  CHECK(t0 == expect0);
  // Even count: the second tree is the mirror (rank r -> 13 - r).
  const std::vector<int> t1 = nccl_tree_parents(14, 1);
  for (int r = 0; r < 14; ++r) CHECK(t1[static_cast<std::size_t>(r)] == (t0[static_cast<std::size_t>(13 - r)] < 0 ? -1 : 13 - t0[static_cast<std::size_t>(13 - r)]));
  // Odd count: a shift by one; both are trees (one root, no cycles).
  for (int n : {5, 7, 14}) {
    for (int tree : {0, 1}) {
      const auto p = nccl_tree_parents(n, tree);
      CHECK(std::count(p.begin(), p.end(), -1) == 1);
      for (int r = 0; r < n; ++r) {
        int x = r, hops = 0;
        while (x >= 0 && hops <= n) x = p[static_cast<std::size_t>(x)], ++hops;
        CHECK(hops <= n);
      }
    }
  }
}

TEST_CASE("nccl: double-tree all-reduce on 4 nodes of one GPU = 3 S/c + 4 a", "[sim][collective][nccl]") {
  // 4 single-GPU nodes on one leaf: the trees are 0 <- 2 <- {1, 3} and its
  // mirror 3 <- 1 <- {2, 0}, each carrying S/2 (one pipeline chunk).
  const auto mesh = small_cluster(4, 1, false);
  const double S = 1048576.0;
  const double c = capacity(link_of(mesh, 0, topology::LinkKind::nic));
  const double a = message_latency(mesh, 0, 1);
  // Reduce: GPU 2 receives from 1 and 3 (tree 0) while GPU 1 receives from 2 and 0
  // (tree 1): two S/2 flows per downlink, S/c. Then 2 -> 0 and 1 -> 3 (S/2c).
  // Broadcast: 0 -> 2 and 3 -> 1 (S/2c), then GPU 2 sends to 1 and 3 while GPU 1
  // sends to 2 and 0: two S/2 flows per uplink, S/c. Four message latencies.
  const double expected = 3 * S / c + 4 * a;
  const auto r = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::double_tree));
  CHECK(r.time_s == Approx(expected).epsilon(1e-9));
}

TEST_CASE("nccl: NVLS moves about S over each NVLink instead of 2(n-1)/n S", "[sim][collective][nccl]") {
  const auto mesh = topology::build_mesh("dgx-h100-1");
  REQUIRE(mesh.structure.switch_reduction);
  // The NVLS data path reaches e of the NVLink capacity (devices.json nvls_efficiency, NCCL's 0.85 on Hopper).
  const double e = mesh.structure.nvls_efficiency;
  CHECK(e == 0.85);
  const double c = e * capacity(link_of(mesh, 0, topology::LinkKind::nvlink));
  const double a1 = path_latency_s(mesh.topology.links(), mesh.router->paths(0, mesh.node_switch(0))[0], NetworkOptions{});  // GPU -> NVSwitch
  const double m = 8.0;
  // One chunk (the largest transfer, S / e = 301 KiB, fits one 512 KiB slot):
  // up S, down S/m, up S/m, down S, one after the other.
  const double small = 256.0 * 1024;
  const auto r1 = simulate_collective(mesh, request(CollectiveOp::all_reduce, small, CollectiveAlgorithm::nvls));
  CHECK(r1.time_s == Approx(2 * small * (1 + 1 / m) / c + 4 * a1).epsilon(1e-9));
  // Pipelined (1 GiB: 32 chunks): up and down links work at once, so the time
  // approaches S (1 + 1/m) / c; the fill adds about one chunk's S/(32 c).
  const double S = 1073741824.0;
  const auto r = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::nvls));
  const double bound = S * (1 + 1 / m) / c;
  CHECK(r.time_s >= bound);
  CHECK(r.time_s <= bound * (1 + 2.0 / kMaxPipelineChunks) + 100 * a1);
  const auto ring = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::ring));
  CHECK(r.busbw_Bps > 1.25 * ring.busbw_Bps);  // 2(m-1)/(m+1) e c = 1.32 c vs the ring's c
  // A100's NVSwitch does not reduce (devices.json): nvls is an input error.
  const auto a100 = topology::build_mesh("dgx-a100-1");
  CHECK_FALSE(a100.structure.switch_reduction);
  CHECK_THROWS_AS(simulate_collective(a100, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::nvls)), InputError);
  CHECK_THROWS_AS(simulate_collective(mesh, request(CollectiveOp::all_gather, S, CollectiveAlgorithm::nvls)), InputError);
}

TEST_CASE("nccl: bidirectional ring on a torus ring is ~2x the one-direction ring", "[sim][collective][torus]") {
  const auto mesh = topology::build_mesh("tpuv4-8x1x1");  // 8 chips in a wrapped ring
  const double S = 1073741824.0;
  for (auto op : {CollectiveOp::all_reduce, CollectiveOp::all_gather, CollectiveOp::reduce_scatter}) {
    const auto one = simulate_collective(mesh, request(op, S, CollectiveAlgorithm::ring));
    const auto two = simulate_collective(mesh, request(op, S, CollectiveAlgorithm::bidir_ring));
    // Same steps and latencies, half the bytes per direction: ratio -> 2 for large S.
    CHECK(one.time_s / two.time_s > 1.99);
    CHECK(one.time_s / two.time_s <= 2.0);
    // automatic: per-dimension rings, which on one dimension are this bidirectional ring.
    const auto pick = simulate_collective(mesh, request(op, S));
    CHECK(pick.algorithm == CollectiveAlgorithm::torus_nd_bidir);
    CHECK(pick.time_s == Approx(two.time_s).epsilon(1e-12));
  }
}

TEST_CASE("torus: per-dimension bidirectional rings = closed form on a 4x4 torus", "[sim][collective][torus]") {
  const auto mesh = topology::build_mesh("tpuv4-4x4x1");  // 16 chips, both dimensions wrap
  const double c = capacity(link_of(mesh, 0, topology::LinkKind::ici));
  const double a = message_latency(mesh, 0, 1);  // one ICI hop
  const double S = 64.0 * 1048576;
  // Reduce-scatter along x (3 steps of S/4, half each way: S/8 per link), all-reduce
  // of the S/4 shard along y (6 steps of S/16: S/32 per link), all-gather along x.
  const double expected = 2 * 3 * (a + S / 8 / c) + 6 * (a + S / 32 / c);
  const auto r = simulate_collective(mesh, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::torus_nd_bidir));
  CHECK(r.time_s == Approx(expected).epsilon(1e-9));
  // On one dimension it is the bidirectional ring.
  const auto line = topology::build_mesh("tpuv4-8x1x1");
  CHECK(simulate_collective(line, request(CollectiveOp::all_gather, S, CollectiveAlgorithm::torus_nd_bidir)).time_s ==
        Approx(simulate_collective(line, request(CollectiveOp::all_gather, S, CollectiveAlgorithm::bidir_ring)).time_s)
            .epsilon(1e-12));
  // Reduce-scatter and all-gather: half of the all-reduce's phases each.
  const double half = 3 * (a + S / 8 / c) + 3 * (a + S / 32 / c);
  CHECK(simulate_collective(mesh, request(CollectiveOp::reduce_scatter, S, CollectiveAlgorithm::torus_nd_bidir)).time_s ==
        Approx(half).epsilon(1e-9));
  CHECK(simulate_collective(mesh, request(CollectiveOp::all_gather, S, CollectiveAlgorithm::torus_nd_bidir)).time_s ==
        Approx(half).epsilon(1e-9));
}

TEST_CASE("nccl: automatic picks per mesh, and its choice is the fastest simulated", "[sim][collective][nccl]") {
  // Torus product grid: bidirectional rings (XLA), two-level or per dimension,
  // the faster as simulated within 10%, and faster than the one-way torus-2d.
  for (const char* name : {"tpuv3-4x4", "tpuv4-4x4x4"}) {
    const auto torus = topology::build_mesh(name);
    for (double S : {65536.0, 64e6}) {
      const auto pick = simulate_collective(torus, request(CollectiveOp::all_reduce, S));
      CHECK((pick.algorithm == CollectiveAlgorithm::torus_2d_bidir ||
             pick.algorithm == CollectiveAlgorithm::torus_nd_bidir));
      const double best = std::min(
          simulate_collective(torus, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::torus_2d_bidir)).time_s,
          simulate_collective(torus, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::torus_nd_bidir)).time_s);
      INFO(name << " " << S << " picked " << to_string(pick.algorithm));
      CHECK(pick.time_s <= 1.10 * best);
      CHECK(pick.time_s <
            simulate_collective(torus, request(CollectiveOp::all_reduce, S, CollectiveAlgorithm::torus_2d)).time_s);
    }
  }
  // GPU clusters: all-gather over channels; all-reduce by the estimate. The
  // pick must be within 10% of the best candidate as simulated.
  const auto one = topology::build_mesh("dgx-h100-1");
  CHECK(simulate_collective(one, request(CollectiveOp::all_reduce, 1073741824.0)).algorithm == CollectiveAlgorithm::nvls);
  CHECK(simulate_collective(one, request(CollectiveOp::all_gather, 8e6)).algorithm == CollectiveAlgorithm::ring);
  const auto two = topology::build_mesh("dgx-h100-2");
  CHECK(simulate_collective(two, request(CollectiveOp::all_gather, 8e6)).algorithm == CollectiveAlgorithm::ring_channels);
  const auto a100 = topology::build_mesh("dgx-a100-2");
  for (const auto* mesh : {&two, &a100}) {
    for (double S : {65536.0, 8388608.0, 268435456.0}) {
      const auto pick = simulate_collective(*mesh, request(CollectiveOp::all_reduce, S));
      double best = 1e300;
      for (auto a : {CollectiveAlgorithm::ring_channels, CollectiveAlgorithm::double_tree,
                     CollectiveAlgorithm::hierarchical, CollectiveAlgorithm::nvls}) {
        if (a == CollectiveAlgorithm::nvls && !mesh->structure.switch_reduction) continue;
        best = std::min(best, simulate_collective(*mesh, request(CollectiveOp::all_reduce, S, a)).time_s);
      }
      INFO(mesh->name << " " << S << " picked " << to_string(pick.algorithm));
      CHECK(pick.time_s <= 1.10 * best);
    }
  }
}

TEST_CASE("nccl: new algorithms reject meshes and ops they do not fit", "[sim][collective][errors]") {
  const auto torus = topology::build_mesh("tpuv3-4x4");
  const auto gpus = topology::build_mesh("dgx-h100-2");
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_reduce, 1e6, CollectiveAlgorithm::ring_channels)),
                  InputError);
  CHECK_THROWS_AS(simulate_collective(torus, request(CollectiveOp::all_reduce, 1e6, CollectiveAlgorithm::double_tree)),
                  InputError);
  CHECK_THROWS_AS(simulate_collective(gpus, request(CollectiveOp::all_reduce, 1e6, CollectiveAlgorithm::torus_2d_bidir)),
                  InputError);
  CHECK_THROWS_AS(simulate_collective(gpus, request(CollectiveOp::all_to_all, 1e6, CollectiveAlgorithm::bidir_ring)),
                  InputError);
  auto uneven = request(CollectiveOp::all_reduce, 1e6, CollectiveAlgorithm::hierarchical);
  uneven.participants = {0, 1, 2, 8};
  CHECK_THROWS_AS(simulate_collective(gpus, uneven), InputError);
  uneven.algorithm = CollectiveAlgorithm::automatic;  // falls back to what fits
  CHECK(simulate_collective(gpus, uneven).time_s > 0.0);
  CHECK_THROWS_AS(simulate_collective(gpus, request(CollectiveOp::all_reduce, 1e6, CollectiveAlgorithm::torus_nd_bidir)),
                  InputError);
  for (const char* name : {"ring-channels", "bidir-ring", "torus-2d-bidir", "torus-nd-bidir", "double-tree", "nvls", "ring", "tree",
                           "torus-2d", "hierarchical", "auto", "automatic"}) {
    CHECK_NOTHROW(parse_collective_algorithm(name));
  }
}
