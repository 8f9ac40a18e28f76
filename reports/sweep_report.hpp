#pragma once
// The report of a sweep folder (`switchsim report SWEEP_DIR --out DIR`, docs/sweep.md):
// report.md (charts in charts/ beside it) and a self-contained report.html, from
// DIR/results.jsonl.
//
//  - the step time against each input that varies (baseline machine, points that ran):
//    points, median and best per value, and a line chart of the median step time against
//    it, one line per machine (baseline and each what-if; sweep_charts.hpp);
//  - a heatmap of the median step time over each pair of numeric inputs (at most 6);
//  - the best configuration (shortest step that fits memory, baseline machine) per group
//    of model and mesh;
//  - each what-if against the baseline: every what-if point paired with the baseline
//    point of the same inputs; "NIC x2: step -18% (median of 12 pairs, -25% .. -3%)".
// A capacity sweep counts each factor's row as a point (its capacity_factor an input);
// a recommend sweep its best layout's step (none when nothing fits).

#include <filesystem>
#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "reports/report.hpp"

namespace switchsim::reports {

// True when `path` is a folder holding results.jsonl.
[[nodiscard]] bool is_sweep_dir(const std::filesystem::path& path);
// Reads DIR/results.jsonl; InputError(field, ...) on a missing or malformed file or line.
[[nodiscard]] std::vector<json> read_sweep_lines(const std::filesystem::path& dir, const std::string& field);
// The report of the lines; `render` draws the charts (null: no charts). Writes nothing
// (report.hpp's write_report writes it).
[[nodiscard]] ReportDocument build_sweep_report(const std::vector<json>& lines, const std::string& title,
                                                const ChartRenderer& render);
// Its Markdown without charts.
[[nodiscard]] std::string sweep_report_markdown(const std::vector<json>& lines, const std::string& title);

}  // namespace switchsim::reports
