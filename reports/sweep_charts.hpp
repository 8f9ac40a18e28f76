#pragma once
// Charts of a sweep report (reports/sweep_report.hpp), as gnuplot programs
// (charts.hpp: building a chart never runs gnuplot):
//
//  - sweep_line_chart: the headline figure (median step time, ms) against one
//    varied input, one line per machine (baseline, then each what-if). Numeric
//    inputs are placed at their values (sorted); others at 0, 1, 2, ... in
//    first-seen order with their values as tic labels.
//  - sweep_heatmap: the median step time (ms) over two numeric inputs, one cell
//    per pair of values (tics: the values, sorted); a pair no point ran is blank.
//
// Input names and values reach the script only through gnuplot_label().

#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "reports/charts.hpp"

namespace switchsim::reports {

struct SweepSeries {
  std::string name;        // "baseline", or the what-if's name
  std::vector<double> y;   // per x value (same order as the values); NaN: no point
};

// `values`: the input's values in the order the series follow.
[[nodiscard]] Chart sweep_line_chart(const std::string& axis, const std::vector<json>& values,
                                     const std::vector<SweepSeries>& series, const std::string& figure,
                                     const std::string& name);

// cells[i][j]: the figure at x_values[i], y_values[j] (NaN: none).
[[nodiscard]] Chart sweep_heatmap(const std::string& x_axis, const std::vector<json>& x_values,
                                  const std::string& y_axis, const std::vector<json>& y_values,
                                  const std::vector<std::vector<double>>& cells, const std::string& figure,
                                  const std::string& name);

// True when every value is a JSON number (the axis is drawn to scale).
[[nodiscard]] bool all_numbers(const std::vector<json>& values);

}  // namespace switchsim::reports
