#pragma once
// Runs gnuplot as a child process on a chart's script (charts.hpp) and returns
// the SVG it drew. The chart's data files and the script are written to a
// private work folder; gnuplot runs there with stdin from /dev/null, its
// messages captured to a log that an error quotes.

#include <filesystem>
#include <string>

#include "common/temp_dir.hpp"  // TempDir, for the work folder callers pass in
#include "reports/charts.hpp"

namespace switchsim::reports {

// The gnuplot executable: $SWITCHSIM_GNUPLOT if set, else `gnuplot` on PATH.
// Throws UnavailableError (exit 2 at the CLI) when there is none, saying how
// to install it.
[[nodiscard]] std::filesystem::path find_gnuplot();

// Draws `chart` with gnuplot's svg terminal inside `work_dir` (which must
// exist; a subfolder per chart is used) and returns the SVG text. Throws
// std::runtime_error quoting gnuplot's messages when it fails: the scripts are
// ours, so a failure is a bug, not bad input.
[[nodiscard]] std::string render_svg(const Chart& chart, const std::filesystem::path& gnuplot,
                                     const std::filesystem::path& work_dir);

}  // namespace switchsim::reports
