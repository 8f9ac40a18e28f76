#include <catch2/catch.hpp>

#include <thread>

#include "helpers.hpp"
#include "topology/gpu_cluster.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/shortest_path_router.hpp"

using namespace switchsim::topology;
using switchsim::topology::test::visited;

TEST_CASE("one DGX H100 node: 8 GPUs on one NVSwitch", "[gpu]") {
  const Mesh m = build_mesh("dgx-h100-1");
  CHECK(m.topology.num_devices() == 8);
  CHECK(m.topology.num_switches() == 1);
  CHECK(m.topology.num_links() == 16);  // 8 duplex NVLink pairs
  CHECK(m.structure.fabric == FabricKind::none);
  for (const Link& l : m.topology.links()) {
    CHECK(l.kind == LinkKind::nvlink);
    CHECK(l.bandwidth_Bps == 450e9);  // catalog: 900 GB/s bidirectional = 450 GB/s per direction
  }
  const auto ps = m.router->paths(0, 5);
  REQUIRE(ps.size() == 1);
  CHECK(visited(m.topology, ps[0]) == std::vector<VertexId>{0, 8, 5});
}

TEST_CASE("two DGX H100 nodes share one leaf: NVLink inside a node, NIC across", "[gpu]") {
  const Mesh m = build_mesh("dgx-h100-2");
  CHECK(m.topology.num_devices() == 16);
  // 2 NVSwitches + 1 leaf (16 GPU ports), no spine needed.
  CHECK(m.topology.num_switches() == 3);
  CHECK(m.topology.num_links() == 2 * (16 + 16));
  // Inside node 0: through nvswitch0 (vertex 16), not the leaf (slower NIC).
  const auto in = m.router->paths(1, 6);
  REQUIRE(in.size() == 1);
  CHECK(visited(m.topology, in[0]) == std::vector<VertexId>{1, 16, 6});
  // Across nodes: gpu0 -> leaf0 (vertex 18) -> gpu9; GPUs never forward.
  const auto across = m.router->paths(0, 9);
  REQUIRE(across.size() == 1);
  CHECK(visited(m.topology, across[0]) == std::vector<VertexId>{0, 18, 9});
  CHECK(m.topology.link(across[0][0]).kind == LinkKind::nic);
  CHECK(m.topology.link(across[0][0]).bandwidth_Bps == 50e9);  // 400 Gb/s
  CHECK(m.node_of(9) == 1);
}

TEST_CASE("fat-tree across leaves has one equal-cost path per spine", "[gpu][routing]") {
  const Mesh m = build_mesh("dgx-h100-4");
  // 32 GPUs, 4 NVSwitches, 2 leaves, 8 spines.
  CHECK(m.topology.num_switches() == 14);
  // NVLink 32 + NIC 32 + leaf-spine 2 x 8 duplex pairs.
  CHECK(m.topology.num_links() == 2 * (32 + 32 + 16));
  const auto ps = m.router->paths(0, 20);
  REQUIRE(ps.size() == 8);
  for (const Path& p : ps) {
    REQUIRE(p.size() == 4);
    CHECK(m.topology.link(p[0]).kind == LinkKind::nic);
    CHECK(m.topology.link(p[1]).kind == LinkKind::fabric);
    // Non-blocking: each leaf-spine bundle carries 16 GPUs x 50 GB/s / 8 spines = 100 GB/s.
    CHECK(m.topology.link(p[1]).bandwidth_Bps == Approx(100e9));
  }
  // The 8 paths go through 8 different spines.
  std::vector<VertexId> spines;
  for (const Path& p : ps) spines.push_back(m.topology.link(p[1]).dst);
  std::sort(spines.begin(), spines.end());
  CHECK(std::unique(spines.begin(), spines.end()) == spines.end());
}

TEST_CASE("the ECMP set is capped", "[gpu][routing]") {
  const Mesh m = build_mesh("dgx-h100-4");
  const auto capped = make_shortest_path_router(m.topology, false, 3);
  CHECK(capped->paths(0, 20).size() == 3);
  CHECK(capped->path_count(0, 20) == 3);
}

TEST_CASE("rail-optimized: same rail direct, other rails through a spine", "[gpu][routing]") {
  const Mesh m = build_mesh("dgx-h100-2-rail");
  CHECK(m.structure.fabric == FabricKind::rail_optimized);
  // 2 NVSwitches + 8 rails + 8 spines.
  CHECK(m.topology.num_switches() == 18);
  // GPU 0 of nodes 0 and 1 (devices 0 and 8) share rail 0: 2 hops.
  const auto same = m.router->paths(0, 8);
  REQUIRE(same.size() == 1);
  CHECK(same[0].size() == 2);
  // GPU 0 of node 0 to GPU 1 of node 1: rail 0 -> any of 8 spines -> rail 1.
  const auto other = m.router->paths(0, 9);
  CHECK(other.size() == 8);
  for (const Path& p : other) CHECK(p.size() == 4);
}

TEST_CASE("shortest-path router answers from several threads", "[gpu][routing]") {
  const Mesh m = build_mesh("dgx-h100-4");
  std::vector<std::thread> threads;
  std::vector<std::size_t> counts(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (VertexId s = 0; s < 32; ++s) {
        for (VertexId d = 0; d < 32; ++d) counts[static_cast<std::size_t>(t)] += m.router->paths(s, d).size();
      }
    });
  }
  for (auto& th : threads) th.join();
  // Per source: 7 same-node (1 path) + 8 same-leaf other node (1) + 16 other leaf (8) = 143; x 32 sources.
  CHECK(counts == std::vector<std::size_t>(4, 143 * 32));
}

TEST_CASE("H200 and A100 clusters take their catalog figures", "[gpu]") {
  const Mesh a = build_mesh("dgx-a100-2");
  const Mesh h = build_mesh("hgx-h200-1");
  CHECK(a.device_kind == "a100");
  CHECK(h.device_kind == "h200");
  for (const Link& l : a.topology.links()) {
    CHECK(l.bandwidth_Bps == (l.kind == LinkKind::nvlink ? 300e9 : 25e9));
  }
}
