// Runs the built `switchsim simulate` with --zero and pipeline stages together (issue 16, part 5):
// the combination that used to be refused now simulates, records its stage and divides the
// optimizer state of the busiest stage by dp.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace {

using switchsim::json;
using switchsim::testing::CliRun;
using switchsim::testing::ScratchDir;

// t5-base (dense) on tpuv3-1x2 (2 chips, 4 cores), dp = 2 x pp = 2, adam.
json simulate(const std::string& zero) {
  const ScratchDir scratch("switchsim-zero-pipeline");
  const std::vector<std::string> args = {"simulate",      "--model",     "t5-base", "--mesh",      "tpuv3-1x2",
                                         "--layout",      "dp=2,pp=2",   "--zero",  zero,          "--optimizer",
                                         "adam",          "--batch-tokens", "4096", "--micro-batches", "2",
                                         "--json"};
  const CliRun r = switchsim::testing::run_cli(args, scratch.path());
  INFO(r.err);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("cli: simulate --layout dp=2,pp=2 --zero 1 succeeds and shards the optimizer state", "[cli][zero][pipeline]") {
  const json z0 = simulate("0");
  const json z1 = simulate("1");
  CHECK_FALSE(z0.contains("zero"));
  CHECK(z1.at("zero") == 1);
  CHECK(z1.at("step_time_s").get<double>() > 0.0);
  CHECK(z1.at("memory_stage") == z0.at("memory_stage"));
  // The same stage's optimizer state over dp = 2 (to within one element per kind and stage boundary).
  const double o0 = z0.at("memory").at("optimizer_bytes").get<double>();
  const double o1 = z1.at("memory").at("optimizer_bytes").get<double>();
  CHECK(o1 == Approx(o0 / 2.0).epsilon(1e-9));
  for (const char* stage : {"2", "3"}) {
    const json z = simulate(stage);
    CHECK(z.at("zero") == std::stoi(stage));
  }
}
