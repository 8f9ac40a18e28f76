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

TEST_CASE("label widths are estimated per character class at the font size", "[reports]") {
  // Digits 0.64 em, '=' 0.84 em, ' ' and ',' 0.42 em, capitals 0.75 em; at 9 px: 4 x 5.76 = 23.04 px.
  CHECK(estimated_text_width_px("0000", 9.0) == Approx(23.04));
  CHECK(estimated_text_width_px("dp=1", 10.0) == Approx(6.4 + 6.4 + 8.4 + 6.4));
  CHECK(estimated_text_width_px(", G", 10.0) == Approx(4.2 + 4.2 + 7.5));
  CHECK(estimated_text_width_px("±", 10.0) == Approx(8.4));  // one character although two UTF-8 bytes
}

// A script's "set <what> at screen X" value.
static double screen_value(const std::string& script, const std::string& what) {
  const std::string key = "set " + what + " at screen ";
  const std::size_t at = script.find(key);
  REQUIRE(at != std::string::npos);
  return std::stod(script.substr(at + key.size()));
}

TEST_CASE("Pareto labels stay inside the frame: centred where they fit, else running inwards from their point", "[reports]") {
  // 40 digits: 40 x 0.64 x 9 = 230.4 px wide.
  const std::string longer(40, '0');
  RecommendView v;
  v.pareto = {point(1e6, 0.0, 8e9, longer), point(2e6, 0.01, 9e9, "a"), point(3e6, 0.02, 10e9, longer)};
  const auto c = pareto_chart(v, "pareto-1", "");
  REQUIRE(c);
  // x range: 1e6 .. 3e6 widened by 0.12 x 2e6 on each side; frame from 0.10 to 0.97 of 860 px = 748.2 px.
  CHECK(c->script.find("set xrange [760000:3240000]") != std::string::npos);
  CHECK(screen_value(c->script, "lmargin") == Approx(0.10));
  CHECK(screen_value(c->script, "rmargin") == Approx(0.97));
  const auto rows = numeric_rows(data_of(*c, "pareto.dat"));
  REQUIRE(rows.size() == 3);
  // The leftmost point is 0.24 / 2.48 x 748.2 = 72.4 px into the frame: half the long label (115 px) would
  // cross the left edge, so it starts at the point; the rightmost mirrors it; "a" fits centred.
  CHECK(rows[0][3] == -1);
  CHECK(rows[1][3] == 0);
  CHECK(rows[2][3] == 1);
  // Each label, placed as chosen, lies inside the frame: [72.4, 72.4 + 230.4 + 12] and [675.8 - 242.4, 675.8].
  const double frame = 0.87 * 860;
  for (const auto& row : rows) {
    const double at = (row[0] - 760000.0) / 2480000.0 * frame;
    // The label is the layout and ", N.NN GiB" (every digit the same width), plus 12 px of offset.
    const std::string text = (row[0] == 2e6 ? std::string("a") : longer) + ", 0.00 GiB";
    const double w = estimated_text_width_px(text, 9.0) + 12.0;
    const double left = row[3] < 0 ? at : (row[3] > 0 ? at - w : at - w / 2.0);
    CHECK(left >= 0.0);
    CHECK(left + w <= frame);
  }
  CHECK(c->script.find("($4 < 0 ? $2 : NaN):5 with labels left") != std::string::npos);
  CHECK(c->script.find("($4 > 0 ? $2 : NaN):5 with labels right") != std::string::npos);
}

TEST_CASE("the breakdown chart's left margin holds the first slanted bar label", "[reports]") {
  const std::string longer(40, '0');
  std::vector<LabelledBreakdown> bars = {{longer, {{"compute", 0.2}}}, {"x", {{"compute", 0.1}}}};
  const auto c = breakdown_chart(bars, "breakdown-1", "");
  REQUIRE(c);
  CHECK(c->script.find("set xrange [-0.6:1.6]") != std::string::npos);
  const double width = c->width_px;
  const double left = screen_value(c->script, "lmargin") * width;
  const double right = screen_value(c->script, "rmargin") * width;
  // The first label ends at bar 0, 0.6 / 2.2 of the way across the frame, and reaches
  // 230.4 x cos 30 + 4.5 x sin 30 + 6 = 207.8 px to its left: all of it on the picture.
  const double first_bar = left + 0.6 / 2.2 * (right - left);
  CHECK(first_bar >= 207.8 - 0.1);
  CHECK(right < width);  // the key keeps its room on the right
  // Short labels leave the default margin for the y axis (80 px).
  const auto shorter = breakdown_chart({{"a", {{"compute", 0.2}}}, {"b", {{"compute", 0.1}}}}, "breakdown-2", "");
  REQUIRE(shorter);
  CHECK(screen_value(shorter->script, "lmargin") * width == Approx(80.0).margin(0.1));
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
