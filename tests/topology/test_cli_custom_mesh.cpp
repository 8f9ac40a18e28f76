// Custom mesh files through the built `switchsim`: the oversubscribed fat-tree
// example of docs/topology.md against its non-blocking equivalent (times from
// the link loads, derived below), and the label every command prints (the
// file's "name", not its path).
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace {

using switchsim::json;
using switchsim::testing::CliRun;

const std::string kExamples = std::string(SWITCHSIM_SOURCE_DIR) + "/data/examples/";
const std::string kOversubscribed = kExamples + "fat_tree_16_2to1.json";
const std::string kNonBlocking = kExamples + "fat_tree_16_1to1.json";

CliRun run(const std::vector<std::string>& args) {
  static const switchsim::testing::ScratchDir scratch("switchsim-custom-mesh-cli");
  return switchsim::testing::run_cli(args, scratch.path());
}

json run_json(std::vector<std::string> args) {
  args.emplace_back("--json");
  const CliRun r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

// The effective rate (bandwidth x efficiency) of the mesh's links of `kind`, from `topology --json`.
double effective_Bps(const std::string& mesh, const std::string& kind) {
  const json t = run_json({"topology", "--mesh", mesh});
  for (const json& k : t.at("link_kinds")) {
    if (k.at("kind") == kind) return k.at("bandwidth_Bps").get<double>() * k.at("efficiency").get<double>();
  }
  FAIL("no " << kind << " links in " << mesh);
  return 0.0;
}

}  // namespace

// 16 GPUs, 4 per leaf, 2 spines; NICs of rate B (50 GB/s x efficiency). A uniform
// all-to-all of S bytes per device sends S/16 to each of the 15 others.
//   Non-blocking (each leaf-spine link 2B): a GPU's NIC carries 15S/16 out and 15S/16 in;
//     a leaf's uplinks carry 4 x 12 x S/16 = 3S over 4B, less than a NIC's share. Max-min
//     gives all 15 flows of a NIC B/15 each: T = 15S/(16B) + latencies.
//   2:1 (each leaf-spine link B): the 48 cross-leaf flows of a leaf share 2B of uplink, B/24
//     each, whatever the NICs do: T >= 3S/(2B) = 24S/(16B) (a cut bound no schedule beats),
//     and max-min reaches it (the cross-leaf flows are the slowest and are never held back
//     elsewhere): T = 24S/(16B) + latencies.
// The ratio of the bandwidth terms is 24/15 = 1.6; the latencies (4 hops, 4 us, plus
// per-message overheads) are the same on both and small against S = 1 GiB.
TEST_CASE("custom mesh: a 2:1 oversubscribed fat-tree slows a cross-leaf all-to-all by 24/15", "[topology][cli]") {
  const double S = 1073741824.0;
  const double B = effective_Bps(kOversubscribed, "nic");
  CHECK(effective_Bps(kOversubscribed, "fabric") == Approx(B));          // uplinks: one port each
  CHECK(effective_Bps(kNonBlocking, "fabric") == Approx(2.0 * B));       // two ports each
  const auto time_of = [&](const std::string& mesh) {
    return run_json({"collective", "--mesh", mesh, "--op", "all-to-all", "--bytes", "1GiB"}).at("time_s").get<double>();
  };
  const double t_nb = time_of(kNonBlocking);
  const double t_os = time_of(kOversubscribed);
  const double bw_nb = 15.0 * S / (16.0 * B);
  const double bw_os = 24.0 * S / (16.0 * B);
  constexpr double kLatencies_s = 20e-6;  // generous: 4 us of hops plus per-message overheads
  CHECK(t_nb >= bw_nb * (1.0 - 1e-9));
  CHECK(t_nb <= bw_nb + kLatencies_s);
  CHECK(t_os >= bw_os * (1.0 - 1e-9));
  CHECK(t_os <= bw_os + kLatencies_s);
  CHECK(t_os / t_nb > 1.6 * (1.0 - 1e-3));
  CHECK(t_os / t_nb <= 1.6);
}

TEST_CASE("custom mesh: a Switch step is slower on the oversubscribed fat-tree", "[topology][cli]") {
  const auto step = [&](const std::string& mesh) {
    return run_json({"simulate", "--model", "switch-base", "--mesh", mesh, "--micro-batches", "1"});
  };
  const json nb = step(kNonBlocking);
  const json os = step(kOversubscribed);
  CHECK(os.at("step_time_s").get<double>() > nb.at("step_time_s").get<double>());
  CHECK(os.at("breakdown").dump() != nb.at("breakdown").dump());
}

TEST_CASE("custom mesh: every command labels the mesh by its name, not its path", "[topology][cli]") {
  const std::string name = "fat-tree-16-2to1";
  const std::string m = kOversubscribed;
  SECTION("collective") {
    const json j = run_json({"collective", "--mesh", m, "--op", "all-reduce", "--bytes", "1MiB"});
    CHECK(j.at("mesh") == name);
    CHECK(j.at("mesh_file") == m);
    const CliRun r = run({"collective", "--mesh", m, "--op", "all-reduce", "--bytes", "1MiB"});
    CHECK(r.out.find("on " + name + " (16 devices") != std::string::npos);
    CHECK(r.out.find(".json") == std::string::npos);
  }
  SECTION("simulate") {
    const std::vector<std::string> args = {"simulate", "--model", "switch-base", "--mesh", m, "--micro-batches", "1"};
    const json j = run_json(args);
    CHECK(j.at("mesh") == name);
    CHECK(j.at("mesh_file") == m);
    const CliRun r = run(args);
    CHECK(r.out.rfind("switch-base on " + name + " (16 devices)", 0) == 0);
    CHECK(r.out.find(".json") == std::string::npos);
  }
  SECTION("capacity") {
    const std::vector<std::string> args = {"capacity", "--model", "switch-base", "--mesh", m, "--factors", "1.0",
                                           "--samples", "1"};
    const json j = run_json(args);
    CHECK(j.at("mesh") == name);
    CHECK(j.at("mesh_file") == m);
    const CliRun r = run(args);
    CHECK(r.out.rfind("switch-base on " + name + ",", 0) == 0);
    CHECK(r.out.find(".json") == std::string::npos);
  }
  SECTION("recommend") {
    const std::vector<std::string> args = {"recommend", "--model", "switch-base", "--mesh", m, "--factors", "1.0",
                                           "--top", "1", "--samples", "1"};
    const json j = run_json(args);
    CHECK(j.at("inputs").at("mesh") == name);
    CHECK(j.at("inputs").at("mesh_file") == m);
    const CliRun r = run(args);
    CHECK(r.out.find("switch-base on " + name + " (16 h100 devices)") != std::string::npos);
    CHECK(r.out.find(".json") == std::string::npos);
  }
}
