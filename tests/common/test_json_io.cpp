#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "common/errors.hpp"
#include "common/json_io.hpp"

using namespace switchsim;

TEST_CASE("doubles read back exactly from switchsim JSON", "[common]") {
  json j;
  const double values[] = {0.1, 1.0 / 3.0, 6.4e12, 5e-324, 1.7976931348623157e308};
  for (double v : values) j["values"].push_back(v);
  const json back = json::parse(dump_json(j));
  for (std::size_t i = 0; i < std::size(values); ++i) {
    CHECK(back["values"][i].get<double>() == values[i]);
  }
}

TEST_CASE("NaN and infinity are written as null", "[common]") {
  json j;
  j["nan"] = std::numeric_limits<double>::quiet_NaN();
  j["inf"] = std::numeric_limits<double>::infinity();
  const json back = json::parse(dump_json(j));
  CHECK(back["nan"].is_null());
  CHECK(back["inf"].is_null());
}

TEST_CASE("require_* name the field that is wrong", "[common]") {
  const json obj = json::parse(R"({"a": -1, "b": "x", "c": 2.5})");
  CHECK(require_number(obj, "c", "mesh") == 2.5);
  CHECK_THROWS_WITH(require_positive(obj, "a", "mesh.links[0]"), Catch::Contains("mesh.links[0].a"));
  CHECK_THROWS_WITH(require_number(obj, "b", "mesh"), Catch::Contains("mesh.b: must be a number"));
  CHECK_THROWS_WITH(require(obj, "zzz", "mesh"), Catch::Contains("mesh.zzz: missing"));
  CHECK_THROWS_AS(require_integer(obj, "c", "mesh"), InputError);
}

TEST_CASE("read_json_file reports missing and malformed files by name", "[common]") {
  CHECK_THROWS_WITH(read_json_file("/nonexistent.json", "--mesh"), Catch::Contains("--mesh: cannot open"));
}
