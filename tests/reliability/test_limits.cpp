// Resource limits and interruption (issue 7): requests too large for this machine
// are refused up front with an estimate and the override flag; a long command
// stopped by SIGINT leaves no file and no temporary file behind.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/run_cli.hpp"

namespace {

using switchsim::testing::read_text;
using switchsim::testing::run_cli;
using switchsim::testing::ScratchDir;
using switchsim::testing::snapshot;
using switchsim::testing::write_text;

}  // namespace

TEST_CASE("limits: an all-to-all too large for memory is refused up front", "[reliability][limits]") {
  ScratchDir dir("switchsim-limits-");
  const std::string out = (dir.path() / "out.json").string();
  // tpuv4-32x32x32: 32768 devices; a direct all-to-all is n(n-1) = 1.07e9 flows, at the
  // 256 bytes per flow of the estimate about 256 GiB: more than half of any machine here.
  const auto t0 = std::chrono::steady_clock::now();
  const auto run = run_cli({"collective", "--mesh", "tpuv4-32x32x32", "--op", "all-to-all", "--bytes", "1MiB",
                            "--out", out},
                           dir.path());
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("stderr: " << run.err);
  CHECK(run.status == 2);
  CHECK(run.err.find("GiB") != std::string::npos);      // the estimate
  CHECK(run.err.find("--force") != std::string::npos);  // the way to override
  CHECK(snapshot(dir.path()).empty());
  // Refused before simulating: a simulation of 1e9 flows would take far longer than this.
  CHECK(wall_s < 120.0);
}

TEST_CASE("limits: a capacity sweep that would take days is refused up front", "[reliability][limits]") {
  ScratchDir dir("switchsim-limits-");
  const std::string out = (dir.path() / "out.json").string();
  // 5 factors x 1e9 samples: at even 1 us per step, 5000 s > the one-hour limit.
  const auto run = run_cli({"capacity", "--model", "switch-base", "--mesh", "tpuv3-2x2", "--batch-tokens", "65536",
                            "--samples", "1000000000", "--out", out},
                           dir.path());
  INFO("stderr: " << run.err);
  CHECK(run.status == 2);
  CHECK(run.err.find("--samples") != std::string::npos);
  CHECK(run.err.find("hours") != std::string::npos);
  CHECK(run.err.find("--force") != std::string::npos);
  CHECK(snapshot(dir.path()).empty());
}

TEST_CASE("limits: simulate, capacity and recommend on a 32768-device mesh are refused up front",
          "[reliability][limits]") {
  // tpuv4-32x32x32: the default layout puts all 32768 devices in one data-parallel
  // all-reduce, about 2 n (n-1) = 2.1e9 flows, at 256 bytes each about 550 GB
  // (workloads/resource_estimate.hpp): far beyond half of any machine here.
  // 2^24 tokens = 32768 sequences of 512: one per device.
  const std::vector<std::vector<std::string>> commands = {
      {"simulate", "--model", "switch-base", "--mesh", "tpuv4-32x32x32", "--batch-tokens", "16777216"},
      {"capacity", "--model", "switch-base", "--mesh", "tpuv4-32x32x32", "--batch-tokens", "16777216"},
      {"recommend", "--model", "switch-base", "--mesh", "tpuv4-32x32x32", "--batch-tokens", "16777216"},
  };
  for (auto args : commands) {
    ScratchDir dir("switchsim-limits-");
    args.insert(args.end(), {"--out", (dir.path() / "out.json").string()});
    const auto t0 = std::chrono::steady_clock::now();
    const auto run = run_cli(args, dir.path());
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(args[0] << " stderr: " << run.err);
    CHECK(run.status == 2);
    CHECK(run.err.find("--mesh") != std::string::npos);
    CHECK(run.err.find("GiB") != std::string::npos);      // the estimate
    CHECK(run.err.find("--force") != std::string::npos);  // the way to override
    CHECK(snapshot(dir.path()).empty());
    CHECK(wall_s < 120.0);  // refused before simulating anything
  }
}

TEST_CASE("limits: SIGINT stops a long sweep and leaves no partial or temporary file", "[reliability][limits]") {
  ScratchDir dir("switchsim-limits-");
  const auto out = dir.path() / "out.json";
  write_text(out, "SENTINEL\n");
  const auto before = snapshot(dir.path());
  // About 1000 x 5 steps: minutes of work, well under the one-hour limit, so it runs.
  const int pid = switchsim::testing::spawn_cli({"capacity", "--model", "switch-base", "--mesh", "tpuv3-2x2",
                                                     "--batch-tokens", "65536", "--samples", "1000", "--out",
                                                     out.string()});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE(::kill(pid, SIGINT) == 0);
  const int status = switchsim::testing::wait_cli(pid);
  // Killed by SIGINT (128 + 2), not finished: had it finished, out.json would have changed.
  CHECK(status == 128 + SIGINT);
  CHECK(read_text(out) == "SENTINEL\n");
  CHECK(snapshot(dir.path()) == before);  // no .out.json.tmp.XXXXXX either
}

TEST_CASE("limits: a step whose gradient buckets would overlap huge all-to-alls offers the faster models",
          "[reliability][limits]") {
  // DeepSeek-V3's default layout on 256 H100s (dp = ep = 256, bucketed sync, shared network):
  // ~1300 buckets x 510 ring rounds, each re-solving the 65,280 flows of an all-to-all
  // (workloads/resource_estimate.cpp, overlap_cpu_s): hours. Fused sync does not overlap.
  ScratchDir dir("switchsim-limits-");
  const std::string out = (dir.path() / "out.json").string();
  const auto run = run_cli({"simulate", "--model", "deepseek-v3", "--mesh", "dgx-h100-32", "--out", out}, dir.path());
  INFO("stderr: " << run.err);
  CHECK(run.status == 2);
  CHECK(run.err.find("hours of CPU") != std::string::npos);
  CHECK(run.err.find("--grad-sync fused") != std::string::npos);
  CHECK(run.err.find("--network-model isolated") != std::string::npos);
  CHECK(snapshot(dir.path()).empty());
}
