// Runs the built `switchsim recommend`: JSON fields, determinism across thread counts, exit statuses.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace {

using Run = switchsim::testing::CliRun;

// Runs the built switchsim recommend with space-separated `args`.
Run run(const std::string& args) {
  static const switchsim::testing::ScratchDir scratch("switchsim-recommend-cli");
  std::vector<std::string> argv{"recommend"};
  for (auto& w : switchsim::testing::split_args(args)) argv.push_back(std::move(w));
  return switchsim::testing::run_cli(argv, scratch.path());
}

const std::string kSmall = "--mesh tpuv3-2x2 --batch-tokens 65536 --factors 1.0,1.5 --samples 2 --top 3 ";

}  // namespace

TEST_CASE("cli: recommend JSON has the documented fields", "[planner][cli]") {
  const Run r = run(kSmall + "--json");
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(r.out);
  CHECK(j["schema_version"] == switchsim::kSchemaVersion);
  CHECK(j["command"] == "recommend");
  CHECK(j["inputs"]["model"] == "switch-base");  // the default model
  CHECK(j["inputs"]["mesh"] == "tpuv3-2x2");
  CHECK(j["inputs"]["samples"] == 2);
  REQUIRE(j["recommendations"].size() == 3);
  const auto& first = j["recommendations"][0];
  CHECK(first["rank"] == 1);
  for (const char* k : {"dp", "ep", "mp", "mapping"}) CHECK(first["layout"].contains(k));
  CHECK(first["layout"]["dp"].get<long>() * first["layout"]["mp"].get<long>() == 8);
  for (const char* k : {"capacity_factor", "mode", "step_time_s", "tokens_per_s", "drop_fraction",
                        "memory_per_device_bytes", "breakdown", "why"}) {
    CHECK(first.contains(k));
  }
  CHECK(first["tokens_per_s"].get<double>() >= j["recommendations"][1]["tokens_per_s"].get<double>());
  CHECK(!j["pareto"].empty());
  CHECK(j["evaluated"].get<long>() + j["pruned"].get<long>() == j["candidates"].get<long>());
  CHECK(j.contains("rejected"));
  CHECK(j.contains("wall_s"));
  CHECK(j["provenance"].contains("version"));
  CHECK(j["provenance"]["cost_model"] == "shape-aware:tpuv3");
}

TEST_CASE("cli: recommend output does not depend on the thread count", "[planner][cli]") {
  Run a = run(kSmall + "--json --threads 1 --seed 3");
  Run b = run(kSmall + "--json --threads 2 --seed 3");
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  auto ja = switchsim::json::parse(a.out);
  auto jb = switchsim::json::parse(b.out);
  ja.erase("wall_s");
  jb.erase("wall_s");
  CHECK(ja.dump() == jb.dump());
}

TEST_CASE("cli: --progress reports the search on stderr and changes nothing else", "[planner][cli]") {
  const Run quiet = run(kSmall + "--json --seed 5");
  const Run loud = run(kSmall + "--json --seed 5 --progress");
  REQUIRE(quiet.status == 0);
  REQUIRE(loud.status == 0);
  CHECK(quiet.err.find("recommend:") == std::string::npos);  // stderr is not a terminal here
  auto jq = switchsim::json::parse(quiet.out);
  auto jl = switchsim::json::parse(loud.out);
  jq.erase("wall_s");
  jl.erase("wall_s");
  CHECK(jq.dump() == jl.dump());

  // One line per report; the counts only grow, and the last one matches the JSON.
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl = 0; (nl = loud.err.find('\n', at)) != std::string::npos; at = nl + 1) {
    const std::string line = loud.err.substr(at, nl - at);
    if (line.rfind("recommend: ", 0) == 0) lines.push_back(line);
  }
  REQUIRE(lines.size() >= 2);
  const auto number_before = [](const std::string& line, const std::string& word) {
    const std::size_t end = line.find(word);
    REQUIRE(end != std::string::npos);
    const std::size_t start = line.rfind(' ', end - 2) + 1;
    return std::stoll(line.substr(start, end - 1 - start));
  };
  long long examined = -1, simulated = -1;
  for (const std::string& line : lines) {
    INFO(line);
    CHECK(number_before(line, "of ") >= examined);
    CHECK(number_before(line, "simulated") >= simulated);
    examined = number_before(line, "of ");
    simulated = number_before(line, "simulated");
  }
  const long long evaluated = jl["evaluated"].get<long long>();
  const long long pruned = jl["pruned"].get<long long>();
  INFO(lines.back());
  CHECK(simulated == evaluated);
  CHECK(lines.back().find("(done") != std::string::npos);
  if (pruned > 0) CHECK(lines.back().find("(done: " + std::to_string(pruned) + " pruned)") != std::string::npos);
  CHECK(lines.front().find(" 0 simulated") != std::string::npos);
}

TEST_CASE("cli: simulate with recommend's network options reproduces each recommendation", "[planner][cli]") {
  // One seed, so a recommendation's step time is one simulated step; `simulate` with the same
  // layout, mode, micro-batches, seed and network approximations must give the same numbers.
  const std::string common = "--mesh tpuv3-2x2 --batch-tokens 65536 --seed 2";
  const Run rec = run(common + " --factors 1.0,1.5 --samples 1 --top 3 --json");
  REQUIRE(rec.status == 0);
  const auto j = switchsim::json::parse(rec.out);
  REQUIRE(j["recommendations"].size() >= 2);
  static const switchsim::testing::ScratchDir scratch("switchsim-recommend-repro");
  for (const auto& r : j["recommendations"]) {
    std::vector<std::string> argv{"simulate", "--model", "switch-base", "--json", "--network-tolerance",
                                  std::to_string(j["inputs"]["network_tolerance"].get<double>()),
                                  "--load-model-above",
                                  std::to_string(j["inputs"]["load_model_above_devices"].get<int>()), "--layout",
                                  r["layout"]["text"].get<std::string>(), "--micro-batches",
                                  std::to_string(r["micro_batches"].get<long long>())};
    for (auto& w : switchsim::testing::split_args(common)) argv.push_back(std::move(w));
    if (r["mode"] == "dropless") {
      argv.insert(argv.end(), {"--mode", "dropless"});
    } else {
      argv.insert(argv.end(), {"--capacity-factor", std::to_string(r["capacity_factor"].get<double>())});
    }
    const Run sim = switchsim::testing::run_cli(argv, scratch.path());
    INFO(r["layout"]["text"] << " " << r["mode"] << " -> " << sim.err);
    REQUIRE(sim.status == 0);
    const auto s = switchsim::json::parse(sim.out);
    CHECK(s["step_time_s"].get<double>() == Approx(r["step_time_s"].get<double>()).epsilon(1e-12));
    CHECK(s["drop_fraction"].get<double>() == Approx(r["drop_fraction"].get<double>()).epsilon(1e-12).margin(1e-15));
    CHECK(s["network_tolerance"] == j["inputs"]["network_tolerance"]);
  }
}

TEST_CASE("cli: recommend --zero all ranks sharded layouts, and simulate --zero reproduces them",
          "[planner][cli][zero]") {
  // Switch-Base on 8 TPU v3 cores: the layouts with ep <= 2 fit only with ZeRO (test_zero_search.cpp).
  const std::string common = "--mesh tpuv3-2x2 --batch-tokens 65536 --seed 2 --network-model isolated";
  const Run rec =
      run(common + " --factors 1.0 --no-dropless --samples 1 --top 60 --max-drop 1 --exhaustive --zero all --json");
  REQUIRE(rec.status == 0);
  const auto j = switchsim::json::parse(rec.out);
  CHECK(j["inputs"]["zero"] == "all");
  int checked = 0;
  for (const auto& r : j["recommendations"]) {
    REQUIRE(r.contains("zero"));
    if (r["zero"].get<int>() == 0 || checked == 2) continue;
    ++checked;
    std::vector<std::string> argv{"simulate",
                                  "--model",
                                  "switch-base",
                                  "--json",
                                  "--network-tolerance",
                                  std::to_string(j["inputs"]["network_tolerance"].get<double>()),
                                  "--load-model-above",
                                  std::to_string(j["inputs"]["load_model_above_devices"].get<int>()),
                                  "--layout",
                                  r["layout"]["text"].get<std::string>(),
                                  "--micro-batches",
                                  std::to_string(r["micro_batches"].get<long long>()),
                                  "--capacity-factor",
                                  "1.0",
                                  "--zero",
                                  std::to_string(r["zero"].get<int>())};
    for (auto& w : switchsim::testing::split_args(common)) argv.push_back(std::move(w));
    static const switchsim::testing::ScratchDir scratch("switchsim-recommend-zero");
    const Run sim = switchsim::testing::run_cli(argv, scratch.path());
    INFO(r["layout"]["text"] << " zero " << r["zero"] << " -> " << sim.err);
    REQUIRE(sim.status == 0);
    const auto s = switchsim::json::parse(sim.out);
    CHECK(s["zero"] == r["zero"]);
    CHECK(s["step_time_s"].get<double>() == Approx(r["step_time_s"].get<double>()).epsilon(1e-12));
    CHECK(s["memory"]["total_bytes"].get<double>() == Approx(r["memory"]["total_bytes"].get<double>()).epsilon(1e-12));
  }
  CHECK(checked == 2);
  // The default search records itself as auto.
  const Run def = run(kSmall + "--json");
  REQUIRE(def.status == 0);
  CHECK(switchsim::json::parse(def.out)["inputs"]["zero"] == "auto");
}

TEST_CASE("cli: recommend human output is a ranked table", "[planner][cli]") {
  const Run r = run(kSmall);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("rank") != std::string::npos);
  CHECK(r.out.find("   1  dp=") != std::string::npos);
  CHECK(r.out.find("Pareto front") != std::string::npos);
}

TEST_CASE("cli: a model that fits nowhere exits 0 with rejections", "[planner][cli]") {
  const Run r = run("--model switch-c --mesh tpuv3-1x1 --json");
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(r.out);
  CHECK(j["recommendations"].empty());
  REQUIRE(!j["rejected"].empty());
  CHECK(j["rejected"][0]["reason"].get<std::string>().find("GiB") != std::string::npos);
}

TEST_CASE("cli: invalid recommend inputs exit 2 with one line naming the flag, no output file", "[planner][cli]") {
  const std::string out = (std::filesystem::temp_directory_path() / ("switchsim_recommend_" + std::to_string(::getpid()) + ".json")).string();
  struct Case {
    std::string args;
    std::string field;
  };
  for (const Case& c : {Case{"--model no-such-model", "--model"}, Case{"--factors 1.0,0", "--factors"},
                        Case{"--factors abc", "--factors"}, Case{"--samples 0", "--samples"},
                        Case{"--objective speed", "--objective"}, Case{"--max-drop 2", "--max-drop"},
                        Case{"--memory-headroom 0", "--memory-headroom"}, Case{"--top 0", "--top"},
                        Case{"--mesh no-such-mesh", "--mesh"}, Case{"--pp 0", "--pp"},
                        Case{"--pp two", "--pp"}, Case{"--pp-schedule zigzag", "--pp-schedule"},
                        Case{"--etp 0", "--etp"}, Case{"--etp some", "--etp"},
                        Case{"--model mixtral-8x7b --mesh dgx-h100-1 --etp 3", "--etp"}}) {
    const Run r = run(c.args + " --out " + out);
    INFO(c.args << " -> " << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.field) != std::string::npos);
    CHECK(!std::filesystem::exists(out));
  }
}
