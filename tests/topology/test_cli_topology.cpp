// Runs the built `switchsim` binary: JSON output, exit statuses, error lines.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/json_io.hpp"

namespace {

using Run = switchsim::testing::CliRun;

// Runs the built switchsim with space-separated `args`.
Run run(const std::string& args) {
  static const switchsim::testing::ScratchDir scratch("switchsim-topology-cli");
  std::vector<std::string> argv{};
  for (auto& w : switchsim::testing::split_args(args)) argv.push_back(std::move(w));
  return switchsim::testing::run_cli(argv, scratch.path());
}

int lines(const std::string& s) {
  int count = 0;
  for (char c : s) count += c == '\n' ? 1 : 0;
  return count;
}

}  // namespace

TEST_CASE("cli: tpuv3-32x32 topology JSON", "[cli]") {
  const Run r = run("topology --mesh tpuv3-32x32 --json");
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(r.out);
  CHECK(j["schema_version"] == switchsim::kSchemaVersion);
  CHECK(j["mesh"] == "tpuv3-32x32");
  CHECK(j["devices"] == 2048);
  CHECK(j["switches"] == 1024);
  // 2048 on-chip duplex + 2 dims x 1024 ICI duplex = 4096 duplex = 8192 directed.
  CHECK(j["links"] == 8192);
  CHECK(j["bisection_bandwidth_Bps"].get<double>() == Approx(6.4e12));
  CHECK(j["diameter_hops"] == 34);
  CHECK(j.contains("average_hops"));
  CHECK(j["provenance"]["tool"] == "switchsim");
}

TEST_CASE("cli: a DGX H100 cluster reports the catalog NVLink and NIC figures", "[cli]") {
  const Run r = run("topology --mesh dgx-h100-16 --json");
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(r.out);
  CHECK(j["devices"] == 128);
  bool nvlink = false;
  bool nic = false;
  for (const auto& k : j["link_kinds"]) {
    if (k["kind"] == "nvlink") {
      nvlink = true;
      CHECK(k["bandwidth_Bps"].get<double>() == 450e9);
      CHECK(k["directed_links"] == 256);
    }
    if (k["kind"] == "nic") {
      nic = true;
      CHECK(k["bandwidth_Bps"].get<double>() == 50e9);
      CHECK(k["source"].contains("bandwidth_Bps"));
    }
  }
  CHECK(nvlink);
  CHECK(nic);
  // Nodes 0-7 against 8-15 through a non-blocking fat-tree: 64 NICs x 50 GB/s.
  CHECK(j["bisection_bandwidth_Bps"].get<double>() == Approx(3.2e12));
}

TEST_CASE("cli: human summary and --out", "[cli]") {
  const auto out = std::filesystem::temp_directory_path() / "switchsim_cli_topology_test.json";
  std::filesystem::remove(out);
  const Run r = run("topology --mesh tpuv3-4x4 --out " + out.string());
  REQUIRE(r.status == 0);
  CHECK(r.out.find("bisection") != std::string::npos);
  const auto j = switchsim::read_json_file(out, "test");
  CHECK(j["devices"] == 32);
  std::filesystem::remove(out);
}

TEST_CASE("cli: list devices and meshes", "[cli]") {
  const Run d = run("list devices --json");
  REQUIRE(d.status == 0);
  const auto dj = switchsim::json::parse(d.out);
  CHECK(dj["items"].size() == 11);  // data/devices.json: ten accelerators and the host cpu
  const Run m = run("list meshes");
  REQUIRE(m.status == 0);
  CHECK(m.out.find("tpuv3-32x32") != std::string::npos);
  CHECK(m.out.find("cpu-1") != std::string::npos);
}

TEST_CASE("cli: bad input is one line on stderr and exit status 2", "[cli][errors]") {
  const auto bad_file = std::filesystem::temp_directory_path() / "switchsim_cli_bad_mesh.json";
  {
    FILE* f = std::fopen(bad_file.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(R"({"device_kind": "h100", "vertices": [{"name": "a", "kind": "device"}, {"name": "b", "kind": "device"}],
                   "links": [{"src": "a", "dst": "b", "bandwidth_Bps": -1, "latency_s": 0, "kind": "nvlink"}]})",
               f);
    std::fclose(f);
  }
  struct Case {
    std::string args;
    std::string names;  // what the error line must mention
  };
  const Case cases[] = {
      {"topology --mesh tpuv9-4x4", "--mesh"},
      {"topology --mesh " + bad_file.string(), "mesh.links[0].bandwidth_Bps"},
      {"topology --mesh tpuv3-4x4 --frobnicate", "--frobnicate"},
      {"topology", "--mesh"},
      {"topologyy --mesh tpuv3-4x4", "error"},  // main.cpp's CLI11 message does not name the word yet
      {"list widgets", "widgets"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const Run r = run(c.args);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.names) != std::string::npos);
  }
  std::filesystem::remove(bad_file);
}
