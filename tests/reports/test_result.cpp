#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "common/errors.hpp"
#include "fixtures.hpp"
#include "reports/result.hpp"

using namespace switchsim;
using namespace switchsim::reports;

namespace {

json minimal(const std::string& extra) {
  return json::parse(R"({"schema_version": 1, "provenance": {"tool": "switchsim", "version": "0.1.0"})" +
                     (extra.empty() ? std::string() : ", " + extra) + "}");
}

}  // namespace

TEST_CASE("each fixture is read as the kind its command field names", "[reports]") {
  CHECK(load_result(fixture("recommend.json")).kind == ResultKind::recommend);
  CHECK(load_result(fixture("capacity.json")).kind == ResultKind::capacity);
  CHECK(load_result(fixture("simulate.json")).kind == ResultKind::simulate);
  CHECK(load_result(fixture("collective.json")).kind == ResultKind::collective);
  CHECK(load_result(fixture("validate.json")).kind == ResultKind::validate);
}

TEST_CASE("without a command field, distinctive fields decide the kind", "[reports]") {
  CHECK(classify_result(minimal(R"("recommendations": [])"), "f") == ResultKind::recommend);
  CHECK(classify_result(minimal(R"("cases": [], "mape": 0.1)"), "f") == ResultKind::validate);
  CHECK(classify_result(minimal(R"("op": "all-to-all", "busbw_Bps": 1)"), "f") == ResultKind::collective);
  CHECK(classify_result(minimal(R"("rows": [{"capacity_factor": 1.0}])"), "f") == ResultKind::capacity);
  CHECK(classify_result(minimal(R"("step_time_s": 1, "breakdown": {})"), "f") == ResultKind::simulate);
  CHECK(classify_result(minimal(R"("kind": "step")"), "f") == ResultKind::simulate);
  CHECK(classify_result(minimal(R"("kind": "capacity")"), "f") == ResultKind::capacity);
  // An unknown kind falls back to distinctive fields.
  CHECK(classify_result(minimal(R"("kind": "measured", "recommendations": [])"), "f") == ResultKind::recommend);
  // The command field wins over distinctive fields.
  CHECK(classify_result(minimal(R"("command": "simulate", "recommendations": [])"), "f") == ResultKind::simulate);
}

TEST_CASE("files that are not switchsim results are refused, naming the file", "[reports]") {
  CHECK_THROWS_WITH(load_result(fixture("not_a_result.json")),
                    Catch::Contains("not_a_result.json") && Catch::Contains("not a switchsim result"));
  CHECK_THROWS_WITH(load_result(fixture("schema_v99.json")),
                    Catch::Contains("schema_v99.json") && Catch::Contains("schema version 99 is not supported"));
  CHECK_THROWS_WITH(load_result(fixture("truncated.json")),
                    Catch::Contains("truncated.json") && Catch::Contains("truncated"));
  CHECK_THROWS_WITH(load_result(fixture("missing.json")), Catch::Contains("missing.json: cannot open"));
  CHECK_THROWS_WITH(classify_result(json::array(), "a.json"), Catch::Contains("not a JSON object"));
  CHECK_THROWS_WITH(classify_result(minimal(R"("command": "calibrate")"), "p.json"),
                    Catch::Contains("`calibrate`"));
  CHECK_THROWS_WITH(classify_result(minimal(R"("something": 1)"), "x.json"), Catch::Contains("not a switchsim result"));
  json other = minimal(R"("recommendations": [])");
  other["provenance"]["tool"] = "other-tool";
  CHECK_THROWS_WITH(classify_result(other, "o.json"), Catch::Contains("provenance.tool"));
  CHECK_THROWS_AS(load_result(fixture("truncated.json")), InputError);
}

TEST_CASE("a wrong field inside a result names the file and the field", "[reports]") {
  json j = minimal(R"("command": "recommend", "recommendations": [{"step_time_s": 1.0, "tokens_per_s": "fast", "drop_fraction": 0}])");
  CHECK_THROWS_WITH(read_view(j, ResultKind::recommend), Catch::Contains("recommendations[0].tokens_per_s"));
  json c = minimal(R"("command": "collective", "op": "all-to-all", "devices": 8, "bytes": 1, "time_s": 1, "algbw_Bps": 1)");
  CHECK_THROWS_WITH(read_view(c, ResultKind::collective), Catch::Contains("busbw_Bps: missing"));
}

TEST_CASE("the recommendation view keeps ranks, why, breakdown and rejected reasons", "[reports]") {
  const LoadedResult r = load_result(fixture("recommend.json"));
  const auto& v = std::get<RecommendView>(r.view);
  REQUIRE(v.ranked.size() == 4);
  CHECK(v.ranked[0].rank == 1);
  CHECK(v.ranked[0].layout == "dp=32 ep=32 mp=1 (dp->x*y)");
  CHECK(v.ranked[0].capacity_factor == 1.25);
  CHECK(!v.ranked[3].capacity_factor);  // the dropless entry has none
  CHECK(v.ranked[0].why.find("fastest") == 0);
  // The fixture's breakdown is compute 0.180 + all-to-all 0.042 + all-reduce 0.021 + idle 0.004 = 0.247 s.
  REQUIRE(v.ranked[0].breakdown.size() == 4);
  CHECK(v.ranked[0].breakdown[1].name == "all-to-all");
  double sum = 0.0;
  for (const auto& p : v.ranked[0].breakdown) sum += p.seconds;
  CHECK(sum == Approx(0.247));
  CHECK(v.ranked[0].step_time_s == Approx(0.247));
  CHECK(v.pareto.size() == 4);
  CHECK(v.evaluated == 38);
  CHECK(v.pruned == 12);
  REQUIRE(v.rejected.size() == 4);
  CHECK(v.rejected[1].reason_kind == "does not fit memory");
  // Without reason_kind, the reason with its numbers replaced is the group.
  CHECK(v.rejected[3].reason_kind.find("drops #% of tokens > --max-drop #%") == 0);
}

TEST_CASE("capacity rows read their spread from sibling _std fields or mean/std objects", "[reports]") {
  const LoadedResult r = load_result(fixture("capacity.json"));
  const auto& v = std::get<CapacityView>(r.view);
  REQUIRE(v.rows.size() == 5);
  CHECK(v.rows[0].capacity_factor == 0.5);
  CHECK(v.rows[0].drop_fraction.mean == 0.31);
  CHECK(v.rows[0].drop_fraction.spread == 0.004);
  const json j = minimal(R"("rows": [{"capacity_factor": 2, "step_time_s": {"mean": 0.2, "std": 0.01},
      "tokens_per_s": {"mean": 5e6, "min": 4e6, "max": 6e6}, "drop_fraction": 0}])");
  const auto c = std::get<CapacityView>(read_view(j, ResultKind::capacity));
  CHECK(c.rows[0].step_time_s.spread == 0.01);
  CHECK(c.rows[0].tokens_per_s.spread == 1e6);  // half of max - min = (6e6 - 4e6) / 2
  CHECK(!c.rows[0].drop_fraction.spread);
  // As capacity and recommend write it: {"spread": {"tokens_per_s": {"mean", "min", "max", "stddev"}}}.
  const json s = minimal(R"("rows": [{"capacity_factor": 1, "step_time_s": 0.2, "tokens_per_s": 5e6, "drop_fraction": 0.01,
      "spread": {"tokens_per_s": {"mean": 5e6, "min": 4.9e6, "max": 5.1e6, "stddev": 7e4},
                 "drop_fraction": {"mean": 0.01, "min": 0.008, "max": 0.012}}}])");
  const auto sv = std::get<CapacityView>(read_view(s, ResultKind::capacity));
  CHECK(sv.rows[0].tokens_per_s.spread == 7e4);
  CHECK(sv.rows[0].drop_fraction.spread == Approx(0.002));  // (0.012 - 0.008) / 2
  CHECK(!sv.rows[0].step_time_s.spread);
}

TEST_CASE("a traffic matrix is read nested or flat, and must be square", "[reports]") {
  const auto nested = std::get<SimulateView>(load_result(fixture("simulate.json")).view);
  REQUIRE(nested.traffic);
  CHECK(nested.traffic->n == 32);
  CHECK(nested.traffic->at(3, 3) == 0.0);  // nothing sent to oneself
  const json flat = minimal(R"("step_time_s": 1, "tokens_per_s": 1, "drop_fraction": 0, "breakdown": {},
      "traffic_matrix": {"n": 2, "bytes": [0, 5, 7, 0]})");
  const auto f = std::get<SimulateView>(read_view(flat, ResultKind::simulate));
  REQUIRE(f.traffic);
  CHECK(f.traffic->n == 2);
  CHECK(f.traffic->at(1, 0) == 7.0);  // row-major: row 1 (source), column 0 (destination)
  const json bad = minimal(R"("step_time_s": 1, "tokens_per_s": 1, "drop_fraction": 0, "breakdown": {},
      "traffic_matrix": [[0, 1], [2]])");
  CHECK_THROWS_WITH(read_view(bad, ResultKind::simulate), Catch::Contains("traffic_matrix[1]"));
  const json negative = minimal(R"("step_time_s": 1, "tokens_per_s": 1, "drop_fraction": 0, "breakdown": {},
      "traffic_matrix": [[0, -1], [2, 0]])");
  CHECK_THROWS_WITH(read_view(negative, ResultKind::simulate), Catch::Contains("negative"));
}

TEST_CASE("validate cases and drop checks are read with their match", "[reports]") {
  const auto v = std::get<ValidateView>(load_result(fixture("validate.json")).view);
  CHECK(v.cases.size() == 16);
  CHECK(v.cases[0].kernel == "router");
  CHECK(v.cases[0].shape == "tokens=1024 d_model=512 experts=8");
  CHECK(v.cases[0].relative_uncertainty == 0.05);
  REQUIRE(v.drop_check.size() == 2);
  CHECK(v.drop_check[1].name == "zipf:1.2");
  CHECK(v.drop_check[1].match);
}

TEST_CASE("inputs and provenance are flattened for the table", "[reports]") {
  const LoadedResult r = load_result(fixture("capacity.json"));
  const auto has = [&](const std::string& key, const std::string& value) {
    for (const auto& [k, v] : r.inputs) {
      if (k == key) return v == value;
    }
    return false;
  };
  CHECK(has("model", "switch-base"));
  CHECK(has("seed", "7"));
  CHECK(has("layout", "dp=32 ep=32 mp=1 (dp->x*y)"));
  CHECK(has("provenance.version", "0.1.0"));
  CHECK(has("schema_version", "1"));
}

TEST_CASE("a number too large for a double is bad input naming the file", "[reports]") {
  const std::string path = std::filesystem::temp_directory_path().string() + "/switchsim-test-huge-number.json";
  { std::ofstream(path) << R"({"schema_version": 1, "step_time_s": 1e400, "breakdown": {}})"; }
  CHECK_THROWS_WITH(load_result(path), Catch::Contains("switchsim-test-huge-number.json") && Catch::Contains("out of range"));
  std::filesystem::remove(path);
}
