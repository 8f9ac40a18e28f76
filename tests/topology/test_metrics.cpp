#include <catch2/catch.hpp>

#include "topology/mesh_catalog.hpp"
#include "topology/metrics.hpp"
#include "topology/torus.hpp"
#include "helpers.hpp"

using namespace switchsim::topology;
using switchsim::topology::test::make_torus;

TEST_CASE("ring of 6: diameter, average hops, bisection", "[metrics]") {
  const Mesh m = make_torus({6}, {true});
  const MeshMetrics x = compute_metrics(m);
  // From any device the others are 1, 2, 3, 2, 1 hops away: mean 9/5, max 3.
  CHECK(x.hops.diameter_hops == 3);
  CHECK(x.hops.average_hops == Approx(9.0 / 5.0));
  // A cut of a ring crosses 2 links: 2 x 100 GB/s.
  CHECK(x.bisection_bandwidth_Bps == Approx(200e9));
  CHECK(bisection_max_flow_Bps(m) == Approx(200e9));
}

TEST_CASE("4x4 torus: diameter 4, average 32/15, bisection 8 links", "[metrics]") {
  const Mesh m = make_torus({4, 4}, {true, true});
  const MeshMetrics x = compute_metrics(m);
  // Per ring the distances from a node are 0,1,2,1 (sum 4); over both dims the
  // sum to the 15 others is 4 * 4 + 4 * 4 = 32.
  CHECK(x.devices == 16);
  CHECK(x.hops.diameter_hops == 4);
  CHECK(x.hops.average_hops == Approx(32.0 / 15.0));
  // Halving one dimension cuts 4 rings twice: 8 links x 100 GB/s.
  CHECK(x.bisection_bandwidth_Bps == Approx(800e9));
}

TEST_CASE("tpuv3-4x4 counts the on-chip hops", "[metrics]") {
  const MeshMetrics x = compute_metrics(build_mesh("tpuv3-4x4"));
  CHECK(x.devices == 32);
  CHECK(x.switches == 16);
  CHECK(x.links == 128);
  // ICI diameter 2 + 2 = 4, plus up and down the chip router: 6.
  CHECK(x.hops.diameter_hops == 6);
  // N = 32 devices, mean ICI distance over chip pairs m = 2: 32 * 2 / 31 + 2.
  CHECK(x.hops.average_hops == Approx(64.0 / 31.0 + 2.0));
  CHECK(x.bisection_bandwidth_Bps == Approx(800e9));
}

TEST_CASE("tpuv3-32x32: 2048 devices and 6.4 TB/s bisection", "[metrics]") {
  const MeshMetrics x = compute_metrics(build_mesh("tpuv3-32x32"));
  CHECK(x.devices == 2048);
  // 32 rings cross the cut twice: 64 links x 100 GB/s.
  CHECK(x.bisection_bandwidth_Bps == Approx(6.4e12));
  CHECK(x.hops.diameter_hops == 16 + 16 + 2);
}

TEST_CASE("closed forms agree with routed paths and max-flow", "[metrics]") {
  std::vector<Mesh> meshes;
  meshes.push_back(make_torus({5}, {true}));
  meshes.push_back(make_torus({4, 6}, {true, false}));
  meshes.push_back(make_torus({3, 2, 4}, {false, false, true}, 2));
  meshes.push_back(make_torus({1}, {false}, 2));
  meshes.push_back(build_mesh("tpuv3-4x4"));
  meshes.push_back(build_mesh("tpuv3-8x8"));
  meshes.push_back(build_mesh("tpuv4-4x4x4"));
  for (const Mesh& m : meshes) {
    INFO("dims " << m.structure.dims.size() << " devices " << m.topology.num_devices());
    const HopStats closed = torus_hop_stats(m.structure);
    const HopStats routed = routed_hop_stats(m);
    CHECK(closed.diameter_hops == routed.diameter_hops);
    CHECK(closed.average_hops == Approx(routed.average_hops).epsilon(1e-12));
    CHECK(torus_bisection_Bps(m) == Approx(bisection_max_flow_Bps(m)).epsilon(1e-12));
  }
}

TEST_CASE("single NVSwitch node: every pair 2 hops, bisection 4 NVLinks", "[metrics]") {
  const MeshMetrics x = compute_metrics(build_mesh("dgx-h100-1"));
  CHECK(x.devices == 8);
  CHECK(x.switches == 1);
  CHECK(x.links == 16);
  CHECK(x.hops.diameter_hops == 2);
  CHECK(x.hops.average_hops == Approx(2.0));
  // GPUs 0-3 against 4-7: 4 NVLink uplinks of 450 GB/s.
  CHECK(x.bisection_bandwidth_Bps == Approx(4 * 450e9));
  CHECK(x.bisection_method == "max_flow");
}

TEST_CASE("two-node cluster: bisection is one node's NICs", "[metrics]") {
  const MeshMetrics x = compute_metrics(build_mesh("dgx-h100-2"));
  CHECK(x.devices == 16);
  CHECK(x.hops.diameter_hops == 2);  // NVSwitch inside a node, the shared leaf across
  CHECK(x.hops.average_hops == Approx(2.0));
  // Node 0 against node 1: 8 NICs x 50 GB/s.
  CHECK(x.bisection_bandwidth_Bps == Approx(8 * 50e9));
}

TEST_CASE("four-node fat-tree: hops through spines, non-blocking bisection", "[metrics]") {
  const MeshMetrics x = compute_metrics(build_mesh("dgx-h100-4"));
  // From a GPU: 7 same-node (2 hops), 8 same-leaf (2 hops), 16 other-leaf (4 hops): 94 / 31.
  CHECK(x.hops.diameter_hops == 4);
  CHECK(x.hops.average_hops == Approx(94.0 / 31.0));
  // Nodes 0,1 (leaf 0) against 2,3 (leaf 1): 16 NICs x 50 GB/s = 800 GB/s.
  CHECK(x.bisection_bandwidth_Bps == Approx(800e9));
  const MeshMetrics r = compute_metrics(build_mesh("dgx-h100-4-rail"));
  CHECK(r.bisection_bandwidth_Bps == Approx(800e9));  // rails are non-blocking too
}
