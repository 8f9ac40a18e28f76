// The sweep report: per-axis tables, best configuration, what-if deltas computed by hand.
#include <catch2/catch.hpp>

#include "reports/sweep_report.hpp"

using switchsim::json;

namespace {

json line(int id, double cf, const std::string& what_if, double step, bool fits = true) {
  json l;
  l["id"] = id;
  l["inputs"] = {{"model", "m"}, {"mesh", "x"}, {"capacity_factor", cf}, {"what_if", {{"name", what_if}}}};
  l["result"] = {{"step_time_s", step}, {"fits_memory", fits}};
  return l;
}

}  // namespace

TEST_CASE("sweep report: axis medians, best fitting configuration, what-if deltas", "[reports][sweep]") {
  std::vector<json> lines{line(0, 1.0, "baseline", 0.100), line(1, 1.0, "NIC x2", 0.080),
                          line(2, 2.0, "baseline", 0.050, false), line(3, 2.0, "NIC x2", 0.045),
                          line(4, 1.5, "baseline", 0.200)};
  json bad;
  bad["id"] = 5;
  bad["inputs"] = {{"model", "m"}, {"mesh", "x"}, {"capacity_factor", 3.0}, {"what_if", {{"name", "baseline"}}}};
  bad["error"] = {{"field", "--layout"}, {"message", "no"}};
  lines.push_back(bad);
  const std::string md = switchsim::reports::sweep_report_markdown(lines, "t");
  CHECK(md.find("6 points: 5 ran, 1 failed") != std::string::npos);
  CHECK(md.find("| 1.0 | 1 | 100 ms | 100 ms |") != std::string::npos);
  CHECK(md.find("| 2.0 | 1 | 50 ms | 50 ms |") != std::string::npos);
  // 0.05 does not fit memory: the best fitting one is capacity_factor 1.0 at 100 ms.
  CHECK(md.find("- **m on x**: step 100 ms with capacity_factor=1.0") != std::string::npos);
  // Pairs: 0.080/0.100 - 1 = -20%, 0.045/0.050 - 1 = -10%: median -15%.
  CHECK(md.find("- NIC x2: step -15.0% (median of 2 pairs, -20.0% .. -10.0%)") != std::string::npos);
}

TEST_CASE("sweep report charts: one line per machine against each axis, medians as drawn", "[reports][sweep]") {
  std::vector<json> lines{line(0, 1.0, "baseline", 0.100), line(1, 1.0, "NIC x2", 0.080),
                          line(2, 2.0, "baseline", 0.050), line(3, 2.0, "NIC x2", 0.045),
                          line(4, 1.5, "baseline", 0.200)};
  std::vector<switchsim::reports::Chart> drawn;
  const auto render = [&](const switchsim::reports::Chart& c) {
    drawn.push_back(c);
    return std::string("<svg/>");
  };
  const auto doc = switchsim::reports::build_sweep_report(lines, "t", render);
  REQUIRE(drawn.size() == 1);  // one varied input, not two numeric ones: no heatmap
  const auto& c = drawn[0];
  CHECK(c.name == "sweep-axis-1");
  CHECK(c.script.find("set xlabel 'capacity_factor'") != std::string::npos);
  CHECK(c.script.find("title 'baseline'") != std::string::npos);
  CHECK(c.script.find("title 'NIC x2'") != std::string::npos);
  // Rows sorted by the value: 1.0 -> 100 ms and 80 ms; 1.5 -> 200 ms and none; 2.0 -> 50 and 45 ms.
  REQUIRE(c.data_files.size() == 1);
  const std::string& data = c.data_files[0].second;
  CHECK(data.find("\n1 100 80\n1.5 200 NaN\n2 50 45\n") != std::string::npos);
  REQUIRE(doc.charts.size() == 1);
  CHECK(doc.charts[0].relative_path == "charts/sweep-axis-1.svg");
  CHECK(doc.markdown.find("![median step time (ms) against capacity_factor](charts/sweep-axis-1.svg)") !=
        std::string::npos);
  CHECK(doc.html.find("<h3>capacity_factor</h3>") != std::string::npos);
}

TEST_CASE("sweep report heatmap: the median over each pair of numeric inputs", "[reports][sweep]") {
  std::vector<json> lines;
  int id = 0;
  for (double cf : {1.0, 2.0}) {
    for (int seed : {0, 1, 2}) {
      json l = line(id++, cf, "baseline", 0.25 * cf + 0.125 * seed);  // exact in binary
      l["inputs"]["seed"] = seed;
      lines.push_back(l);
    }
  }
  std::vector<switchsim::reports::Chart> drawn;
  const auto render = [&](const switchsim::reports::Chart& c) {
    drawn.push_back(c);
    return std::string("<svg/>");
  };
  (void)switchsim::reports::build_sweep_report(lines, "t", render);
  REQUIRE(drawn.size() == 3);  // two axes, one heatmap
  const auto& h = drawn[2];
  CHECK(h.name == "sweep-heatmap-1");
  CHECK(h.script.find("set xlabel 'capacity_factor'") != std::string::npos);
  CHECK(h.script.find("set ylabel 'seed'") != std::string::npos);
  // Row r = seed r, column c = capacity factor c: 250 cf + 125 r ms.
  CHECK(h.data_files[0].second == "250 500\n375 625\n500 750\n");
}
