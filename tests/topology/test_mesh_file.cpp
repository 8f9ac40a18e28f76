#include <catch2/catch.hpp>

#include <string>

#include "common/errors.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_file.hpp"
#include "helpers.hpp"
#include "topology/metrics.hpp"

using namespace switchsim::topology;
using switchsim::json;
using switchsim::topology::test::visited;

namespace {

std::string dev(int i) {
  std::string s = "d";  // (not "d" + ...: GCC 12 warns falsely with -Wrestrict)
  s += std::to_string(i);
  return s;
}

json ring(int n) {
  json doc;
  doc["device_kind"] = "h100";
  doc["vertices"] = json::array();
  doc["links"] = json::array();
  for (int i = 0; i < n; ++i) doc["vertices"].push_back({{"name", dev(i)}, {"kind", "device"}});
  for (int i = 0; i < n; ++i) {
    doc["links"].push_back({{"src", dev(i)},
                            {"dst", dev((i + 1) % n)},
                            {"bandwidth_Bps", 1e9},
                            {"latency_s", 1e-6},
                            {"kind", "nvlink"}});
  }
  return doc;
}

std::string field_of(const json& doc) {
  try {
    (void)mesh_from_json(doc, "test");
  } catch (const switchsim::InputError& e) {
    return e.field();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("the example custom mesh loads from its path", "[mesh_file]") {
  const Mesh m = build_mesh(SWITCHSIM_SOURCE_DIR "/data/examples/custom_ring4.json");
  CHECK(m.name == "ring4-h100");
  CHECK(m.structure.family == MeshFamily::custom);
  CHECK(m.topology.num_devices() == 4);
  CHECK(m.topology.num_switches() == 1);
  CHECK(m.topology.num_links() == 16);  // 8 duplex links
  // The mesh has a switch, so GPUs do not forward: gpu0 -> gpu2 takes the NIC
  // switch (vertex 4), not two NVLink hops through gpu1 or gpu3.
  const auto ps = m.router->paths(0, 2);
  REQUIRE(ps.size() == 1);
  CHECK(visited(m.topology, ps[0]) == std::vector<VertexId>{0, 4, 2});
  // The NIC link without "efficiency" takes the catalog's h100 NIC figure.
  CHECK(m.topology.link(8).efficiency == device_spec("h100").link(LinkKind::nic).efficiency);

  // With "devices_forward": the two NVLink ways round (2 x 1 us) beat the NIC
  // switch (2 x 1.5 us): an ECMP set of 2.
  json doc = switchsim::read_json_file(SWITCHSIM_SOURCE_DIR "/data/examples/custom_ring4.json", "test");
  doc["devices_forward"] = true;
  const Mesh f = mesh_from_json(doc, "x");
  const auto fp = f.router->paths(0, 2);
  CHECK(fp.size() == 2);
  for (const Path& p : fp) CHECK(f.topology.link(p[0]).kind == LinkKind::nvlink);
}

TEST_CASE("a switchless ring lets devices forward", "[mesh_file]") {
  const Mesh m = mesh_from_json(ring(5), "ring5");
  CHECK(m.name == "ring5");
  const MeshMetrics x = compute_metrics(m);
  // Ring of 5 with duplex links: distances 1, 2, 2, 1 -> mean 1.5, diameter 2.
  CHECK(x.hops.diameter_hops == 2);
  CHECK(x.hops.average_hops == Approx(1.5));
  // Devices {0,1} against {2,3,4}: the cut crosses links 1-2 and 4-0.
  CHECK(x.bisection_bandwidth_Bps == Approx(2e9));
}

TEST_CASE("malformed and inconsistent mesh files name the field", "[mesh_file][errors]") {
  json doc = ring(3);
  doc["links"][1]["bandwidth_Bps"] = -5.0;
  CHECK(field_of(doc) == "mesh.links[1].bandwidth_Bps");

  doc = ring(3);
  doc["links"][2]["dst"] = "nowhere";
  CHECK(field_of(doc) == "mesh.links[2].dst");

  doc = ring(3);
  for (auto& v : doc["vertices"]) v["kind"] = "switch";
  CHECK(field_of(doc) == "mesh.vertices");

  doc = ring(4);
  doc["links"] = json::array({doc["links"][0], doc["links"][2]});  // 0-1 and 2-3 only
  CHECK(field_of(doc) == "mesh.links");

  doc = ring(3);
  doc["device_kind"] = "tpu9";
  CHECK(field_of(doc) == "mesh.device_kind");

  doc = ring(3);
  doc["links"][0]["kind"] = "carrier_pigeon";
  CHECK(field_of(doc) == "mesh.links[0].kind");

  doc = ring(3);
  doc["links"][0]["efficiency"] = 1.5;
  CHECK(field_of(doc) == "mesh.links[0].efficiency");

  doc = ring(3);
  doc["links"][0]["latency_s"] = -1.0;
  CHECK(field_of(doc) == "mesh.links[0].latency_s");

  doc = ring(3);
  doc["vertices"][1]["name"] = "d0";
  CHECK(field_of(doc) == "mesh.vertices[1].name");

  doc = ring(3);
  doc.erase("links");
  CHECK(field_of(doc) == "mesh.links");

  doc = ring(3);
  doc["vertices"][0]["kind"] = "router9";
  CHECK(field_of(doc) == "mesh.vertices[0].kind");
}

TEST_CASE("unknown mesh names and unreadable files are input errors", "[mesh_file][errors]") {
  for (const char* name : {"tpuv5-4x4", "no-such-mesh", "/nonexistent/mesh.json", ""}) {
    try {
      (void)build_mesh(name);
      FAIL("no error for " << name);
    } catch (const switchsim::InputError& e) {
      CHECK(e.field() == "--mesh");
    }
  }
}
