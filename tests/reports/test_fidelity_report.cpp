// Reports of `switchsim fidelity` results: reading, the log-log scatter, the section.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "fixtures.hpp"
#include "reports/charts.hpp"
#include "reports/gnuplot.hpp"
#include "reports/report.hpp"
#include "reports/result.hpp"

using namespace switchsim;
using namespace switchsim::reports;

namespace {
const std::string& data_file(const Chart& chart, const std::string& file) {
  for (const auto& [name, contents] : chart.data_files) {
    if (name == file) return contents;
  }
  FAIL("no data file " << file);
  static const std::string none;
  return none;
}
}  // namespace

TEST_CASE("fidelity results are read with every case, unsupported and excluded included", "[reports][fidelity]") {
  // Regenerate with: switchsim fidelity --json > tests/reports/fixtures/real/fidelity.json
  const LoadedResult r = load_result(fixture("real/fidelity.json"));
  CHECK(r.kind == ResultKind::fidelity);
  const auto& v = std::get<FidelityView>(r.view);
  CHECK(v.mape_percent.has_value());
  const auto count = [&](const std::string& status) {
    return std::count_if(v.cases.begin(), v.cases.end(), [&](const FidelityCaseView& c) { return c.status == status; });
  };
  CHECK(count("ok") >= 5);
  CHECK(count("unsupported") >= 10);
  for (const FidelityCaseView& c : v.cases) {
    if (c.status == "unsupported") CHECK(!c.reason.empty());
    if (c.status == "ok") CHECK((c.measured && c.predicted && c.relative_error));
  }
  CHECK(classify_result(json::parse(R"({"schema_version": 1, "kind": "fidelity", "cases": []})"), "f") ==
        ResultKind::fidelity);
  CHECK_THROWS_WITH(read_view(json::parse(R"({"schema_version": 1, "cases": [{"id": "x", "status": "ok"}]})"),
                              ResultKind::fidelity),
                    Catch::Contains("cases[0]"));
}

TEST_CASE("the fidelity scatter draws compared and excluded cases on log axes, one series per unit", "[reports][fidelity]") {
  FidelityView v;
  v.cases = {{"a", "ok", "busbw_GBps", 400.0, 100.0, -0.75, "", ""},
             {"b", "ok", "busbw_GBps", 200.0, 220.0, 0.1, "", ""},
             {"c", "excluded", "ratio", 9.0, 8.0, -0.11, "", "why"},
             {"d", "unsupported", "mfu_percent", 49.3, {}, {}, "", "no model"},
             {"e", "error", "", {}, {}, {}, "", "f: field: bad"}};
  const auto c = fidelity_chart(v, "fidelity-1", "");
  REQUIRE(c);
  // Range: smallest figure / 1.6 = 8 / 1.6 = 5 to largest * 1.6 = 400 * 1.6 = 640.
  CHECK(c->script.find("set xrange [5:640]") != std::string::npos);
  CHECK(c->script.find("set logscale xy") != std::string::npos);
  CHECK(c->script.find("index 1") != std::string::npos);  // busbw and ratio (excluded): two series
  CHECK(c->script.find("index 2") == std::string::npos);
  CHECK(c->script.find("pt 6") != std::string::npos);  // the excluded case as an open circle
  const std::string& data = data_file(*c, "fidelity.dat");
  CHECK(data.find("400 100") != std::string::npos);
  CHECK(data.find("49.3") == std::string::npos);  // not run: nothing to draw
  FidelityView none;
  none.cases = {{"d", "unsupported", "mfu_percent", 49.3, {}, {}, "", "no model"}};
  CHECK(!fidelity_chart(none, "fidelity-2", ""));
}

TEST_CASE("a fidelity result makes a report section with its table and scatter", "[reports][fidelity]") {
  const std::vector<LoadedResult> results = {load_result(fixture("real/fidelity.json"))};
  std::vector<std::string> drawn;
  const ReportDocument doc = build_report(results, [&](const Chart& c) {
    drawn.push_back(c.name);
    return std::string("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>");
  });
  CHECK(drawn == std::vector<std::string>{"fidelity-1"});
  CHECK(doc.html.find("Predicted against published measurements") != std::string::npos);
  CHECK(doc.markdown.find("nccl-allreduce-8xh100-nvlink") != std::string::npos);
  CHECK(doc.markdown.find("unsupported: H800 is not in data/devices.json") != std::string::npos);
}

TEST_CASE("gnuplot draws the fidelity scatter of the fixture", "[reports][gnuplot][fidelity]") {
  const auto gnuplot = find_gnuplot();
  TempDir work(std::filesystem::temp_directory_path(), "switchsim-test-fidelity-");
  const auto v = std::get<FidelityView>(load_result(fixture("real/fidelity.json")).view);
  const std::string svg = render_svg(*fidelity_chart(v, "f", ""), gnuplot, work.path());
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
}
