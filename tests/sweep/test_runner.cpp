// The thread pool and the output folder: identical results for any thread count,
// resume skips recorded points, a bad point is recorded and the others run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "sweep/runner.hpp"
#include "tests/support/run_cli.hpp"

using switchsim::json;
namespace fs = std::filesystem;
namespace sweep = switchsim::sweep;

namespace {

json small_doc() {
  return json::parse(R"({"schema_version": 1, "command": "simulate",
      "base": {"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 32768, "network_model": "isolated"},
      "axes": {"seed": [0, 1, 2]},
      "points": [{"layout": "dp=8,ep=8"}, {"layout": "dp=8,ep=3"}, {"capacity_factor": 2.0}]})");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the whole sweep into `dir` with `threads`; returns results.jsonl.
std::string run_all(const fs::path& dir, int threads) {
  const json doc = small_doc();
  const sweep::Spec spec = sweep::parse_spec(doc);
  const auto points = sweep::expand(spec);
  const sweep::SweepDir out(dir, doc, false);
  const auto ids = out.pending(points);
  out.create();
  sweep::run_threads(points, ids, spec.command, {}, threads, out, {}, 0);
  (void)out.merge(points, spec.command);
  return slurp(dir / "results.jsonl");
}

}  // namespace

TEST_CASE("sweep runner: identical results.jsonl for 1 and 3 threads; bad points recorded", "[sweep]") {
  const switchsim::testing::ScratchDir scratch("switchsim-sweep-runner");
  const std::string one = run_all(scratch.path() / "one", 1);
  const std::string three = run_all(scratch.path() / "three", 3);
  CHECK(one == three);
  CHECK(slurp(scratch.path() / "one" / "results.csv") == slurp(scratch.path() / "three" / "results.csv"));
  std::istringstream lines(one);
  std::string line;
  int n = 0;
  int errors = 0;
  while (std::getline(lines, line)) {
    const json j = json::parse(line);
    CHECK(j["id"] == n);
    if (j.contains("error")) {
      ++errors;
      CHECK(j["inputs"]["layout"] == "dp=8,ep=3");  // 3 does not divide 8: that point's error only
      CHECK(j["error"]["field"] == "--layout.ep");
    } else {
      CHECK(j["result"]["step_time_s"].get<double>() > 0.0);
    }
    ++n;
  }
  CHECK(n == 9);
  CHECK(errors == 3);
}

TEST_CASE("sweep runner: resume runs only the points not recorded, and checks the spec", "[sweep]") {
  const switchsim::testing::ScratchDir scratch("switchsim-sweep-resume");
  const fs::path dir = scratch.path() / "s";
  const std::string full = run_all(dir, 2);
  const json doc = small_doc();
  const sweep::Spec spec = sweep::parse_spec(doc);
  const auto points = sweep::expand(spec);
  // Two points lost (as if in flight when killed); a recorded one marked to show it is not redone.
  fs::remove(dir / "points" / "00000002.json");
  fs::remove(dir / "points" / "00000007.json");
  fs::remove(dir / "results.jsonl");
  json kept = json::parse(slurp(dir / "points" / "00000004.json"));
  kept["marker"] = "recorded before the resume";
  switchsim::testing::write_text(dir / "points" / "00000004.json", kept.dump() + "\n");
  CHECK_THROWS_AS(sweep::SweepDir(dir, doc, false), switchsim::InputError);  // a sweep is there: --resume
  const sweep::SweepDir out(dir, doc, true);
  const auto ids = out.pending(points);
  CHECK(ids == std::vector<std::int64_t>{2, 7});
  sweep::run_threads(points, ids, spec.command, {}, 2, out, {}, 7);
  (void)out.merge(points, spec.command);
  const std::string resumed = slurp(dir / "results.jsonl");
  CHECK(resumed.find("recorded before the resume") != std::string::npos);
  kept.erase("marker");
  switchsim::testing::write_text(dir / "points" / "00000004.json", kept.dump() + "\n");
  (void)out.merge(points, spec.command);
  CHECK(slurp(dir / "results.jsonl") == full);
  // Another spec in the same folder is refused.
  json other = doc;
  other["axes"]["seed"] = json::array({5});
  CHECK_THROWS_AS(sweep::SweepDir(dir, other, true), switchsim::InputError);
}

TEST_CASE("sweep CSV: varied inputs as columns, quoting, errors", "[sweep]") {
  std::vector<json> lines;
  lines.push_back(json::parse(R"({"id": 0, "inputs": {"model": "m", "layout": "dp=8,ep=8", "what_if": {"name": "baseline"}},
                                  "result": {"step_time_s": 0.5, "tokens_per_s": 2, "mfu": 0.25, "drop_fraction": 0,
                                             "memory_per_device_bytes": 10, "fits_memory": true}})"));
  lines.push_back(json::parse(R"({"id": 1, "inputs": {"model": "m", "layout": "dp=4", "what_if": {"name": "NIC \"x2\""}},
                                  "error": {"field": "--layout", "message": "bad, very"}})"));
  const std::string csv = sweep::results_csv(lines, sweep::Command::simulate);
  CHECK(csv ==
        "id,what_if,layout,status,step_time_s,tokens_per_s,mfu,drop_fraction,memory_per_device_bytes,fits_memory,error\n"
        "0,baseline,\"dp=8,ep=8\",ok,0.5,2,0.25,0,10,true,\n"
        "1,\"NIC \"\"x2\"\"\",dp=4,error,,,,,,,\"--layout: bad, very\"\n");
}

TEST_CASE("sweep: a capacity point has one CSV row per factor; an HBM what-if scales the memory limit", "[sweep]") {
  const json doc = json::parse(R"({"schema_version": 1, "command": "capacity",
      "base": {"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 32768, "network_model": "isolated",
               "factors": "1.0,2.0", "samples": 1},
      "what_ifs": [{"name": "HBM x0.25", "hbm_bytes": 0.25}]})");
  const sweep::Spec spec = sweep::parse_spec(doc);
  const auto points = sweep::expand(spec);
  REQUIRE(points.size() == 2);
  std::vector<json> lines;
  for (const auto& p : points) lines.push_back(sweep::run_point(p, spec.command, {}));
  REQUIRE(lines[0].contains("result"));
  REQUIRE(lines[1].contains("result"));
  const json& base = lines[0]["result"]["rows"];
  const json& small = lines[1]["result"]["rows"];
  REQUIRE(base.size() == 2);
  REQUIRE(small.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(small[i]["memory"]["device_memory_bytes"].get<double>() ==
          0.25 * base[i]["memory"]["device_memory_bytes"].get<double>());
    CHECK(base[i]["fits_memory"] == true);
    // The step needs about 12 GB per core, more than a quarter of 16 GiB.
    CHECK(small[i]["fits_memory"] == false);
  }
  const std::string csv = sweep::results_csv(lines, spec.command);
  CHECK(csv.find("id,what_if,status,row_capacity_factor,step_time_s") == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 5);  // header + 2 points x 2 factors
  CHECK(csv.find("\n0,baseline,ok,1.0,") != std::string::npos);
  CHECK(csv.find("\n1,HBM x0.25,ok,2.0,") != std::string::npos);
}
