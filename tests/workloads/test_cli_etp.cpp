// Runs the built `switchsim simulate` with a folded layout (etp != tp, layout.hpp): the layout text
// and JSON carry etp, and layouts that break an etp rule exit 2 with one line naming --layout.etp
// and no output file.
#include <catch2/catch.hpp>

#include "tests/support/run_cli.hpp"

#include <filesystem>
#include <string>

#include "common/json_io.hpp"

namespace {

using Run = switchsim::testing::CliRun;

const switchsim::testing::ScratchDir& scratch() {
  static const switchsim::testing::ScratchDir dir("switchsim-etp-cli");
  return dir;
}

Run run(const std::string& args) { return switchsim::testing::run_cli(switchsim::testing::split_args(args), scratch().path()); }

int lines(const std::string& s) {
  int count = 0;
  for (char c : s) count += c == '\n' ? 1 : 0;
  return count;
}

const std::string kBase = "simulate --model olmoe-1b-7b --mesh dgx-h100-1 --batch-tokens 32768 ";

}  // namespace

TEST_CASE("cli: simulate with etp = 1 under tp = 2 (ep = 8 > dp = 4)", "[cli][etp]") {
  const std::string out = (scratch().path() / "etp.json").string();
  const Run r = run(kBase + "--layout dp=4,tp=2,ep=8,etp=1 --json --out " + out);
  REQUIRE(r.status == 0);
  const auto j = switchsim::json::parse(switchsim::testing::read_text(out));
  CHECK(j["layout"] == "dp=4,ep=8,mp=2,etp=1,order=mp.ep.rep");
  CHECK(j["expert_layout"]["etp"] == 1);
  CHECK(j["expert_layout"]["ep"] == 8);
  CHECK(j["expert_layout"]["edp"] == 1);  // (4 x 2) / (8 x 1)
  const Run text = run(kBase + "--layout dp=4,tp=2,ep=8,etp=1");
  REQUIRE(text.status == 0);
  CHECK(text.out.find("etp=1") != std::string::npos);
  // etp = tp: printed and written as before (no etp, no expert_layout).
  const std::string same = (scratch().path() / "same.json").string();
  REQUIRE(run(kBase + "--layout dp=4,tp=2,ep=4,etp=2 --json --out " + same).status == 0);
  const auto k = switchsim::json::parse(switchsim::testing::read_text(same));
  CHECK(k["layout"] == "dp=4,ep=4,mp=2,order=mp.ep.rep");
  CHECK_FALSE(k.contains("expert_layout"));
}

TEST_CASE("cli: layouts that break an etp rule exit 2 naming --layout.etp", "[cli][etp]") {
  for (const char* layout : {"dp=4,tp=2,ep=8,etp=3",    // etp does not divide tp
                             "dp=4,tp=2,ep=3,etp=1",    // ep x etp does not divide tp x dp
                             "dp=4,tp=2,ep=16,etp=1",   // more than the stage's 8 devices
                             "dp=4,tp=2,ep=8,etp=1,order=rep.ep.mp"}) {  // tp not innermost
    const std::filesystem::path out = scratch().path() / "bad.json";
    const Run r = run(kBase + "--layout " + layout + " --json --out " + out.string());
    CHECK(r.status == 2);
    CHECK(r.err.find("--layout.etp") != std::string::npos);
    CHECK(lines(r.err) == 1);
    CHECK_FALSE(std::filesystem::exists(out));
  }
}
