// The sweep spec: expansion (count, order, ids), strict keys and the fields its errors name.
#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "sweep/spec.hpp"

using switchsim::InputError;
using switchsim::json;
namespace sweep = switchsim::sweep;

namespace {

json base_doc() {
  return json::parse(R"({"schema_version": 1, "command": "simulate",
                         "base": {"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 65536}})");
}

// The field an InputError names, or "" when `f` throws none.
template <class F>
std::string error_field(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.field();
  }
  return "";
}

}  // namespace

TEST_CASE("sweep spec: axes form a Cartesian product, last axis fastest, x points x what-ifs", "[sweep]") {
  json doc = base_doc();
  doc["axes"] = json::parse(R"({"capacity_factor": [1.0, 1.5, 2.0], "seed": [0, 1]})");
  doc["points"] = json::parse(R"([{"layout": "dp=8,ep=8"}, {"layout": "dp=8,ep=4"}])");
  doc["what_ifs"] = json::parse(R"([{"name": "ICI x2", "bandwidth": {"ici": 2}}])");
  const sweep::Spec spec = sweep::parse_spec(doc);
  CHECK(sweep::point_count(spec) == 3 * 2 * 2 * 2);
  const auto points = sweep::expand(spec);
  REQUIRE(points.size() == 24);
  for (std::size_t i = 0; i < points.size(); ++i) CHECK(points[i].id == static_cast<std::int64_t>(i));
  // Innermost: what-if (baseline first), then the explicit point, then seed, then capacity_factor.
  CHECK(points[0].what_if.name == "baseline");
  CHECK(points[1].what_if.name == "ICI x2");
  CHECK(points[1].inputs["what_if"]["bandwidth"]["ici"] == 2.0);
  CHECK(points[2].inputs["layout"] == "dp=8,ep=4");
  CHECK(points[4].inputs["seed"] == 1);
  CHECK(points[4].inputs["capacity_factor"] == 1.0);
  CHECK(points[8].inputs["capacity_factor"] == 1.5);
  CHECK(points[23].inputs["capacity_factor"] == 2.0);
  CHECK(points[23].inputs["seed"] == 1);
  CHECK(points[23].inputs["model"] == "switch-base");  // the base in every point
  // Each point's inputs read back as a request.
  const sweep::PointRequest q = sweep::request_from_json(points[23].inputs, "inputs");
  CHECK(q.step.capacity_factor == 2.0);
  CHECK(q.step.seed == 1);
  CHECK(q.step.layout == "dp=8,ep=4");
  CHECK(q.step.batch_tokens == 65536);
}

TEST_CASE("sweep spec: bad input names the field", "[sweep]") {
  auto field = [](json doc) { return error_field([&] { (void)sweep::parse_spec(doc); }); };
  json d = base_doc();
  d["axes"] = {{"sead", json::array({0, 1})}};
  CHECK(field(d) == "axes.sead");  // unknown axis (did you mean seed?)
  d["axes"] = {{"seed", json::array()}};
  CHECK(field(d) == "axes.seed");  // empty axis
  d["axes"] = {{"seed", json::array({0, "one"})}};
  CHECK(field(d) == "axes.seed[1]");
  d = base_doc();
  d["base"]["capacity_factor"] = "big";
  CHECK(field(d) == "base.capacity_factor");
  d = base_doc();
  d["points"] = json::parse(R"([{"layout": "dp=8"}, {"lay_out": "dp=8"}])");
  CHECK(field(d) == "points[1].lay_out");
  d = base_doc();
  d["what_ifs"] = json::parse(R"([{"bandwidth": {"nvlinks": 2}}])");
  CHECK(field(d) == "what_ifs[0].bandwidth.nvlinks");
  d["what_ifs"] = json::parse(R"([{"peak_flops": -1}])");
  CHECK(field(d) == "what_ifs[0].peak_flops");
  d["what_ifs"] = json::parse(R"([{"name": "same"}])");
  CHECK(field(d) == "what_ifs[0]");  // scales nothing
  d = base_doc();
  d["base"].erase("mesh");
  CHECK(field(d) == "base.mesh");
  d = base_doc();
  d["schema_version"] = 7;
  CHECK(field(d) == "spec.schema_version");
  d = base_doc();
  d["comand"] = "simulate";
  CHECK(field(d) == "spec.comand");
  d = base_doc();
  d["command"] = "recomend";
  CHECK(field(d) == "spec.command");
}

TEST_CASE("sweep spec: a what-if on a link kind the mesh lacks, and too many points", "[sweep]") {
  json d = base_doc();
  d["what_ifs"] = json::parse(R"([{"name": "NIC x2", "bandwidth": {"nic": 2}}])");  // a TPU torus has no NICs
  sweep::Spec spec = sweep::parse_spec(d);
  auto points = sweep::expand(spec);
  CHECK(error_field([&] { sweep::check_points(spec, points, false); }) == "what_ifs[0].bandwidth.nic");
  d["base"]["mesh"] = "dgx-h100-2";
  spec = sweep::parse_spec(d);
  points = sweep::expand(spec);
  CHECK_NOTHROW(sweep::check_points(spec, points, false));

  d = base_doc();
  d["axes"] = {{"seed", json::array()}};
  for (int s = 0; s < 101; ++s) d["axes"]["seed"].push_back(s);
  d["axes"]["batch_tokens"] = json::array();
  for (int b = 1; b <= 100; ++b) d["axes"]["batch_tokens"].push_back(b * 65536);
  spec = sweep::parse_spec(d);
  REQUIRE(sweep::point_count(spec) == 10100);
  points = sweep::expand(spec);
  CHECK(error_field([&] { sweep::check_points(spec, points, false); }) == "--force");
  CHECK_NOTHROW(sweep::check_points(spec, points, true));
}
