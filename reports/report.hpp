#pragma once
// The report: one HTML page (self-contained: CSS inline, charts as SVG data
// URIs, a Content-Security-Policy that forbids any network access or script)
// and one Markdown file with its charts as SVG files beside it, built from
// one or several switchsim results.
//
// Building is pure (a ChartRenderer draws the charts); writing is atomic:
// everything is rendered first, then either a fresh folder is renamed into
// place, or, when the folder exists already (the report lands next to the
// JSON it reads), each file is written atomically, report.html last.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "reports/charts.hpp"
#include "reports/result.hpp"

namespace switchsim::reports {

// Draws a chart and returns its SVG text (render_svg with gnuplot, or a stub in tests).
using ChartRenderer = std::function<std::string(const Chart&)>;

struct ReportOptions {
  std::string title = "switchsim report";
};

struct ReportFile {
  std::string relative_path;  // "charts/pareto-1.svg"
  std::string contents;
};

struct ReportDocument {
  std::string html;       // report.html
  std::string markdown;   // report.md
  std::vector<ReportFile> charts;  // beside report.md
};

// Builds the report for `results` (in the order given). Throws whatever the
// renderer throws; writes nothing.
[[nodiscard]] ReportDocument build_report(const std::vector<LoadedResult>& results, const ChartRenderer& render,
                                          const ReportOptions& options = {});

// Writes report.html, report.md and charts/ into `out_dir`. Its parent folder
// must exist (InputError("--out", ...) otherwise).
void write_report(const ReportDocument& document, const std::filesystem::path& out_dir);

}  // namespace switchsim::reports
