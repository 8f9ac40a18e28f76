#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/errors.hpp"
#include "fixtures.hpp"
#include "reports/charts.hpp"
#include "reports/gnuplot.hpp"

using namespace switchsim;
using namespace switchsim::reports;

namespace {

const std::string& data_of(const Chart& chart, const std::string& file) {
  for (const auto& [name, contents] : chart.data_files) {
    if (name == file) return contents;
  }
  FAIL("chart " << chart.name << " has no data file " << file);
  static const std::string none;
  return none;
}

// Numeric rows of a gnuplot data file (comments and blank lines skipped).
std::vector<std::vector<double>> numeric_rows(const std::string& data) {
  std::vector<std::vector<double>> rows;
  std::istringstream lines(data);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<double> row;
    double x = 0.0;
    while (fields >> x) row.push_back(x);
    rows.push_back(row);
  }
  return rows;
}

LayoutResult point(double tps, double drop, double memory, const std::string& layout) {
  LayoutResult r;
  r.layout = layout;
  r.tokens_per_s.mean = tps;
  r.drop_fraction.mean = drop;
  r.memory_per_device_bytes = memory;
  r.step_time_s = 1.0;
  return r;
}

}  // namespace

TEST_CASE("the capacity chart plots one row per factor, drops in percent on the second axis", "[reports]") {
  CapacityView v;
  v.rows.push_back({1.0, "capacity", {0.3, {}}, {4.0e6, 1.0e4}, {0.031, 0.002}, {}, {}});
  v.rows.push_back({2.0, "capacity", {0.4, {}}, {3.0e6, {}}, {0.0, {}}, {}, {}});
  v.rows.push_back({std::nullopt, "dropless", {0.35, {}}, {3.5e6, {}}, {0.0, {}}, {}, {}});
  const Chart c = capacity_chart(v, "capacity-1", "test");
  const auto rows = numeric_rows(data_of(c, "capacity.dat"));
  // Two factor rows; the dropless row has no capacity factor and stays in the table only.
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].size() == 5);
  CHECK(rows[0][0] == 1.0);
  CHECK(rows[0][1] == 4.0e6);
  CHECK(rows[0][2] == 1.0e4);
  CHECK(rows[0][3] == Approx(3.1));  // 0.031 as a percentage
  CHECK(rows[0][4] == Approx(0.2));
  CHECK(rows[1] == std::vector<double>{2.0, 3.0e6, 0.0, 0.0, 0.0});
  CHECK(c.script.find("axes x1y2") != std::string::npos);
  // Left axis from 0 to 15% above the largest tokens/s plus spread: 1.15 * 4.01e6 = 4.6115e6.
  CHECK(c.script.find("set yrange [0:4611500") != std::string::npos);
}

TEST_CASE("the Pareto chart sorts the front by throughput and sizes points by memory", "[reports]") {
  RecommendView v;
  v.pareto = {point(3e6, 0.0, 10e9, "b"), point(4e6, 0.03, 8e9, "a")};
  v.ranked = {point(4e6, 0.03, 8e9, "a"), point(3.5e6, 0.01, 9e9, "c")};
  const auto c = pareto_chart(v, "pareto-1", "");
  REQUIRE(c);
  const auto rows = numeric_rows(data_of(*c, "pareto.dat"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0] == 3e6);  // sorted by tokens/s
  // Point size 1 + 3 * (m - min) / (max - min): 10 GB is the most (4), 8 GB the least (1).
  CHECK(rows[0][2] == Approx(4.0));
  CHECK(rows[1][2] == Approx(1.0));
  // "c" is ranked but not on the front: drawn grey, alone in others.dat.
  CHECK(numeric_rows(data_of(*c, "others.dat")).size() == 1);
  CHECK(!pareto_chart(RecommendView{}, "pareto-2", ""));
}

TEST_CASE("the breakdown chart stacks the union of parts, zero where a layout lacks one", "[reports]") {
  std::vector<LabelledBreakdown> bars = {{"x", {{"compute", 0.2}, {"all-to-all", 0.05}}},
                                         {"y", {{"compute", 0.1}, {"idle", 0.01}}}};
  const auto c = breakdown_chart(bars, "breakdown-1", "");
  REQUIRE(c);
  const std::string& data = data_of(*c, "breakdown.dat");
  // Columns compute, all-to-all, idle in milliseconds; "y" has no all-to-all.
  CHECK(data.find("\"x\" 200 50 0\n") != std::string::npos);
  CHECK(data.find("\"y\" 100 0 10\n") != std::string::npos);
  CHECK(c->script.find("title 'idle'") != std::string::npos);
  CHECK(!breakdown_chart({{"z", {}}}, "breakdown-2", ""));
}

TEST_CASE("the traffic heatmap sums devices into blocks and keeps every byte", "[reports]") {
  TrafficMatrix m;
  m.n = 5;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) m.bytes.push_back((i * 5 + j) * 1048576.0);  // (5i + j) MiB
  }
  // At most 2 cells per side: blocks of ceil(5 / 2) = 3 devices, 2 x 2 cells.
  const Chart c = traffic_heatmap(m, "traffic-1", "", 2);
  const auto rows = numeric_rows(data_of(c, "traffic.dat"));
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].size() == 2);
  // Block (0,0): rows 0..2 x columns 0..2 = sum (5i + j) = 3*(0+5+10) + 3*(0+1+2) = 54 MiB.
  CHECK(rows[0][0] == Approx(54.0));
  // Block (1,1): rows 3..4 x columns 3..4 = 2*(15+20) + 2*(3+4) = 84 MiB.
  CHECK(rows[1][1] == Approx(84.0));
  // Every byte lands in one block: the total is sum over 0..24 = 300 MiB.
  CHECK(rows[0][0] + rows[0][1] + rows[1][0] + rows[1][1] == Approx(300.0));
  CHECK(c.script.find("device block (3 devices each)") != std::string::npos);
}

TEST_CASE("the validation chart spans every point on log axes and skips non-positive times", "[reports]") {
  ValidateView v;
  v.cases = {{"router", "", 1e-4, 2e-4, {}, {}}, {"ffn", "", 3e-3, 2e-3, {}, {}}, {"ffn", "", 0.0, 1e-3, {}, {}}};
  const auto c = validation_chart(v, "validate-1", "cpu");
  REQUIRE(c);
  // Range: smallest time / 1.6 = 1e-4 / 1.6 = 6.25e-05 to largest * 1.6 = 3e-3 * 1.6 = 0.0048.
  CHECK(c->script.find("set xrange [6.25e-05:0.0048") != std::string::npos);
  CHECK(c->script.find("index 1") != std::string::npos);  // two kernels: index 0 and 1
  CHECK(c->script.find("index 2") == std::string::npos);
  const std::string& data = data_of(*c, "validate.dat");
  CHECK(numeric_rows(data).size() == 2);  // the case predicted at 0 s cannot be drawn on log axes
  CHECK(!validation_chart(ValidateView{}, "validate-2", ""));
}

TEST_CASE("labels from JSON cannot break out of gnuplot strings", "[reports]") {
  RecommendView v;
  v.ranked = {point(1e6, 0.0, 1e9, "evil' , system('rm -rf x') \"")};
  const auto c = pareto_chart(v, "pareto-1", "ctx' ; system('x')");
  REQUIRE(c);
  CHECK(c->script.find("system('") == std::string::npos);
  const std::string& data = data_of(*c, "pareto.dat");
  const auto line = data.substr(data.find('\n') + 1);
  CHECK(std::count(line.begin(), line.end(), '"') == 2);  // only the label's own delimiters
}

TEST_CASE("gnuplot draws every chart of the fixtures as SVG", "[reports][gnuplot]") {
  const auto gnuplot = find_gnuplot();
  TempDir work(std::filesystem::temp_directory_path(), "switchsim-test-charts-");
  const auto rec = std::get<RecommendView>(load_result(fixture("recommend.json")).view);
  const auto sim = std::get<SimulateView>(load_result(fixture("simulate.json")).view);
  const auto val = std::get<ValidateView>(load_result(fixture("validate.json")).view);
  const auto cap = std::get<CapacityView>(load_result(fixture("capacity.json")).view);
  std::vector<Chart> charts = {capacity_chart(cap, "c", "ctx"), *pareto_chart(rec, "p", "ctx"),
                               *breakdown_chart({{"a", rec.ranked[0].breakdown}}, "b", "ctx"),
                               traffic_heatmap(*sim.traffic, "t", "ctx"), *validation_chart(val, "v", "ctx")};
  for (const Chart& chart : charts) {
    const std::string svg = render_svg(chart, gnuplot, work.path());
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
  }
}

TEST_CASE("a gnuplot failure is an error quoting gnuplot, a missing gnuplot is unavailable", "[reports][gnuplot]") {
  const auto gnuplot = find_gnuplot();
  TempDir work(std::filesystem::temp_directory_path(), "switchsim-test-charts-");
  Chart broken;
  broken.name = "broken";
  broken.script = "plot 'no-such-file.dat' using 1:2\n";
  CHECK_THROWS_WITH(render_svg(broken, gnuplot, work.path()), Catch::Contains("gnuplot failed on chart 'broken'"));
  ::setenv("SWITCHSIM_GNUPLOT", "/nonexistent/gnuplot", 1);
  CHECK_THROWS_AS(find_gnuplot(), UnavailableError);
  ::unsetenv("SWITCHSIM_GNUPLOT");
}
