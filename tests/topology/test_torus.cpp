#include <catch2/catch.hpp>

#include <thread>

#include "common/errors.hpp"
#include "helpers.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/torus.hpp"

using namespace switchsim::topology;
using switchsim::topology::test::make_torus;
using switchsim::topology::test::visited;

namespace {


Path only_path(const Mesh& m, VertexId s, VertexId d) {
  const auto ps = m.router->paths(s, d);
  REQUIRE(ps.size() == 1);
  return ps[0];
}

}  // namespace

TEST_CASE("tpuv3-4x4 has 16 chips, 32 cores and the expected links", "[torus]") {
  const Mesh m = build_mesh("tpuv3-4x4");
  // 4x4 chips x 2 cores = 32 devices; 16 chip routers.
  CHECK(m.topology.num_devices() == 32);
  CHECK(m.topology.num_switches() == 16);
  // on-chip: 32 duplex = 64 directed; ICI: 2 dims x 16 ring links (wrap) = 32 duplex = 64 directed.
  CHECK(m.topology.num_links() == 128);
  CHECK(m.structure.dims == std::vector<int>{4, 4});
  CHECK(m.structure.wraparound == std::vector<bool>{true, true});
  CHECK(m.structure.cores_per_chip == 2);
  // Each chip router has 4 ICI out-links plus 2 on-chip out-links.
  for (VertexId r = 32; r < 48; ++r) CHECK(m.topology.out_links(r).size() == 6);
  // Each core has exactly one out-link: to its chip router.
  CHECK(m.topology.out_links(5).size() == 1);
}

TEST_CASE("tpuv4-4x4x4 has 64 devices with 6 links each", "[torus]") {
  const Mesh m = build_mesh("tpuv4-4x4x4");
  CHECK(m.topology.num_devices() == 64);
  CHECK(m.topology.num_switches() == 0);
  // 3 dims x 64 chips (one + link each, all rings) = 192 duplex = 384 directed.
  CHECK(m.topology.num_links() == 384);
  for (VertexId v = 0; v < 64; ++v) CHECK(m.topology.out_links(v).size() == 6);
}

TEST_CASE("small TPU slices are lines, 4 chips and up wrap", "[torus]") {
  const Mesh m = build_mesh("tpuv3-2x3");
  CHECK(m.structure.wraparound == std::vector<bool>{false, false});
  // dim 0: 3 rows x 1 link; dim 1: 2 columns x 2 links -> 7 duplex ICI; + 12 on-chip duplex.
  CHECK(m.topology.num_links() == 2 * (7 + 12));
  const Mesh w = make_torus({2, 5}, {true, true});
  // A dimension of 2 never wraps (it would join the same chips twice).
  CHECK(w.structure.wraparound == std::vector<bool>{false, true});
}

TEST_CASE("ring routing goes the shorter way and breaks ties by source parity", "[torus][routing]") {
  const Mesh m = make_torus({6}, {true});
  CHECK(visited(m.topology, only_path(m, 0, 2)) == std::vector<VertexId>{0, 1, 2});
  // 0 -> 4: forward 4, backward 2: backward through the wrap link.
  CHECK(visited(m.topology, only_path(m, 0, 4)) == std::vector<VertexId>{0, 5, 4});
  // Exactly half way (3 of 6): even source goes forward, odd source backward.
  CHECK(visited(m.topology, only_path(m, 0, 3)) == std::vector<VertexId>{0, 1, 2, 3});
  CHECK(visited(m.topology, only_path(m, 1, 4)) == std::vector<VertexId>{1, 0, 5, 4});
  CHECK(visited(m.topology, only_path(m, 4, 1)) == std::vector<VertexId>{4, 5, 0, 1});
  CHECK(m.router->paths(3, 3).empty());
  CHECK(m.router->path_count(3, 3) == 0);
}

TEST_CASE("a line routes straight without wraparound", "[torus][routing]") {
  const Mesh m = make_torus({4}, {false});
  CHECK(visited(m.topology, only_path(m, 3, 0)) == std::vector<VertexId>{3, 2, 1, 0});
  CHECK(visited(m.topology, only_path(m, 0, 3)) == std::vector<VertexId>{0, 1, 2, 3});
}

TEST_CASE("2D dimension-order routing corrects dimension 0 first", "[torus][routing]") {
  const Mesh m = make_torus({4, 4}, {true, true});
  // chip (x, y) = x + 4 y. (0,0) -> (3,2): dim 0 forward 3 / backward 1 -> backward to (3,0);
  // dim 1 forward 2 = half of 4, source y = 0 even -> forward: (3,1), (3,2).
  CHECK(visited(m.topology, only_path(m, 0, 3 + 4 * 2)) == std::vector<VertexId>{0, 3, 7, 11});
  // (1,1) -> (3,3): dim 0 tie, x = 1 odd -> backward (0,1), (3,1); dim 1 tie, y = 1 odd -> backward (3,0), (3,3).
  CHECK(visited(m.topology, only_path(m, 5, 15)) == std::vector<VertexId>{5, 4, 7, 3, 15});
  const auto coords = m.torus_coordinates(11);
  CHECK(coords == std::vector<int>{3, 2});
}

TEST_CASE("TPU v3 cores share their chip's router", "[torus][routing]") {
  const Mesh m = build_mesh("tpuv3-4x4");
  // Devices 0 and 1 are the two cores of chip (0,0); its router is vertex 32.
  CHECK(visited(m.topology, only_path(m, 0, 1)) == std::vector<VertexId>{0, 32, 1});
  // core 1 of chip (0,0) -> core 0 of chip (1,0) (device 2, router 33).
  const Path p = only_path(m, 1, 2);
  CHECK(visited(m.topology, p) == std::vector<VertexId>{1, 32, 33, 2});
  CHECK(m.topology.link(p[0]).kind == LinkKind::on_chip);
  CHECK(m.topology.link(p[1]).kind == LinkKind::ici);
  CHECK(m.core_index(1) == 1);
  CHECK(m.torus_coordinates(2) == std::vector<int>{1, 0});
}

TEST_CASE("torus paths are cached and match the bulk API", "[torus][routing]") {
  const Mesh m = build_mesh("tpuv3-8x8");
  const auto a = m.router->paths(3, 77);
  const auto b = m.router->paths(3, 77);
  CHECK(a.data() == b.data());  // same cached object
  Path bulk;
  REQUIRE(m.router->path_count(3, 77) == 1);
  m.router->append_path(3, 77, 0, bulk);
  CHECK(bulk == a[0]);
  // Every path is contiguous, starts at the source and ends at the destination.
  for (VertexId s = 0; s < 128; s += 7) {
    for (VertexId d = 0; d < 128; d += 5) {
      if (s == d) continue;
      const auto v = visited(m.topology, m.router->paths(s, d)[0]);
      CHECK(v.front() == s);
      CHECK(v.back() == d);
    }
  }
}

TEST_CASE("torus router answers from several threads", "[torus][routing]") {
  const Mesh m = build_mesh("tpuv3-8x8");
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Path p;
      for (VertexId s = 0; s < 128; ++s) {
        for (VertexId d = t; d < 128; d += 4) {
          if (s == d) continue;
          p.clear();
          m.router->append_path(s, d, 0, p);
          if (m.router->paths(s, d)[0] != p) ++bad[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == std::vector<int>{0, 0, 0, 0});
}

TEST_CASE("bad TPU names are input errors naming --mesh", "[torus][errors]") {
  for (const char* name : {"tpuv3-4x", "tpuv3-4x4x4", "tpuv4-4x4", "tpuv3-0x4", "tpuv3-axb", "tpuv3-"}) {
    try {
      (void)build_mesh(name);
      FAIL("no error for " << name);
    } catch (const switchsim::InputError& e) {
      CHECK(e.field() == "--mesh");
    }
  }
}
