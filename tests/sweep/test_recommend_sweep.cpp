// `recommend` as a sweep's command: the keys are recommend's flags, each line holds
// recommend's result, the CSV the best layout's figures, and the results do not
// depend on the thread count (each point's planner runs on one thread, with its own memo).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "sweep/run_point.hpp"
#include "sweep/runner.hpp"
#include "tests/support/run_cli.hpp"

using switchsim::InputError;
using switchsim::json;
namespace fs = std::filesystem;
namespace sweep = switchsim::sweep;

namespace {

// Four cheap searches: Switch-Base on 8 TPU v3 cores, one seed, one factor (2.0: drops under
// recommend's default 1% limit).
json recommend_doc() {
  return json::parse(R"({"schema_version": 1, "command": "recommend",
      "base": {"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 32768, "samples": 1,
               "factors": "2.0", "no_dropless": true, "network_model": "isolated", "top": 2},
      "axes": {"seed": [0, 1]},
      "what_ifs": [{"name": "ICI x2", "bandwidth": {"ici": 2}}]})");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string run_all(const json& doc, const fs::path& dir, int threads) {
  const sweep::Spec spec = sweep::parse_spec(doc);
  const auto points = sweep::expand(spec);
  const sweep::SweepDir out(dir, doc, false);
  const auto ids = out.pending(points);
  out.create();
  sweep::run_threads(points, ids, spec.command, {}, threads, out, {}, 0);
  (void)out.merge(points, spec.command);
  return slurp(dir / "results.jsonl");
}

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

TEST_CASE("recommend sweep: identical results for 1 and 3 threads; the line is recommend's result", "[sweep]") {
  const switchsim::testing::ScratchDir scratch("switchsim-sweep-recommend");
  const json doc = recommend_doc();
  const std::string one = run_all(doc, scratch.path() / "one", 1);
  const std::string three = run_all(doc, scratch.path() / "three", 3);
  CHECK(one == three);
  const std::string csv = slurp(scratch.path() / "one" / "results.csv");
  CHECK(csv == slurp(scratch.path() / "three" / "results.csv"));
  std::istringstream in(one);
  std::string text;
  std::vector<json> lines;
  while (std::getline(in, text)) lines.push_back(json::parse(text));
  REQUIRE(lines.size() == 4);  // 2 seeds x (baseline, ICI x2)
  for (const json& l : lines) {
    REQUIRE(l.contains("result"));
    const json& r = l["result"];
    CHECK(r["command"] == "recommend");
    CHECK_FALSE(r.contains("wall_s"));  // timing: a line depends only on its point
    CHECK(r["inputs"]["seed"] == l["inputs"]["seed"]);
    REQUIRE_FALSE(r["recommendations"].empty());
    const json& best = r["recommendations"][0];
    CHECK(best["rank"] == 1);
    // MFU = model FLOPs per step / step time / devices / peak: positive, below 1, and with
    // a step time tokens/s x step = batch tokens.
    CHECK(best["mfu"].get<double>() > 0.0);
    CHECK(best["mfu"].get<double>() < 1.0);
    CHECK(best["tokens_per_s"].get<double>() * best["step_time_s"].get<double>() == Approx(32768.0));
  }
  // The best layout's step and MFU are those `simulate` gives for it (same seed, one sample).
  {
    const json& best = lines[0]["result"]["recommendations"][0];
    REQUIRE(best["zero"] == 0);
    sweep::Point p;
    p.inputs = json::parse(R"({"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 32768,
                              "network_model": "isolated", "seed": 0})");
    p.inputs["layout"] = best["layout"]["text"];
    p.inputs["capacity_factor"] = best["capacity_factor"];
    p.inputs["micro_batches"] = best["micro_batches"];
    p.inputs["what_if"] = sweep::to_json(p.what_if);
    const json sim = sweep::run_point(p, sweep::Command::simulate, {});
    REQUIRE(sim.contains("result"));
    CHECK(sim["result"]["step_time_s"].get<double>() == Approx(best["step_time_s"].get<double>()).epsilon(1e-12));
    CHECK(sim["result"]["mfu"].get<double>() == Approx(best["mfu"].get<double>()).epsilon(1e-12));
  }
  // The same search on twice the ICI bandwidth is not slower.
  CHECK(lines[1]["result"]["recommendations"][0]["step_time_s"].get<double>() <=
        lines[0]["result"]["recommendations"][0]["step_time_s"].get<double>());
  // CSV: the headline of the best layout.
  CHECK(csv.find("id,what_if,seed,status,step_time_s,tokens_per_s,mfu,layout,mode,capacity_factor,zero,"
                 "drop_fraction,memory_per_device_bytes,fits_memory,error\n") == 0);
  const json& best0 = lines[0]["result"]["recommendations"][0];
  CHECK(csv.find("\n0,baseline,0,ok," + best0["step_time_s"].dump() + "," + best0["tokens_per_s"].dump() + "," +
                 best0["mfu"].dump() + ",\"" + best0["layout"]["text"].get<std::string>() + "\",capacity,") !=
        std::string::npos);
}

TEST_CASE("recommend sweep: its keys are recommend's; simulate's and unknown ones are refused", "[sweep]") {
  json doc = recommend_doc();
  // Every key a recommend point reads (also checks each has a type: check_recommend_value).
  doc["base"] = json::parse(R"({"model": "switch-base", "mesh": "tpuv3-2x2", "top": 1, "objective": "memory",
      "max_drop": 0.02, "factors": "1.0", "no_dropless": true, "samples": 1, "seed": 3, "routing": "uniform",
      "memory_headroom": 0.8, "max_micro_batches": 4, "batch_tokens": 32768, "group_tokens": 0, "moe_impl": "auto",
      "precision": "bf16", "fp8_dispatch": false, "optimizer": "adam", "remat": true, "profile": "",
      "exhaustive": false, "network_tolerance": 0.01, "load_model_above": 64, "network_model": "isolated",
      "rerank": 2, "grad_sync": "auto", "comm_priority": "none", "zero": "auto", "pp": "auto", "pp_schedule": "1f1b", "etp": "auto"})");
  CHECK_NOTHROW(sweep::parse_spec(doc));
  json bad = recommend_doc();
  bad["base"]["batch_token"] = 4;
  try {
    (void)sweep::parse_spec(bad);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.field() == "base.batch_token");
    CHECK(std::string(e.what()).find("batch_tokens") != std::string::npos);  // the nearest known key
  }
  bad = recommend_doc();
  bad["axes"]["layout"] = json::array({"dp=8,ep=8"});  // a simulate key: recommend searches layouts
  CHECK(error_field([&] { (void)sweep::parse_spec(bad); }) == "axes.layout");
  bad = recommend_doc();
  bad["axes"]["no_dropless"] = json::array({1});
  CHECK(error_field([&] { (void)sweep::parse_spec(bad); }) == "axes.no_dropless[0]");
  bad = recommend_doc();
  bad["what_ifs"] = json::parse(R"([{"hbm_bytes": 2}])");  // the planner reads the catalog's memory size
  CHECK(error_field([&] { (void)sweep::parse_spec(bad); }) == "what_ifs[0].hbm_bytes");
  bad = recommend_doc();
  bad["command"] = "recomend";
  CHECK(error_field([&] { (void)sweep::parse_spec(bad); }) == "spec.command");
}

TEST_CASE("recommend sweep: a bad request value is that point's error", "[sweep]") {
  json doc = recommend_doc();
  doc["axes"] = json::parse(R"({"objective": ["throughput", "fastest"]})");
  doc.erase("what_ifs");
  const sweep::Spec spec = sweep::parse_spec(doc);
  const auto points = sweep::expand(spec);
  REQUIRE(points.size() == 2);
  const json bad = sweep::run_point(points[1], spec.command, {});
  REQUIRE(bad.contains("error"));
  CHECK(bad["error"]["field"] == "objective");
}
