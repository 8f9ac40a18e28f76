// CLI-level tests: run the built `switchsim` and check exit status, the one
// error line, the files written (or not), and the traces other commands write.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fixtures.hpp"
#include "reports/gnuplot.hpp"
#include "reports/trace_check.hpp"

using namespace switchsim;
using namespace switchsim::reports;
namespace fs = std::filesystem;

namespace {

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Runs `env switchsim args` with stdout and stderr captured.
Run run_switchsim(const std::string& args, const std::string& env = {}) {
  TempDir io(fs::temp_directory_path(), "switchsim-test-cli-");
  const std::string binary = std::string(SWITCHSIM_BINARY_DIR) + "/cli/switchsim";
  const std::string command = (env.empty() ? std::string() : "env " + env + " ") + quote(binary) + " " + args + " >" +
                              quote((io.path() / "out").string()) + " 2>" + quote((io.path() / "err").string());
  const int raw = std::system(command.c_str());
  Run r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(io.path() / "out");
  r.err = slurp(io.path() / "err");
  return r;
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

std::string all_fixture_args() {
  std::string args;
  for (const char* name : {"recommend.json", "capacity.json", "simulate.json", "collective.json", "validate.json"}) {
    args += quote(fixture(name)) + " ";
  }
  return args;
}

}  // namespace

TEST_CASE("cli: report writes report.html, report.md and one SVG per chart", "[reports][cli]") {
  TempDir parent(fs::temp_directory_path(), "switchsim-test-cli-");
  const fs::path out = parent.path() / "report";
  const Run r = run_switchsim("report " + all_fixture_args() + "--out " + quote(out.string()));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("(6 charts)") != std::string::npos);
  const std::string html = slurp(out / "report.html");
  CHECK(html.find("</html>") != std::string::npos);
  std::size_t svgs = 0;
  for (const auto& e : fs::directory_iterator(out / "charts")) svgs += e.path().extension() == ".svg" ? 1 : 0;
  CHECK(svgs == 6);
  CHECK(slurp(out / "report.md").find("](charts/traffic-1.svg)") != std::string::npos);
}

TEST_CASE("cli: bad inputs give one error line naming the file, exit 2, nothing written", "[reports][cli]") {
  TempDir parent(fs::temp_directory_path(), "switchsim-test-cli-");
  const fs::path out = parent.path() / "report";
  for (const char* bad : {"not_a_result.json", "schema_v99.json", "truncated.json", "no_such_file.json"}) {
    // The bad file comes after a good one: nothing may be written for either.
    const Run r = run_switchsim("report " + quote(fixture("recommend.json")) + " " + quote(fixture(bad)) + " --out " +
                                quote(out.string()));
    INFO(bad << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(bad) != std::string::npos);
    CHECK(r.out.empty());
    CHECK(!fs::exists(out));
  }
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(parent.path())) ++entries;
  CHECK(entries == 0);  // no staging folder left behind either
}

TEST_CASE("cli: without gnuplot, report says so and exits 2 writing nothing", "[reports][cli]") {
  TempDir parent(fs::temp_directory_path(), "switchsim-test-cli-");
  const fs::path out = parent.path() / "report";
  const Run r = run_switchsim("report " + all_fixture_args() + "--out " + quote(out.string()),
                              "SWITCHSIM_GNUPLOT=/nonexistent/gnuplot");
  CHECK(r.status == 2);
  CHECK(r.err.find("gnuplot not found") != std::string::npos);
  CHECK(lines(r.err) == 1);
  CHECK(!fs::exists(out));
}

TEST_CASE("cli: report into a folder whose parent is missing is an input error", "[reports][cli]") {
  const Run r = run_switchsim("report " + quote(fixture("capacity.json")) + " --out /nonexistent-parent/report");
  CHECK(r.status == 2);
  CHECK(r.err.find("--out") != std::string::npos);
}

// Runs `collective --trace` on tpuv3-4x4 and checks the trace with `options`
// (expected total: the JSON's time_s).
TraceCheckResult check_collective_trace(TraceCheckOptions options, long long* devices) {
  TempDir dir(fs::temp_directory_path(), "switchsim-test-cli-");
  const fs::path trace = dir.path() / "collective.trace.json";
  const Run r = run_switchsim("collective --mesh tpuv3-4x4 --op all-to-all --bytes 1048576 --json --trace " +
                              quote(trace.string()));
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json result = json::parse(r.out);
  options.expected_total_s = result.at("time_s").get<double>();
  *devices = result.at("devices").get<long long>();
  return check_chrome_trace_file(trace, options);
}

TEST_CASE("cli: collective --trace writes well-formed, ordered events spanning time_s", "[reports][cli][trace]") {
  TraceCheckOptions options;
  options.require_nesting = false;  // see the next test
  long long devices = 0;
  const TraceCheckResult check = check_collective_trace(options, &devices);
  INFO(check.describe());
  CHECK(check.ok());
  // One process (pid) per participating device (32 cores on tpuv3-4x4), its sends on lanes (tids).
  std::set<std::int64_t> pids;
  for (const auto& t : check.tracks) pids.insert(t.pid);
  CHECK(pids.size() == static_cast<std::size_t>(devices));
  CHECK(check.tracks.size() >= pids.size());
}

// Concurrent sends of one device go on separate lanes (sim/trace_lanes.hpp), so
// every track's slices nest or do not overlap, as Perfetto and chrome://tracing need.
TEST_CASE("cli: collective --trace slices on one track nest", "[reports][cli][trace]") {
  long long devices = 0;
  const TraceCheckResult check = check_collective_trace(TraceCheckOptions{}, &devices);
  INFO(check.describe());
  CHECK(check.ok());
}

TEST_CASE("cli: simulate --trace writes a valid Chrome trace spanning step_time_s", "[reports][cli][trace]") {
  TempDir dir(fs::temp_directory_path(), "switchsim-test-cli-");
  const fs::path trace = dir.path() / "step.trace.json";
  const Run r = run_switchsim("simulate --model switch-base --mesh tpuv3-4x4 --capacity-factor 1.25 --json --trace " +
                              quote(trace.string()));
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json result = json::parse(r.out);
  TraceCheckOptions options;
  options.expected_total_s = result.at("step_time_s").get<double>();
  const TraceCheckResult check = check_chrome_trace_file(trace, options);
  INFO(check.describe());
  CHECK(check.ok());
  CHECK(check.complete_events > 0);
}
