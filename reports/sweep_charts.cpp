#include "reports/sweep_charts.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "reports/format.hpp"

namespace switchsim::reports {
namespace {



std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string number(double v) { return std::isfinite(v) ? format_exact(v) : std::string("NaN"); }

// `set xtics ("a" 0, "b" 1)`: each value's text at its position.
std::string tics(const char* axis, const std::vector<json>& values, const std::vector<double>& positions) {
  std::string s = fmt::format("set {}tics (", axis);
  for (std::size_t i = 0; i < values.size(); ++i) {
    s += fmt::format("{}\"{}\" {}", i == 0 ? "" : ", ", gnuplot_label(value_text(values[i])), number(positions[i]));
  }
  return s + ")\n";
}

// The order that sorts numeric values ascending (others: as given).
std::vector<std::size_t> order_of(const std::vector<json>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (all_numbers(values)) {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return values[a].get<double>() < values[b].get<double>(); });
  }
  return order;
}

}  // namespace

bool all_numbers(const std::vector<json>& values) {
  return !values.empty() && std::all_of(values.begin(), values.end(), [](const json& v) { return v.is_number(); });
}

Chart sweep_line_chart(const std::string& axis, const std::vector<json>& values, const std::vector<SweepSeries>& series,
                       const std::string& figure, const std::string& name) {
  const bool numeric = all_numbers(values);
  const std::vector<std::size_t> order = order_of(values);
  std::vector<double> x(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) x[i] = numeric ? values[i].get<double>() : static_cast<double>(i);
  // Data: one row per value (sorted), x then one column per series.
  std::string data = "# " + gnuplot_label(axis);
  for (const SweepSeries& s : series) data += " '" + gnuplot_label(s.name) + "'";
  data += '\n';
  double hi = 0.0;
  for (std::size_t i : order) {
    data += number(x[i]);
    for (const SweepSeries& s : series) {
      data += ' ';
      data += number(s.y[i]);
      if (std::isfinite(s.y[i])) hi = std::max(hi, s.y[i]);
    }
    data += '\n';
  }
  Chart chart;
  chart.name = name;
  chart.title = figure + " against " + axis;
  chart.data_files.emplace_back("sweep.dat", data);
  std::string& s = chart.script;
  s += chart_preamble(chart.title);
  s += "set xlabel '" + gnuplot_label(axis) + "'\n";
  s += "set ylabel '" + gnuplot_label(figure) + "'\n";
  const double lo_x = *std::min_element(x.begin(), x.end());
  const double hi_x = *std::max_element(x.begin(), x.end());
  const double pad = hi_x > lo_x ? 0.08 * (hi_x - lo_x) : 0.5;
  s += fmt::format("set xrange [{}:{}]\n", number(lo_x - pad), number(hi_x + pad));
  s += fmt::format("set yrange [0:{}]\n", number(hi > 0.0 ? 1.15 * hi : 1.0));
  if (!numeric) s += tics("x", values, x);
  s += "plot ";
  for (std::size_t k = 0; k < series.size(); ++k) {
    s += fmt::format("{}'sweep.dat' using 1:{} with linespoints lw 2 pt 7 ps 1.1 lc rgb '{}'{} title '{}'",
                     k == 0 ? "" : ", \\\n     ", k + 2, series_colour(k), k == 0 ? "" : " dt 2",
                     gnuplot_label(series[k].name));
  }
  s += '\n';
  return chart;
}

Chart sweep_heatmap(const std::string& x_axis, const std::vector<json>& x_values, const std::string& y_axis,
                    const std::vector<json>& y_values, const std::vector<std::vector<double>>& cells,
                    const std::string& figure, const std::string& name) {
  const std::vector<std::size_t> xo = order_of(x_values);
  const std::vector<std::size_t> yo = order_of(y_values);
  // `matrix with image`: row r is y index r, column c is x index c.
  std::string data;
  double hi = 0.0;
  double lo = HUGE_VAL;
  for (std::size_t r = 0; r < yo.size(); ++r) {
    for (std::size_t c = 0; c < xo.size(); ++c) {
      const double v = cells[xo[c]][yo[r]];
      if (c > 0) data += ' ';
      data += number(v);
      if (std::isfinite(v)) {
        hi = std::max(hi, v);
        lo = std::min(lo, v);
      }
    }
    data += '\n';
  }
  std::vector<json> xs;
  std::vector<json> ys;
  std::vector<double> xp;
  std::vector<double> yp;
  for (std::size_t c = 0; c < xo.size(); ++c) {
    xs.push_back(x_values[xo[c]]);
    xp.push_back(static_cast<double>(c));
  }
  for (std::size_t r = 0; r < yo.size(); ++r) {
    ys.push_back(y_values[yo[r]]);
    yp.push_back(static_cast<double>(r));
  }
  Chart chart;
  chart.name = name;
  chart.title = figure + " over " + x_axis + " and " + y_axis;
  chart.width_px = 760;
  chart.height_px = 560;
  chart.data_files.emplace_back("heat.dat", data);
  std::string& s = chart.script;
  s += chart_preamble(chart.title);
  s += "set key off\nset grid noxtics noytics\nset tics out nomirror\n";
  s += "set xlabel '" + gnuplot_label(x_axis) + "'\nset ylabel '" + gnuplot_label(y_axis) + "'\n";
  s += "set cblabel '" + gnuplot_label(figure) + "'\n";
  s += fmt::format("set xrange [-0.5:{}]\nset yrange [-0.5:{}]\n", number(static_cast<double>(xo.size()) - 0.5),
                   number(static_cast<double>(yo.size()) - 0.5));
  if (std::isfinite(lo)) s += fmt::format("set cbrange [{}:{}]\n", number(lo), number(hi > lo ? hi : lo + 1.0));
  s += "set palette defined (0 '#f7fbff', 0.5 '#6baed6', 1 '#08306b')\n";
  s += tics("x", xs, xp);
  s += tics("y", ys, yp);
  s += "plot 'heat.dat' matrix with image\n";
  return chart;
}

}  // namespace switchsim::reports
