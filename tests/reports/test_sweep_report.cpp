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
