// Runs the built `switchsim validate --step` (a real CPU training step of switch-tiny-cpu against
// its simulated step) with a synthetic profile: JSON fields, exit statuses, error lines. Nothing
// here depends on how accurate the timing is.
#include <catch2/catch.hpp>

#include "tests/kernels/synthetic_profile.hpp"
#include "tests/support/run_cli.hpp"

#include <filesystem>
#include <string>

#include "common/json_io.hpp"

namespace {

using Run = switchsim::testing::CliRun;
namespace st = switchsim::testing;

const st::ScratchDir& scratch() {
  static const st::ScratchDir dir("switchsim-validate-step-cli");
  return dir;
}

std::string profile_file(const std::string& name, const std::vector<std::string>& without = {}) {
  const auto path = scratch().path() / name;
  st::write_text(path, st::synthetic_cpu_profile(without).dump());
  return path.string();
}

Run run(const std::string& args) { return st::run_cli(st::split_args(args), scratch().path()); }

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("cli: validate --step --json has every field", "[cli][validate_step]") {
  const std::string profile = profile_file("full.json");
  const Run r = run("validate --step --backend cpu --quick --json --profile " + profile);
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(r.out);
  CHECK(j["command"] == "validate");
  CHECK(j["profile"] == profile);
  CHECK(j["model"]["name"] == "switch-tiny-cpu");
  CHECK(j["model"]["parameters"].get<double>() > 0.0);
  CHECK(j["protocol"]["timed_steps"] == 3);
  CHECK(j["protocol"].contains("blas_threads"));
  CHECK(j["measured"]["step"]["median_s"].get<double>() > 0.0);
  CHECK(j["predicted"]["step_s"].get<double>() > 0.0);
  for (const char* phase : {"forward", "backward", "optimizer"}) {
    for (const char* k : {"median_s", "p10_s", "p90_s"}) CHECK(j["measured"]["phases"][phase][k].get<double>() > 0.0);
    CHECK(j["predicted"]["phases"][phase].get<double>() > 0.0);
    CHECK(j["errors"]["phases"][phase].is_number());
  }
  for (const char* cat : {"matmul", "attention", "router", "dispatch", "expert_ffn", "combine", "elementwise", "optimizer"}) {
    CHECK(j["errors"]["categories"][cat].is_number());
    CHECK(j["predicted"]["categories"][cat]["time_source"] == "profile");
  }
  CHECK(j["errors"]["step"].is_number());
  CHECK(j["errors"]["step_op_medians"].is_number());
  // The per-op medians' sum is what op_times lists, added up.
  double sum = 0.0;
  for (const auto& op : j["op_times"]) sum += op["measured_median_s"].get<double>();
  CHECK(j["measured"]["step_op_medians_s"].get<double>() == Approx(sum).epsilon(1e-9));
  CHECK(j.contains("not_priced"));
  CHECK(j.contains("not_run"));
  CHECK(j["kind"] == "validate_step");
  CHECK(j["schema_version"] == switchsim::kSchemaVersion);
  // `report` reads validate's kernel cases, not a step: it says so in one line.
  const auto result = scratch().path() / "step-result.json";
  st::write_text(result, r.out);
  const Run report = run("report " + result.string() + " --out " + (scratch().path() / "report").string());
  CHECK(report.status == 2);
  CHECK(lines(report.err) == 1);
  CHECK(report.err.find("validate --step") != std::string::npos);
}

TEST_CASE("cli: validate --step --max-error gates; bad input exits 2 with one line", "[cli][validate_step]") {
  const std::string profile = profile_file("gate.json");
  // The synthetic profile is not this machine: its error is never exactly 0.
  const Run over = run("validate --step --backend cpu --quick --max-error 0 --profile " + profile);
  CHECK(over.status == 1);
  CHECK(over.out.find("step") != std::string::npos);  // the figures are printed first
  CHECK(over.err.find("--max-error") != std::string::npos);

  const Run negative = run("validate --step --backend cpu --quick --max-error -1 --profile " + profile);
  CHECK(negative.status == 2);
  CHECK(lines(negative.err) == 1);
  CHECK(negative.err.find("--max-error") != std::string::npos);
  CHECK(negative.out.empty());

  const Run lacking =
      run("validate --step --backend cpu --quick --profile " + profile_file("no-attention.json", {"attention"}));
  CHECK(lacking.status == 2);
  CHECK(lines(lacking.err) == 1);
  CHECK(lacking.err.find("attention") != std::string::npos);

  const Run cuda = run("validate --step --backend cuda --quick --profile " + profile);
  CHECK(cuda.status == 2);
  CHECK(lines(cuda.err) == 1);

  const Run without_step = run("validate --backend cpu --max-error 5 --profile " + profile);
  CHECK(without_step.status == 2);
  CHECK(without_step.err.find("--max-error") != std::string::npos);

  const std::string out = (scratch().path() / "never.json").string();
  const Run no_file = run("validate --step --backend cpu --quick --max-error -3 --out " + out + " --profile " + profile);
  CHECK(no_file.status == 2);
  CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("cli: simulate on cpu-1 prices with the profile; without one exits 2 with one line", "[cli][validate_step]") {
  const std::string profile = profile_file("simulate.json");
  const std::string base =
      "simulate --model " + std::string(SWITCHSIM_SOURCE_DIR) +
      "/data/examples/switch-tiny-cpu.json --mesh cpu-1 --layout dp=1,ep=1,mp=1 --batch-tokens 1024 --micro-batches 1 "
      "--moe-impl gather --precision fp32 --optimizer adam";
  const Run with = run(base + " --json --profile " + profile);
  REQUIRE(with.status == 0);
  const auto j = switchsim::json::parse(with.out);
  // validate --step's simulated side is this very command: the same step time.
  const Run step = run("validate --step --backend cpu --quick --json --profile " + profile);
  REQUIRE(step.status == 0);
  const auto v = switchsim::json::parse(step.out);
  CHECK(j["step_time_s"].get<double>() == Approx(v["predicted"]["step_s"].get<double>()).epsilon(1e-12));
  CHECK(v["predicted"]["mesh"] == "cpu-1");
  CHECK(v["predicted"]["device_kind"] == "cpu");

  const Run without = run(base);
  CHECK(without.status == 2);
  CHECK(lines(without.err) == 1);
  CHECK(without.err.find("--profile") != std::string::npos);
  CHECK(without.out.empty());
}
