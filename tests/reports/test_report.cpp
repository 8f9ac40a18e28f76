#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
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

// Every id="..." in the page, in order.
std::vector<std::string> ids(const std::string& html) {
  std::vector<std::string> out;
  const std::regex id(" id=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// (href target, label) of every link in the navigation bar.
std::vector<std::pair<std::string, std::string>> nav_links(const std::string& html) {
  const std::size_t begin = html.find("<nav>");
  const std::size_t end = html.find("</nav>");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const std::string nav = html.substr(begin, end - begin);
  std::vector<std::pair<std::string, std::string>> out;
  const std::regex link("<a href=\"#([^\"]*)\">([^<]*)</a>");
  for (auto it = std::sregex_iterator(nav.begin(), nav.end(), link); it != std::sregex_iterator(); ++it) {
    out.emplace_back((*it)[1], (*it)[2]);
  }
  return out;
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
  CHECK(doc.html.find("does not fit memory (2 layouts, 2 candidates)") != std::string::npos);
  CHECK(doc.html.find("mp does not divide heads (1 layout, 1 candidate)") != std::string::npos);
  CHECK(doc.html.find("Rejected layouts (4 candidates)") != std::string::npos);
  // The factor has a column of its own, not a suffix of the layout.
  CHECK(doc.html.find("<td class=\"nw\">dp=4 ep=4 mp=8 (dp-&gt;x)</td><td>1.0</td>") != std::string::npos);
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

TEST_CASE("with several result files every section is named by its input, with unique names and anchors", "[reports]") {
  // Three recommend results (one file given twice, one of the same name in another folder) and two capacity results.
  std::vector<LoadedResult> results;
  for (const char* name : {"recommend.json", "recommend.json", "real/recommend.json", "capacity.json", "real/capacity.json"}) {
    results.push_back(load_result(fixture(name)));
  }
  const ReportDocument doc = build_report(results, [](const Chart&) { return std::string(kStubSvg); });
  const auto links = nav_links(doc.html);
  // 3 recommend + 2 capacity + inputs.
  REQUIRE(links.size() == 6);
  std::set<std::string> labels;
  std::set<std::string> targets;
  for (const auto& [target, label] : links) {
    labels.insert(label);
    targets.insert(target);
    CHECK(label != "Recommendation");
    CHECK(label != "Capacity factors");
  }
  CHECK(labels.size() == links.size());
  CHECK(targets.size() == links.size());
  // Each label names the model and mesh and the file; files with the same name are told apart by their path.
  CHECK(links[0].second.find("Recommendation: switch-base on tpuv3-4x4 (") == 0);
  CHECK(links[0].second.find("fixtures/recommend.json)") != std::string::npos);
  CHECK(links[1].second.find("fixtures/recommend.json #2)") != std::string::npos);
  CHECK(links[2].second.find("fixtures/real/recommend.json)") != std::string::npos);
  CHECK(links[3].second.find("Capacity factors: switch-base on tpuv3-4x4") == 0);
  // Every id on the page is unique, and every link lands on one.
  const auto all_ids = ids(doc.html);
  const std::set<std::string> unique_ids(all_ids.begin(), all_ids.end());
  CHECK(unique_ids.size() == all_ids.size());
  for (const auto& target : targets) CHECK(unique_ids.count(target) == 1);
  // Section headings carry the same names as the navigation bar.
  CHECK(count(doc.html, "<h2 id=\"recommend-") == 3);
  CHECK(doc.html.find(">Recommended layouts: switch-base on tpuv3-4x4 (") != std::string::npos);
  // One input: its file name alone.
  const ReportDocument one = build_report({load_result(fixture("recommend.json"))}, [](const Chart&) { return std::string(kStubSvg); });
  CHECK(nav_links(one.html)[0].second == "Recommendation: switch-base on tpuv3-4x4 (recommend.json)");
}

TEST_CASE("the real recommend output lists each rejected layout once with its factors", "[reports]") {
  const ReportDocument doc =
      build_report({load_result(fixture("real/recommend.json"))}, [](const Chart&) { return std::string(kStubSvg); });
  // 30 rejections of 6 layouts (4 factors and dropless each): 6 rows, each layout once.
  CHECK(doc.html.find("Rejected layouts (30 candidates)") != std::string::npos);
  CHECK(count(doc.html, "<td>1.0, 1.25, 1.5, 2.0, dropless</td>") == 6);
  CHECK(count(doc.html, ">dp=32 ep=1 mp=1 (mp.ep.rep)</td>") == 1);
  CHECK(count(doc.markdown, "| dp=32 ep=1 mp=1 (mp.ep.rep) |") == 1);
  // The ranked layouts carry their step-time band (step_time_s_low/_high), in milliseconds at both ends.
  const auto rec = std::get<RecommendView>(load_result(fixture("real/recommend.json")).view);
  REQUIRE(rec.ranked[0].step_time_low_s);
  CHECK(*rec.ranked[0].step_time_low_s < rec.ranked[0].step_time_s);
  CHECK(count(doc.html, " ms)</td>") >= rec.ranked.size());
  CHECK(doc.html.find(" ms–") == std::string::npos);
}

TEST_CASE("the step-time band writes its unit once when both ends share it", "[reports]") {
  LayoutResult step;
  step.rank = 1;
  step.layout = "dp=32 ep=32 mp=1";
  step.step_time_s = 0.648;
  step.step_time_low_s = 0.539;
  step.step_time_high_s = 0.756;
  LayoutResult wide = step;
  wide.rank = 2;
  wide.step_time_high_s = 1.25;
  RecommendView view;
  view.ranked = {step, wide};
  LoadedResult r;
  r.path = "recommend.json";
  r.kind = ResultKind::recommend;
  r.data = json::object();
  r.view = view;
  const ReportDocument doc = build_report({r}, [](const Chart&) { return std::string(kStubSvg); });
  CHECK(doc.html.find(">648 ms (539–756 ms)</td>") != std::string::npos);
  CHECK(doc.html.find(">648 ms (539 ms–1.25 s)</td>") != std::string::npos);  // different units: both written
}
