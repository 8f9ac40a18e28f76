// Runs the built `switchsim simulate --trace`: slices carry args, identical
// devices are written once with a note (all of them with --trace-all-devices),
// and the trace checker (reports/trace_check.hpp) accepts both files.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "reports/trace_check.hpp"

namespace {

using switchsim::json;
using switchsim::testing::CliRun;
using switchsim::testing::ScratchDir;

struct Traced {
  json result;  // simulate's --json
  json trace;
  std::map<std::int64_t, std::string> process;  // pid -> process name
  switchsim::reports::TraceCheckResult check;
};

// switch-base on tpuv3-4x4 (32 TPU v3 cores, a torus: every core's position is
// the same up to a symmetry of the mesh, and capacity mode pads every
// all-to-all to the same bytes), so all 32 timelines are identical.
Traced simulate_traced(const std::vector<std::string>& extra) {
  const ScratchDir scratch("switchsim-step-trace");
  const auto trace = scratch.path() / "step.trace.json";
  std::vector<std::string> args = {"simulate", "--model", "switch-base", "--mesh", "tpuv3-4x4", "--micro-batches", "1",
                                   "--json", "--trace", trace.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const CliRun r = switchsim::testing::run_cli(args, scratch.path());
  INFO(r.err);
  REQUIRE(r.status == 0);
  Traced t;
  t.result = json::parse(r.out);
  t.trace = json::parse(switchsim::testing::read_text(trace));
  for (const json& e : t.trace.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "process_name") t.process[e.at("pid")] = e.at("args").at("name");
  }
  switchsim::reports::TraceCheckOptions options;
  options.expected_total_s = t.result.at("step_time_s").get<double>();
  t.check = switchsim::reports::check_chrome_trace(t.trace, options);
  return t;
}

std::set<std::string> device_processes(const Traced& t) {
  std::set<std::string> names;
  for (const auto& [pid, name] : t.process) {
    if (name.rfind("device", 0) == 0) names.insert(name);
  }
  return names;
}

}  // namespace

TEST_CASE("cli: simulate --trace slices carry args: FLOPs on compute, bytes and group on collectives",
          "[workloads][cli][trace]") {
  const Traced t = simulate_traced({});
  INFO(t.check.describe());
  CHECK(t.check.ok());
  bool compute = false, all_to_all = false, all_reduce = false;
  for (const json& e : t.trace.at("traceEvents")) {
    if (e.at("ph") != "X") continue;
    REQUIRE(e.contains("args"));
    const json& a = e.at("args");
    CHECK(a.at("op") == e.at("name"));
    CHECK(a.at("kind") == e.at("cat"));
    CHECK(a.at("bytes").get<double>() >= 0.0);
    if (a.at("kind") == "compute") {
      compute = compute || a.at("flops").get<double>() > 0.0;
    } else {
      CHECK(a.at("group_size").get<int>() >= 1);
      CHECK(a.at("members").is_string());
      CHECK(a.contains("group"));
      CHECK(a.contains("partition"));
      if (a.at("kind") == "all_to_all") all_to_all = all_to_all || a.at("bytes").get<double>() > 0.0;
      if (a.at("kind") == "all_reduce") all_reduce = all_reduce || a.at("bytes").get<double>() > 0.0;
    }
  }
  CHECK(compute);
  CHECK(all_to_all);
  CHECK(all_reduce);
}

TEST_CASE("cli: simulate --trace writes identical devices once, --trace-all-devices writes each",
          "[workloads][cli][trace]") {
  const Traced once = simulate_traced({});
  const Traced all = simulate_traced({"--trace-all-devices"});
  INFO(once.check.describe() << all.check.describe());
  CHECK(once.check.ok());
  CHECK(all.check.ok());
  CHECK(device_processes(once) == std::set<std::string>{"devices 0-31 (identical timelines)"});
  const std::set<std::string> each = device_processes(all);
  CHECK(each.size() == 32);
  CHECK(each.count("device 0") == 1);
  CHECK(each.count("device 31") == 1);
  // The link-utilisation counters stay in both.
  for (const Traced* t : {&once, &all}) {
    bool counters = false;
    for (const json& e : t->trace.at("traceEvents")) counters = counters || e.at("ph") == "C";
    CHECK(counters);
  }
  // One device's slices in the first, 32 devices' in the second.
  CHECK(all.check.complete_events == 32 * once.check.complete_events);
}

TEST_CASE("cli: --trace-all-devices without --trace is refused", "[workloads][cli][trace]") {
  const ScratchDir scratch("switchsim-step-trace");
  const CliRun r = switchsim::testing::run_cli(
      {"simulate", "--model", "switch-base", "--mesh", "tpuv3-2x2", "--trace-all-devices"}, scratch.path());
  CHECK(r.status == 2);
  CHECK(r.err.find("--trace-all-devices") != std::string::npos);
  CHECK(r.out.empty());
}
