// What `calibrate` writes, the other commands read: a measured CPU profile goes
// straight into `validate` and `simulate --profile` (every command's JSON carries
// `command`, which the strict profile reader once refused). And `validate
// --max-mape` gates: exit 1 above the bar, with the figures still written.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/run_cli.hpp"

namespace {

using switchsim::testing::read_text;
using switchsim::testing::run_cli;
using switchsim::testing::ScratchDir;

}  // namespace

TEST_CASE("calibrate -> validate -> simulate: the profile round-trips; validate --max-mape gates", "[reliability][profile]") {
  ScratchDir dir("switchsim-profile-");
  const std::string profile = (dir.path() / "cpu.json").string();
  const auto cal = run_cli({"calibrate", "--backend", "cpu", "--quick", "--seconds-per-shape", "0.02", "--out", profile},
                           dir.path());
  INFO("calibrate stderr: " << cal.err);
  REQUIRE(cal.status == 0);
  REQUIRE(nlohmann::json::parse(read_text(profile)).at("command") == "calibrate");

  // The bar 0%: a measured kernel never matches its prediction exactly, so the MAPE exceeds it.
  const std::string strict = (dir.path() / "strict.json").string();
  const auto fail = run_cli({"validate", "--backend", "cpu", "--profile", profile, "--quick", "--seconds-per-shape",
                             "0.02", "--max-mape", "0", "--out", strict},
                            dir.path());
  INFO("validate stderr: " << fail.err);
  CHECK(fail.status == 1);
  CHECK(fail.err.find("--max-mape") != std::string::npos);
  const nlohmann::json r = nlohmann::json::parse(read_text(strict));  // the figures are still written
  CHECK(r.at("mape").get<double>() > 0.0);
  CHECK(r.at("max_mape_percent").get<double>() == 0.0);

  // A bar no error reaches: exit 0 (when the drop checks match, as they must on the CPU).
  const auto pass = run_cli({"validate", "--backend", "cpu", "--profile", profile, "--quick", "--seconds-per-shape",
                             "0.02", "--max-mape", "1e9", "--out", (dir.path() / "loose.json").string()},
                            dir.path());
  INFO("validate stderr: " << pass.err);
  CHECK(pass.status == 0);

  // A roofline profile that calibrate writes for a catalog device feeds simulate on that device's mesh.
  const std::string h100 = (dir.path() / "h100.json").string();
  const auto roof = run_cli({"calibrate", "--backend", "roofline", "--device", "h100", "--out", h100}, dir.path());
  INFO("calibrate stderr: " << roof.err);
  REQUIRE(roof.status == 0);
  const auto sim = run_cli({"simulate", "--model", "switch-base", "--mesh", "dgx-h100-1", "--batch-tokens", "65536",
                            "--profile", h100, "--json"},
                           dir.path());
  INFO("simulate stderr: " << sim.err);
  CHECK(sim.status == 0);
}
