#pragma once
// Charts as gnuplot programs. Each builder turns a result view into a Chart:
// data files plus a gnuplot script that reads them by name and draws on the
// terminal the renderer sets (gnuplot.hpp). Building a chart never runs
// gnuplot, so charts can be checked without it.
//
// No string from a result JSON reaches a script unquoted: labels pass through
// gnuplot_label() (no quotes, no backslashes) and the terminal is set with
// `noenhanced`, so '_' or '^' in a layout name is drawn as written.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reports/result.hpp"

namespace switchsim::reports {

struct Chart {
  std::string name;   // file stem, [a-z0-9-] only: "capacity-tradeoff-1"
  std::string title;  // caption and alt text
  std::string script; // gnuplot commands; the renderer prepends terminal and output
  std::vector<std::pair<std::string, std::string>> data_files;  // (file name, contents)
  int width_px = 860;
  int height_px = 460;
};

// Labels drawn in the plot are kept inside the picture by placing them from
// an estimate of their width: gnuplot does not measure text before drawing
// it. The estimate takes DejaVu Sans advance widths (the terminal's font),
// rounded up per class of character (engineering assumption: wide letters and
// '=', '#' 0.84 em; capitals 0.75 em; narrow punctuation, 'i', 'l', 'f', 't',
// 'r' 0.42 em; everything else 0.64 em, the width of a digit rounded up), so it
// errs on the wide side.
[[nodiscard]] double estimated_text_width_px(const std::string& text, double font_px);

// The look every chart shares (the sweep report's too): the title, a light
// grid, a grey border, the key outside below the plot, "NaN" as missing data.
[[nodiscard]] std::string chart_preamble(const std::string& title);
// The i-th series colour (a ten-colour cycle).
[[nodiscard]] const char* series_colour(std::size_t i);

// Capacity factor (x) against tokens per second (left axis) and drop
// fraction in percent (right axis), with the spread over seeds as error bars.
[[nodiscard]] Chart capacity_chart(const CapacityView& view, const std::string& name, const std::string& context);

// Pareto front: tokens per second (x) against drop fraction in percent (y);
// point size grows with memory per device, labelled in GiB. Ranked
// recommendations that are not on the front are drawn grey behind it.
// The plot's margins and x range are fixed, so each label is centred above
// its point when it fits, else starts at the point (left half) or ends at it
// (right half): pareto.dat's 4th column, -1 / 0 / +1. Returns nothing when
// there is no point to draw.
[[nodiscard]] std::optional<Chart> pareto_chart(const RecommendView& view, const std::string& name, const std::string& context);

// One stacked bar per layout: the step-time breakdown in milliseconds, one
// colour per part (parts in first-seen order). The bar labels are slanted and
// end at their bar, so they reach to its left: the left margin is set wide
// enough for each of them (the first one above all). Nothing when no entry
// has a breakdown.
struct LabelledBreakdown {
  std::string label;
  Breakdown parts;
};
[[nodiscard]] std::optional<Chart> breakdown_chart(const std::vector<LabelledBreakdown>& bars, const std::string& name,
                                                   const std::string& context);

// Bytes each source device (row) sends to each destination (column) during a
// step, in MiB. Meshes above `max_cells` devices per side are summed into
// blocks of ceil(n / max_cells) devices so the picture stays readable.
[[nodiscard]] Chart traffic_heatmap(const TrafficMatrix& matrix, const std::string& name, const std::string& context,
                                    std::int64_t max_cells = 256);

// Measured (x) against predicted (y) seconds, log-log, one colour per kernel,
// the y = x line and bands of +-10% and +-25%; error bars from the
// prediction's relative uncertainty u when the cases carry one, drawn
// multiplicatively (predicted / (1 + u) to predicted * (1 + u)) so they stay
// positive on log axes.
[[nodiscard]] std::optional<Chart> validation_chart(const ValidateView& view, const std::string& name,
                                                    const std::string& context);

// `switchsim fidelity`: published (x) against predicted (y), log-log, each case
// in its own unit (one colour per unit), the y = x line and bands of +-10% and
// +-25%; cases excluded from the MAPE drawn as open circles. Nothing when no
// case was run.
[[nodiscard]] std::optional<Chart> fidelity_chart(const FidelityView& view, const std::string& name,
                                                  const std::string& context);

}  // namespace switchsim::reports
