// Runs the built `switchsim` on the machines of today (issue 15): list, topology, simulate
// (bf16 and fp8), capacity, recommend and report on the new meshes; the refusals' one line.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <filesystem>
#include <string>

#include "common/json_io.hpp"

namespace {

using Run = switchsim::testing::CliRun;

Run run(const std::string& args) {
  static const switchsim::testing::ScratchDir scratch("switchsim-current-machines-cli");
  return switchsim::testing::run_cli(switchsim::testing::split_args(args), scratch.path());
}

int lines(const std::string& s) {
  int count = 0;
  for (char c : s) count += c == '\n' ? 1 : 0;
  return count;
}

}  // namespace

TEST_CASE("cli: list shows the new devices and meshes", "[cli][issue15]") {
  const Run d = run("list devices");
  REQUIRE(d.status == 0);
  for (const char* kind : {"h800", "b200", "gb200", "tpuv5p", "tpuv5e"}) CHECK(d.out.find(kind) != std::string::npos);
  const Run m = run("list meshes --json");
  REQUIRE(m.status == 0);
  const auto j = switchsim::json::parse(m.out);
  std::string names;
  for (const auto& item : j["items"]) names += item["name"].get<std::string>() + " ";
  for (const char* mesh : {"dgx-h800-1", "dgx-b200-1", "gb200-nvl72-1", "tpuv5p-4x4x4", "tpuv5e-16x16"}) {
    CHECK(names.find(mesh) != std::string::npos);
  }
}

TEST_CASE("cli: topology of a GB200 NVL72 rack and a bad slice", "[cli][issue15]") {
  const Run r = run("topology --mesh gb200-nvl72-1 --json");
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(r.out);
  CHECK(j["devices"] == 72);
  CHECK(j["device_kind"] == "gb200");
  CHECK(j["bisection_bandwidth_Bps"].get<double>() == Approx(36 * 900e9));
  const Run bad = run("topology --mesh tpuv5e-32x32");
  CHECK(bad.status == 2);
  CHECK(lines(bad.err) == 1);
  CHECK(bad.err.find("tpuv5e-32x32") != std::string::npos);
  CHECK(bad.out.empty());
}

TEST_CASE("cli: mixtral-8x7b on dgx-b200-1, bf16 and fp8 with FP8 dispatch", "[cli][issue15][fp8]") {
  const std::string base = "simulate --model mixtral-8x7b --mesh dgx-b200-1 --layout dp=8,ep=8 --mode dropless "
                           "--optimizer adam --batch-tokens 32768 --micro-batches 1 --json";
  const Run a = run(base);
  REQUIRE(a.status == 0);
  const Run b = run(base + " --precision fp8 --fp8-dispatch");
  REQUIRE(b.status == 0);
  const auto ja = switchsim::json::parse(a.out);
  const auto jb = switchsim::json::parse(b.out);
  CHECK(ja["precision"] == "bf16");
  CHECK(jb["precision"] == "fp8");
  CHECK(jb["fp8_dispatch"] == true);
  CHECK(jb["step_time_s"].get<double>() < ja["step_time_s"].get<double>());
}

TEST_CASE("cli: fp8 on a device without it is one line naming the flag and the device, exit 2", "[cli][issue15][fp8]") {
  for (const std::string cmd :
       {"simulate --model switch-base --mesh tpuv3-2x2 --batch-tokens 8192 --precision fp8",
        "capacity --model switch-base --mesh tpuv5e-4x4 --batch-tokens 16384 --factors 1.0 --precision fp8"}) {
    INFO(cmd);
    const Run r = run(cmd);
    CHECK(r.status == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find("--precision") != std::string::npos);
    CHECK(r.out.empty());
  }
  const Run r = run("recommend --model switch-base --mesh dgx-a100-1 --batch-tokens 8192 --precision fp8");
  CHECK(r.status == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("a100") != std::string::npos);
  const Run d = run("simulate --model switch-base --mesh dgx-h100-1 --batch-tokens 8192 --fp8-dispatch");
  CHECK(d.status == 2);
  CHECK(d.err.find("--fp8-dispatch") != std::string::npos);
}

TEST_CASE("cli: a Switch model on tpuv5e-4x4: simulate, capacity, recommend, report", "[cli][issue15]") {
  static const switchsim::testing::ScratchDir scratch("switchsim-current-machines-report");
  const std::filesystem::path sim = scratch.path() / "sim.json";
  const Run s = run("simulate --model switch-base --mesh tpuv5e-4x4 --layout dp=16,ep=16 --batch-tokens 16384 --json --out " +
                    sim.string());
  REQUIRE(s.status == 0);
  const Run c = run("capacity --model switch-base --mesh tpuv5e-4x4 --layout dp=16,ep=16 --batch-tokens 16384 "
                    "--factors 1.0,2.0 --samples 1 --no-progress --json");
  REQUIRE(c.status == 0);
  CHECK(switchsim::json::parse(c.out)["mesh"] == "tpuv5e-4x4");
  CHECK(switchsim::json::parse(c.out)["precision"] == "bf16");
  const Run rec = run("recommend --model switch-base --mesh tpuv5e-4x4 --batch-tokens 16384 --factors 1.0 --samples 1 "
                      "--top 2 --no-progress --json");
  REQUIRE(rec.status == 0);
  CHECK(!switchsim::json::parse(rec.out)["recommendations"].empty());
  const Run rep = run("report " + sim.string() + " --out " + (scratch.path() / "report").string());
  CHECK(rep.status == 0);
  CHECK(std::filesystem::exists(scratch.path() / "report" / "report.md"));
}
