// `switchsim report RESULT.json... --out DIR`: an HTML page and a Markdown
// file with charts from the JSON of recommend, capacity, simulate, collective,
// validate and fidelity, or from a sweep folder (`switchsim report SWEEP_DIR --out DIR`:
// DIR/report.md and DIR/report.html with charts, reports/sweep_report.hpp). Every input is read and checked before anything is drawn or
// written; charts are drawn by gnuplot.

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "common/temp_dir.hpp"
#include "reports/gnuplot.hpp"
#include "reports/report.hpp"
#include "reports/result.hpp"
#include "reports/sweep_report.hpp"

namespace switchsim::cli {
namespace {

struct ReportFlags {
  std::vector<std::string> inputs;
  std::string out;
  std::string title = "switchsim report";
};

CommandAction add_report_command(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  app.add_option("results", flags->inputs, "Result JSON files of recommend, capacity, simulate, collective, validate, fidelity")
      ->required();
  app.description("Write DIR/report.html (self-contained) and DIR/report.md (charts beside it) from result JSON; "
                  "from a sweep folder (switchsim sweep --out), the same two: step time per varied input (tables, "
                  "line charts, heatmaps over two numeric inputs), best configuration per model and mesh, what-if "
                  "deltas");
  app.add_option("--out", flags->out, "Folder for report.html, report.md and charts/ (created if missing)")->required();
  app.add_option("--title", flags->title, "Title of the report");
  return [flags]() -> int {
    for (const std::string& input : flags->inputs) {
      if (!reports::is_sweep_dir(input)) continue;
      if (flags->inputs.size() > 1) throw InputError("results", "a sweep folder ('" + input + "') is reported alone");
      const std::vector<json> lines = reports::read_sweep_lines(input, "results");
      if (flags->out.empty()) throw InputError("--out", "must name a folder");
      const std::filesystem::path gnuplot = reports::find_gnuplot();
      TempDir work(std::filesystem::temp_directory_path(), "switchsim-report-");
      const auto render = [&](const reports::Chart& chart) { return reports::render_svg(chart, gnuplot, work.path()); };
      const reports::ReportDocument document =
          reports::build_sweep_report(lines, flags->title + ": sweep " + input, render);
      reports::write_report(document, flags->out);
      const std::filesystem::path dir(flags->out);
      std::cout << fmt::format("wrote {} and {} (sweep of {} points, {} chart{})\n", (dir / "report.html").string(),
                               (dir / "report.md").string(), lines.size(), document.charts.size(),
                               document.charts.size() == 1 ? "" : "s");
      return 0;
    }
    std::vector<reports::LoadedResult> results;
    results.reserve(flags->inputs.size());
    for (const std::string& input : flags->inputs) results.push_back(reports::load_result(input));
    if (flags->out.empty()) throw InputError("--out", "must name a folder");

    const std::filesystem::path gnuplot = reports::find_gnuplot();
    TempDir work(std::filesystem::temp_directory_path(), "switchsim-report-");
    const auto render = [&](const reports::Chart& chart) { return reports::render_svg(chart, gnuplot, work.path()); };
    reports::ReportOptions options;
    options.title = flags->title;
    const reports::ReportDocument document = reports::build_report(results, render, options);
    reports::write_report(document, flags->out);

    const std::filesystem::path dir(flags->out);
    std::cout << fmt::format("wrote {} and {} ({} chart{})\n", (dir / "report.html").string(),
                             (dir / "report.md").string(), document.charts.size(),
                             document.charts.size() == 1 ? "" : "s");
    return 0;
  };
}

const bool registered = register_command({"report", 80, &add_report_command});

}  // namespace
}  // namespace switchsim::cli
