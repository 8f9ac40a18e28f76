// Runs the built `switchsim fidelity`: the shipped registry, a deliberately wrong
// figure (the command cannot silently pass), bad entries, unsupported cases.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace {

using switchsim::json;
using switchsim::testing::CliRun;
using switchsim::testing::ScratchDir;

CliRun fidelity(std::vector<std::string> args, const std::filesystem::path& scratch) {
  args.insert(args.begin(), "fidelity");
  return switchsim::testing::run_cli(args, scratch);
}

const std::string kSource =
    R"("schema_version": 1, "source": {"citation": "test", "url": "https://example.org", "accessed": "2026-12-06"})";

// One registry file holding `cases` (a JSON array's inside).
std::string registry(const std::string& cases) { return "{" + kSource + R"(, "cases": [)" + cases + "]}"; }

// An 8-GPU all-reduce busbw case with the given measured figure.
std::string allreduce_case(const std::string& id, const std::string& measured) {
  return R"({"id": ")" + id + R"(", "description": "d", "location": "l", "as_published": "p", "kind": "collective",
             "config": {"mesh": "dgx-h100-1", "op": "all-reduce", "bytes": 1073741824},
             "measured": )" + measured + "}";
}

}  // namespace

TEST_CASE("cli: fidelity over the shipped registry: every case listed, citations, MAPE", "[workloads][cli][fidelity]") {
  const ScratchDir scratch("switchsim-fidelity-cli");
  const CliRun r = fidelity({"--json"}, scratch.path());
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json j = json::parse(r.out);
  CHECK(j.at("command") == "fidelity");
  CHECK(j.at("mape_percent").is_number());
  CHECK(j.at("errors") == 0);
  std::int64_t ok = 0, unsupported = 0;
  for (const json& c : j.at("cases")) {
    CAPTURE(c.dump());
    CHECK(!c.at("citation").get<std::string>().empty());
    CHECK(!c.at("url").get<std::string>().empty());
    CHECK(!c.at("as_published").get<std::string>().empty());
    const std::string status = c.at("status");
    if (status == "ok") {
      ++ok;
      CHECK(c.at("predicted").get<double>() > 0.0);
      const double rel = (c.at("predicted").get<double>() - c.at("measured").get<double>()) / c.at("measured").get<double>();
      CHECK(c.at("relative_error").get<double>() == Approx(rel));
    } else if (status == "unsupported") {
      ++unsupported;
      CHECK(!c.at("reason").get<std::string>().empty());
    }
  }
  CHECK(ok == j.at("compared"));
  CHECK(ok >= 5);
  CHECK(unsupported == j.at("unsupported"));
  CHECK(unsupported >= 10);
}

TEST_CASE("cli: fidelity with a deliberately wrong figure reports it and fails --max-mape", "[workloads][cli][fidelity]") {
  const ScratchDir scratch("switchsim-fidelity-cli");
  const auto file = scratch.path() / "wrong.json";
  // No 8-GPU node reaches 100 TB/s of bus bandwidth: the error is about -100%.
  switchsim::testing::write_text(file, registry(allreduce_case("wrong-figure", R"({"unit": "busbw_GBps", "value": 100000})")));
  const CliRun bar = fidelity({"--registry", file.string(), "--max-mape", "50"}, scratch.path());
  CHECK(bar.status == 1);
  CHECK(bar.out.find("wrong-figure") != std::string::npos);
  CHECK(bar.out.find("MAPE") != std::string::npos);
  CHECK(bar.err.find("exceeds --max-mape") != std::string::npos);

  const CliRun j = fidelity({"--registry", file.string(), "--json"}, scratch.path());
  REQUIRE(j.status == 0);  // no bar asked for
  const json out = json::parse(j.out);
  const json& c = out.at("cases").at(0);
  CHECK(c.at("status") == "ok");
  CHECK(c.at("relative_error").get<double>() < -0.99);
  CHECK(out.at("mape_percent").get<double>() > 99.0);

  // The same bar passes only when it is above the MAPE.
  const CliRun loose = fidelity({"--registry", file.string(), "--max-mape", "100"}, scratch.path());
  CHECK(loose.status == 0);
}

TEST_CASE("cli: fidelity runs the good cases of a registry with a bad one, then exits 2", "[workloads][cli][fidelity]") {
  const ScratchDir scratch("switchsim-fidelity-cli");
  const auto dir = scratch.path() / "reg";
  std::filesystem::create_directories(dir);
  switchsim::testing::write_text(dir / "a-good.json",
                                 registry(allreduce_case("good", R"({"unit": "busbw_GBps", "low": 300, "high": 400})")));
  switchsim::testing::write_text(dir / "b-bad-unit.json",
                                 registry(allreduce_case("bad-unit", R"({"unit": "furlongs", "value": 3})")));
  switchsim::testing::write_text(
      dir / "c-bad-mesh.json",
      registry(R"({"id": "bad-mesh", "description": "d", "location": "l", "as_published": "p", "kind": "collective",
                   "config": {"mesh": "tpuv9-4x4", "op": "all-reduce", "bytes": 1e6},
                   "measured": {"unit": "busbw_GBps", "value": 3}})"));
  switchsim::testing::write_text(dir / "d-missing.json", "{" + kSource + "}");
  const auto out = scratch.path() / "out.json";
  const CliRun r = fidelity({"--registry", dir.string(), "--json", "--out", out.string()}, scratch.path());
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK(!std::filesystem::exists(out));  // bad input leaves no --out file
  // One stderr line per bad entry, naming the file and the field.
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 3);
  CHECK(r.err.find("b-bad-unit.json: cases[0].measured.unit") != std::string::npos);
  CHECK(r.err.find("c-bad-mesh.json: bad-mesh: config.mesh") != std::string::npos);
  CHECK(r.err.find("d-missing.json: cases") != std::string::npos);
  const json j = json::parse(r.out);
  CHECK(j.at("errors") == 3);
  CHECK(j.at("compared") == 1);
  bool good_ran = false;
  for (const json& c : j.at("cases")) {
    if (c.at("id") == "good") good_ran = c.at("status") == "ok" && c.at("predicted").get<double>() > 0.0;
    if (c.at("id") == "bad-unit") CHECK(c.at("status") == "error");
  }
  CHECK(good_ran);
}

TEST_CASE("cli: unsupported and excluded cases are listed but not in the MAPE", "[workloads][cli][fidelity]") {
  const ScratchDir scratch("switchsim-fidelity-cli");
  const auto file = scratch.path() / "u.json";
  switchsim::testing::write_text(
      file, registry(R"({"id": "h800", "description": "d", "location": "l", "as_published": "p",
                         "measured": {"unit": "bottleneck_bw_GBps", "value": 153}, "unsupported": "no H800"},)" +
                     allreduce_case("excluded", R"({"unit": "busbw_GBps", "value": 100000}, "exclude_from_mape": "why")")));
  const CliRun r = fidelity({"--registry", file.string(), "--json", "--max-mape", "10"}, scratch.path());
  // Nothing compared: the bar cannot be met, so it fails rather than passing silently.
  CHECK(r.status == 1);
  CHECK(r.err.find("no case compared") != std::string::npos);
  const json j = json::parse(r.out);
  CHECK(j.at("mape_percent").is_null());
  CHECK(j.at("unsupported") == 1);
  CHECK(j.at("excluded") == 1);
  CHECK(j.at("cases").at(0).at("status") == "unsupported");
  CHECK(j.at("cases").at(0).at("reason") == "no H800");
  CHECK(j.at("cases").at(1).at("status") == "excluded");
  CHECK(j.at("cases").at(1).at("predicted").get<double>() > 0.0);

  const CliRun text = fidelity({"--registry", file.string()}, scratch.path());
  CHECK(text.status == 0);
  CHECK(text.out.find("unsupported  h800: no H800") != std::string::npos);
}
