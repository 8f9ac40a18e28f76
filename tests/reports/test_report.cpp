#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "fixtures.hpp"
#include "reports/gnuplot.hpp"
#include "reports/report.hpp"

using namespace switchsim;
using namespace switchsim::reports;
namespace fs = std::filesystem;

namespace {

const char* kStubSvg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>";

std::vector<LoadedResult> all_fixtures() {
  std::vector<LoadedResult> results;
  for (const char* name : {"recommend.json", "capacity.json", "simulate.json", "collective.json", "validate.json"}) {
    results.push_back(load_result(fixture(name)));
  }
  return results;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

}  // namespace

TEST_CASE("the report draws each chart once and inlines it into the HTML", "[reports]") {
  std::vector<std::string> drawn;
  const auto stub = [&](const Chart& c) {
    drawn.push_back(c.name);
    return std::string(kStubSvg);
  };
  const ReportDocument doc = build_report(all_fixtures(), stub);
  // Fixtures: recommend (Pareto, breakdown), capacity (trade-off), simulate (breakdown,
  // heatmap: it carries a traffic matrix), validate (scatter) = 6 charts.
  CHECK(drawn == std::vector<std::string>{"pareto-1", "breakdown-recommend-1", "capacity-1", "breakdown-simulate",
                                          "traffic-1", "validate-1"});
  REQUIRE(doc.charts.size() == 6);
  CHECK(doc.charts[0].relative_path == "charts/pareto-1.svg");
  CHECK(count(doc.html, "<img src=\"data:image/svg+xml;base64,") == 6);
  CHECK(count(doc.markdown, "](charts/") == 6);
  // Self-contained: no URL but data: URIs, and a policy forbidding the network and scripts.
  CHECK(doc.html.find("http://") == std::string::npos);
  CHECK(doc.html.find("https://") == std::string::npos);
  CHECK(doc.html.find("default-src 'none'; img-src data:") != std::string::npos);
}

TEST_CASE("every string from the JSON is escaped in the HTML", "[reports]") {
  const ReportDocument doc = build_report(all_fixtures(), [](const Chart&) { return std::string(kStubSvg); });
  // recommend.json has a rejected reason with "<script>alert(1)</script> & | pipes".
  CHECK(doc.html.find("<script>") == std::string::npos);
  CHECK(doc.html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; | pipes") != std::string::npos);
  CHECK(doc.markdown.find("<script>") == std::string::npos);
  CHECK(doc.markdown.find("\\| pipes") != std::string::npos);
}

TEST_CASE("tables list ranked layouts with their why and rejected layouts grouped by reason", "[reports]") {
  const ReportDocument doc = build_report(all_fixtures(), [](const Chart&) { return std::string(kStubSvg); });
  CHECK(doc.html.find("fastest layout under the 1% drop limit") != std::string::npos);
  // Two of the four rejected layouts share reason_kind "does not fit memory".
  CHECK(doc.html.find("does not fit memory (2 layouts)") != std::string::npos);
  CHECK(doc.html.find("mp does not divide heads (1 layout)") != std::string::npos);
  CHECK(doc.html.find("Rejected layouts (4)") != std::string::npos);
  // Inputs and provenance of each file, e.g. capacity.json's seed 7 and routing.
  CHECK(doc.html.find("<td>seed</td><td>7</td>") != std::string::npos);
  CHECK(doc.html.find("<td>provenance.version</td><td>0.1.0</td>") != std::string::npos);
  // Drop check: both entries match.
  CHECK(count(doc.html, "<td class=\"ok\">yes</td>") >= 2);
}

TEST_CASE("a renderer failure propagates before anything is written", "[reports]") {
  const auto failing = [](const Chart&) -> std::string { throw std::runtime_error("gnuplot failed"); };
  CHECK_THROWS_AS(build_report(all_fixtures(), failing), std::runtime_error);
}

TEST_CASE("write_report creates a fresh folder whole and leaves no staging folder", "[reports]") {
  TempDir parent(fs::temp_directory_path(), "switchsim-test-report-");
  const ReportDocument doc = build_report(all_fixtures(), [](const Chart&) { return std::string(kStubSvg); });
  const fs::path out = parent.path() / "report";
  write_report(doc, out);
  CHECK(slurp(out / "report.html") == doc.html);
  CHECK(slurp(out / "report.md") == doc.markdown);
  CHECK(slurp(out / "charts" / "pareto-1.svg") == kStubSvg);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(parent.path())) ++entries;
  CHECK(entries == 1);  // only "report": the staging folder was renamed, not copied
}

TEST_CASE("write_report into an existing folder keeps the files already there", "[reports]") {
  TempDir dir(fs::temp_directory_path(), "switchsim-test-report-");
  { std::ofstream(dir.path() / "recommend.json") << "{}"; }
  const ReportDocument doc = build_report(all_fixtures(), [](const Chart&) { return std::string(kStubSvg); });
  write_report(doc, dir.path());
  CHECK(fs::exists(dir.path() / "recommend.json"));
  CHECK(fs::exists(dir.path() / "report.html"));
  CHECK(fs::exists(dir.path() / "charts" / "validate-1.svg"));
}

TEST_CASE("write_report refuses a folder whose parent does not exist", "[reports]") {
  const ReportDocument doc = build_report(all_fixtures(), [](const Chart&) { return std::string(kStubSvg); });
  CHECK_THROWS_WITH(write_report(doc, "/nonexistent-parent/report"), Catch::Contains("--out"));
  CHECK(!fs::exists("/nonexistent-parent"));
}

TEST_CASE("real command outputs (fixtures/real/, written by the built commands) make a report", "[reports]") {
  // Regenerate with: switchsim recommend|capacity|simulate|collective|validate ... --json > fixtures/real/<kind>.json
  std::vector<LoadedResult> results;
  const std::pair<const char*, ResultKind> files[] = {{"recommend.json", ResultKind::recommend},
                                                      {"capacity.json", ResultKind::capacity},
                                                      {"simulate.json", ResultKind::simulate},
                                                      {"collective.json", ResultKind::collective},
                                                      {"validate.json", ResultKind::validate}};
  for (const auto& [name, kind] : files) {
    results.push_back(load_result(fixture(std::string("real/") + name)));
    CHECK(results.back().kind == kind);
  }
  const auto& rec = std::get<RecommendView>(results[0].view);
  CHECK(!rec.ranked.empty());
  CHECK(!rec.ranked[0].why.empty());
  CHECK(!rec.ranked[0].breakdown.empty());
  const auto& cap = std::get<CapacityView>(results[1].view);
  REQUIRE(!cap.rows.empty());
  CHECK(cap.rows[0].tokens_per_s.spread.has_value());  // from "spread": {"tokens_per_s": {"stddev": ...}}
  std::vector<std::string> drawn;
  const ReportDocument doc = build_report(results, [&](const Chart& c) {
    drawn.push_back(c.name);
    return std::string(kStubSvg);
  });
  // Pareto, recommend breakdown, capacity, simulate breakdown, validation; no traffic matrix yet.
  CHECK(drawn.size() == 5);
  CHECK(doc.html.find(rec.ranked[0].why.substr(0, 20)) != std::string::npos);
}
