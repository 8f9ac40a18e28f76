// Runs the built `switchsim sweep`: threads give identical files, a killed sweep
// resumes to the same results, bad specs exit 2 with one line and write nothing.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/json_io.hpp"
#include "tests/support/run_cli.hpp"

using switchsim::json;
namespace fs = std::filesystem;
namespace t = switchsim::testing;

namespace {

const std::string kSpec = std::string(SWITCHSIM_SOURCE_DIR) + "/data/examples/sweep_small.json";

t::CliRun sweep(const std::vector<std::string>& extra, const fs::path& scratch) {
  std::vector<std::string> args{"sweep"};
  args.insert(args.end(), extra.begin(), extra.end());
  return t::run_cli(args, scratch);
}

std::size_t count_files(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("cli: sweep gives identical results with 1 and 2 threads; progress only without --json", "[sweep][cli]") {
  const t::ScratchDir scratch("switchsim-sweep-cli");
  const t::CliRun one = sweep({kSpec, "--out", (scratch.path() / "one").string(), "--threads", "1"}, scratch.path());
  REQUIRE(one.status == 0);
  CHECK(one.err.find("sweep: 24 of 24 points") != std::string::npos);
  CHECK(one.out.find("24 points (16 ok, 8 failed)") != std::string::npos);
  const t::CliRun two =
      sweep({kSpec, "--out", (scratch.path() / "two").string(), "--threads", "2", "--json"}, scratch.path());
  REQUIRE(two.status == 0);
  CHECK(two.err.empty());
  const json summary = json::parse(two.out);
  CHECK(summary["command"] == "sweep");
  CHECK(summary["points"] == 24);
  CHECK(summary["failed"] == 8);  // dp=3 on 8 GPUs: each such point fails alone
  CHECK(t::read_text(scratch.path() / "one" / "results.jsonl") == t::read_text(scratch.path() / "two" / "results.jsonl"));
  CHECK(t::read_text(scratch.path() / "one" / "results.csv") == t::read_text(scratch.path() / "two" / "results.csv"));
  CHECK(count_files(scratch.path() / "one" / "points") == 24);
  // A second run into the same folder needs --resume; with it, nothing is left to run.
  const t::CliRun again = sweep({kSpec, "--out", (scratch.path() / "one").string()}, scratch.path());
  CHECK(again.status == 2);
  CHECK(again.err.rfind("switchsim: error: --out:", 0) == 0);
  const t::CliRun resumed =
      sweep({kSpec, "--out", (scratch.path() / "one").string(), "--resume", "--json"}, scratch.path());
  REQUIRE(resumed.status == 0);
  CHECK(json::parse(resumed.out)["resumed"] == 24);
}

TEST_CASE("cli: a sweep killed part-way resumes to the same results", "[sweep][cli]") {
  const t::ScratchDir scratch("switchsim-sweep-kill");
  const fs::path ref = scratch.path() / "ref";
  const fs::path killed = scratch.path() / "killed";
  REQUIRE(sweep({kSpec, "--out", ref.string(), "--threads", "1", "--json"}, scratch.path()).status == 0);
  const int pid = t::spawn_cli({"sweep", kSpec, "--out", killed.string(), "--threads", "1", "--json"});
  // Kill it once a few points are recorded (or let it finish: then the resume has nothing to do).
  int status = -1;
  for (int i = 0; i < 3000 && count_files(killed / "points") < 5; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (status == -1) {
    kill(pid, SIGKILL);
    (void)t::wait_cli(pid);
  }
  const std::size_t recorded = count_files(killed / "points");
  const t::CliRun resumed = sweep({kSpec, "--out", killed.string(), "--resume", "--json"}, scratch.path());
  REQUIRE(resumed.status == 0);
  CHECK(json::parse(resumed.out)["resumed"].get<std::size_t>() >= recorded - 1);  // a temp file is not a point
  CHECK(t::read_text(killed / "results.jsonl") == t::read_text(ref / "results.jsonl"));
}

TEST_CASE("cli: bad sweep specs exit 2 with one line naming the field, nothing written", "[sweep][cli]") {
  const t::ScratchDir scratch("switchsim-sweep-bad");
  const fs::path out = scratch.path() / "out";
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"schema_version": 1, "base": {"model": "switch-base", "mesh": "tpuv3-2x2"}, "axes": {"sead": [1]}})",
       "axes.sead:"},
      {R"({"schema_version": 1, "base": {"model": "switch-base", "mesh": "tpuv3-2x2"}, "axes": {"seed": []}})",
       "axes.seed:"},
      {R"({"schema_version": 1, "base": {"model": "switch-base", "mesh": "tpuv3-2x2"},
           "what_ifs": [{"bandwidth": {"nic": 2}}]})",
       "what_ifs[0].bandwidth.nic:"},
      {R"({"schema_version": 1, "base": {"model": "switch-base", "mesh": "tpuv3-2x2"},
           "what_ifs": [{"nvlink_domain": 16}]})",
       "what_ifs[0].nvlink_domain:"},
      {R"({"schema_version": 1, "base": {"model": "switch-base"}, "axes": {"mesh": ["dgx-h100-1", "dgx-h100-2"]},
           "what_ifs": [{"nvlink_domain": 16}]})",
       "what_ifs[0].nvlink_domain:"},  // 16 does not divide dgx-h100-1's 8 GPUs
      {R"({"schema_version": 1, "command": "recommend", "base": {"model": "switch-base", "mesh": "tpuv3-2x2"},
           "what_ifs": [{"hbm_bytes": 2}]})",
       "what_ifs[0].hbm_bytes:"},
      {R"({"schema_version": 1, "command": "recommend", "base": {"model": "switch-base", "mesh": "tpuv3-2x2",
           "layout": "dp=8,ep=8"}})",
       "base.layout:"},
      {R"({"schema_version": 1, "base": {"model": "switch-base", "mesh": "tpuv3-2x2"},
           "axes": {"seed": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21],
                    "batch_tokens": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21],
                    "capacity_factor": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                        22, 23]}})",
       "--force:"},
  };
  for (const auto& [spec, field] : cases) {
    CAPTURE(field);
    t::write_text(scratch.path() / "spec.json", spec);
    const t::CliRun r = sweep({(scratch.path() / "spec.json").string(), "--out", out.string()}, scratch.path());
    CHECK(r.status == 2);
    CHECK(r.err.rfind("switchsim: error: " + field, 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
    CHECK(!fs::exists(out));
  }
  const t::CliRun threads = sweep({kSpec, "--out", out.string(), "--threads", "-1"}, scratch.path());
  CHECK(threads.status == 2);
  CHECK(!fs::exists(out));
}

TEST_CASE("cli: the report of sweep_small.json's results draws the step time against each varied axis", "[sweep][cli]") {
  const t::ScratchDir scratch("switchsim-sweep-report");
  const fs::path dir = scratch.path() / "s";
  REQUIRE(sweep({kSpec, "--out", dir.string(), "--json"}, scratch.path()).status == 0);
  const fs::path out = scratch.path() / "r";
  const t::CliRun report = t::run_cli({"report", dir.string(), "--out", out.string()}, scratch.path());
  REQUIRE(report.status == 0);
  // sweep_small.json varies capacity_factor (1.0, 2.0), seed (0, 1) and layout (3 points):
  // one line chart per axis, in that order, and one heatmap over the two numeric axes.
  const std::string md = t::read_text(out / "report.md");
  const std::vector<std::pair<std::string, std::string>> axes{
      {"sweep-axis-1", "capacity_factor"}, {"sweep-axis-2", "seed"}, {"sweep-axis-3", "layout"}};
  for (const auto& [name, axis] : axes) {
    const fs::path svg = out / "charts" / (name + ".svg");
    REQUIRE(fs::exists(svg));
    const std::string text = t::read_text(svg);
    CHECK(text.find("<svg") != std::string::npos);
    CHECK(text.find(axis) != std::string::npos);  // the x axis's label
    CHECK(md.find("](charts/" + name + ".svg)") != std::string::npos);
    CHECK(md.find("median step time (ms) against " + axis) != std::string::npos);
  }
  CHECK(t::read_text(out / "charts" / "sweep-axis-1.svg").find("NVLink x2") != std::string::npos);  // the what-if's line
  const fs::path heat = out / "charts" / "sweep-heatmap-1.svg";
  REQUIRE(fs::exists(heat));
  CHECK(t::read_text(heat).find("capacity_factor") != std::string::npos);
  CHECK(t::read_text(heat).find("seed") != std::string::npos);
  CHECK_FALSE(fs::exists(out / "charts" / "sweep-heatmap-2.svg"));  // layout is not numeric
  const std::string html = t::read_text(out / "report.html");
  CHECK(html.find("data:image/svg+xml;base64,") != std::string::npos);
  CHECK(html.find("<h3>layout</h3>") != std::string::npos);
}
