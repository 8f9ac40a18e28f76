#include "reports/charts.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "reports/format.hpp"

namespace switchsim::reports {

namespace {

constexpr std::array<const char*, 10> kColours = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};



// "label" column for a gnuplot data file: always double-quoted.
std::string quoted(const std::string& label) { return fmt::format("\"{}\"", gnuplot_label(label)); }

double upper_with_margin(double max_value) { return max_value > 0.0 ? max_value * 1.15 : 1.0; }

// Labels inside plots are drawn at font ',9' (9 px in the svg terminal).
constexpr double kLabelFontPx = 9.0;

}  // namespace

std::string chart_preamble(const std::string& title) {
  std::string s;
  s += "set encoding utf8\n";
  s += "set title '" + gnuplot_label(title) + "'\n";
  s += "set border lw 1 lc rgb '#555555'\n";
  s += "set grid lc rgb '#dddddd' lw 1\n";
  s += "set key outside bottom center horizontal noautotitle\n";
  s += "set datafile missing 'NaN'\n";
  return s;
}

const char* series_colour(std::size_t i) { return kColours[i % kColours.size()]; }

double estimated_text_width_px(const std::string& text, double font_px) {
  double em = 0.0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte: counted with its lead byte
    if (c == '=' || c == '#' || c == 'm' || c == 'w' || c == 'M' || c == 'W' || c == '%' || c >= 0x80) {
      em += 0.84;
    } else if (std::isupper(c)) {
      em += 0.75;
    } else if (std::strchr(" ,.;:'!|()[]ilfjtr-", static_cast<int>(c)) != nullptr) {
      em += 0.42;
    } else {
      em += 0.64;
    }
  }
  return em * font_px;
}

Chart capacity_chart(const CapacityView& view, const std::string& name, const std::string& context) {
  Chart chart;
  chart.name = name;
  chart.title = "Capacity factor trade-off: tokens per second and dropped tokens" +
                (context.empty() ? std::string() : " (" + context + ")");
  std::string data = "# capacity_factor tokens_per_s spread drop_percent spread\n";
  double max_tps = 0.0;
  double max_drop_pct = 0.0;
  double min_cf = 0.0;
  double max_cf = 0.0;
  bool first = true;
  for (const CapacityRow& row : view.rows) {
    if (!row.capacity_factor) continue;  // dropless rows are in the table, not on the factor axis
    const double cf = *row.capacity_factor;
    const double tps_spread = row.tokens_per_s.spread.value_or(0.0);
    const double drop_pct = row.drop_fraction.mean * 100.0;
    const double drop_spread_pct = row.drop_fraction.spread.value_or(0.0) * 100.0;
    data += fmt::format("{} {} {} {} {}\n", format_exact(cf), format_exact(row.tokens_per_s.mean),
                        format_exact(tps_spread), format_exact(drop_pct), format_exact(drop_spread_pct));
    max_tps = std::max(max_tps, row.tokens_per_s.mean + tps_spread);
    max_drop_pct = std::max(max_drop_pct, drop_pct + drop_spread_pct);
    min_cf = first ? cf : std::min(min_cf, cf);
    max_cf = first ? cf : std::max(max_cf, cf);
    first = false;
  }
  chart.data_files.emplace_back("capacity.dat", data);
  const double pad = max_cf > min_cf ? (max_cf - min_cf) * 0.08 : 0.25;
  std::string& s = chart.script;
  s += chart_preamble(context.empty() ? "capacity factor trade-off" : context);
  s += "set xlabel 'capacity factor'\n";
  s += "set ylabel 'tokens per second'\n";
  s += "set y2label 'dropped token assignments (%)'\n";
  s += "set ytics nomirror\nset y2tics\nset format y '%.1s%c'\n";
  s += fmt::format("set xrange [{}:{}]\n", format_exact(min_cf - pad), format_exact(max_cf + pad));
  s += fmt::format("set yrange [0:{}]\n", format_exact(upper_with_margin(max_tps)));
  s += fmt::format("set y2range [0:{}]\n", format_exact(upper_with_margin(max_drop_pct)));
  s += fmt::format(
      "plot 'capacity.dat' using 1:2:3 with yerrorlines lw 2 pt 7 ps 1.2 lc rgb '{}' title 'tokens per second (left)', \\\n"
      "     '' using 1:4:5 axes x1y2 with yerrorlines lw 2 dt 2 pt 5 ps 1.2 lc rgb '{}' title 'dropped % (right)'\n",
      series_colour(0), series_colour(3));
  return chart;
}

std::optional<Chart> pareto_chart(const RecommendView& view, const std::string& name, const std::string& context) {
  std::vector<LayoutResult> front = view.pareto.empty() ? view.ranked : view.pareto;
  if (front.empty()) return std::nullopt;
  std::sort(front.begin(), front.end(),
            [](const LayoutResult& a, const LayoutResult& b) { return a.tokens_per_s.mean < b.tokens_per_s.mean; });
  double min_memory = 0.0;
  double max_memory = 0.0;
  bool first_memory = true;
  for (const std::vector<LayoutResult>* list : {static_cast<const std::vector<LayoutResult>*>(&front), &view.ranked}) {
    for (const LayoutResult& r : *list) {
      if (!r.memory_per_device_bytes) continue;
      min_memory = first_memory ? *r.memory_per_device_bytes : std::min(min_memory, *r.memory_per_device_bytes);
      max_memory = first_memory ? *r.memory_per_device_bytes : std::max(max_memory, *r.memory_per_device_bytes);
      first_memory = false;
    }
  }
  const auto point_size = [&](const LayoutResult& r) {
    // 1 for the least memory per device up to 4 for the most (linear in between).
    if (!r.memory_per_device_bytes || !(max_memory > min_memory)) return 2.0;
    return 1.0 + 3.0 * (*r.memory_per_device_bytes - min_memory) / (max_memory - min_memory);
  };
  const auto label = [](const LayoutResult& r) {
    std::string text = r.layout;
    if (r.capacity_factor) text += " cf=" + format_fixed(*r.capacity_factor, 2);
    if (!r.mode.empty() && !r.capacity_factor) text += " " + r.mode;
    if (r.memory_per_device_bytes) text += ", " + format_bytes(*r.memory_per_device_bytes);
    return text;
  };
  Chart chart;
  chart.name = name;
  chart.title = "Pareto front: tokens per second against dropped tokens (point size: memory per device)" +
                (context.empty() ? std::string() : " (" + context + ")");
  // Fixed frame (screen fractions) and x range, so where a label lands is known before gnuplot draws it.
  constexpr double kLeft = 0.10;
  constexpr double kRight = 0.97;
  double lo = front.front().tokens_per_s.mean;
  double hi = front.back().tokens_per_s.mean;
  for (const LayoutResult& r : view.ranked) {
    lo = std::min(lo, r.tokens_per_s.mean);
    hi = std::max(hi, r.tokens_per_s.mean);
  }
  const double span = hi > lo ? hi - lo : std::max(std::abs(hi) * 0.2, 1.0);
  const double x_min = lo - 0.12 * span;
  const double x_max = hi + 0.12 * span;
  const double plot_px = (kRight - kLeft) * chart.width_px;
  std::string front_data = "# tokens_per_s drop_percent point_size align(-1 starts at the point, 0 centred, +1 ends at it) label\n";
  double max_drop_pct = 0.0;
  for (const LayoutResult& r : front) {
    const std::string text = label(r);
    // The label's width plus the 1-character offset from its point (12 px font) on either side.
    const double width = estimated_text_width_px(text, kLabelFontPx) + 12.0;
    const double at = (r.tokens_per_s.mean - x_min) / (x_max - x_min) * plot_px;
    int align = 0;
    if (at - width / 2.0 < 0.0 || at + width / 2.0 > plot_px) align = at <= plot_px / 2.0 ? -1 : 1;
    front_data += fmt::format("{} {} {} {} {}\n", format_exact(r.tokens_per_s.mean), format_exact(r.drop_fraction.mean * 100.0),
                              format_exact(point_size(r)), align, quoted(text));
    max_drop_pct = std::max(max_drop_pct, r.drop_fraction.mean * 100.0);
  }
  std::string other_data;
  if (!view.pareto.empty()) {
    for (const LayoutResult& r : view.ranked) {
      const bool on_front = std::any_of(front.begin(), front.end(), [&](const LayoutResult& f) {
        return f.layout == r.layout && f.capacity_factor == r.capacity_factor && f.mode == r.mode;
      });
      if (on_front) continue;
      other_data += fmt::format("{} {}\n", format_exact(r.tokens_per_s.mean), format_exact(r.drop_fraction.mean * 100.0));
      max_drop_pct = std::max(max_drop_pct, r.drop_fraction.mean * 100.0);
      }
  }
  chart.data_files.emplace_back("pareto.dat", front_data);
  std::string& s = chart.script;
  s += chart_preamble(context.empty() ? "Pareto front" : context);
  s += "set xlabel 'tokens per second'\nset ylabel 'dropped token assignments (%)'\n";
  s += "set format x '%.2s%c'\n";
  s += fmt::format("set lmargin at screen {}\nset rmargin at screen {}\n", kLeft, kRight);
  s += fmt::format("set xrange [{}:{}]\n", format_exact(x_min), format_exact(x_max));
  // Headroom above the highest point for its label (1.6 characters up).
  s += fmt::format("set yrange [0:{}]\n", format_exact(max_drop_pct > 0.0 ? max_drop_pct * 1.25 : 1.0));
  s += "plot ";
  if (!other_data.empty()) {
    chart.data_files.emplace_back("others.dat", other_data);
    s += "'others.dat' using 1:2 with points pt 6 ps 1.2 lc rgb '#aaaaaa' title 'ranked, not on the front', \\\n     ";
  }
  s += fmt::format(
      "'pareto.dat' using 1:2 with lines lw 1.5 dt 3 lc rgb '{0}' notitle, \\\n"
      "     '' using 1:2:3 with points pt 7 ps variable lc rgb '{0}' title 'Pareto front (size: memory per device)', \\\n"
      "     '' using 1:($4 < 0 ? $2 : NaN):5 with labels left offset 1,1.2 font ',9' tc rgb '#333333' notitle, \\\n"
      "     '' using 1:($4 == 0 ? $2 : NaN):5 with labels center offset 0,1.6 font ',9' tc rgb '#333333' notitle, \\\n"
      "     '' using 1:($4 > 0 ? $2 : NaN):5 with labels right offset -1,1.2 font ',9' tc rgb '#333333' notitle\n",
      series_colour(0));
  return chart;
}

std::optional<Chart> breakdown_chart(const std::vector<LabelledBreakdown>& bars, const std::string& name,
                                     const std::string& context) {
  std::vector<std::string> parts;
  for (const auto& bar : bars) {
    for (const auto& p : bar.parts) {
      if (std::find(parts.begin(), parts.end(), p.name) == parts.end()) parts.push_back(p.name);
    }
  }
  if (parts.empty()) return std::nullopt;
  Chart chart;
  chart.name = name;
  chart.title = "Where each step's time goes, per layout" + (context.empty() ? std::string() : " (" + context + ")");
  std::string data = "# label";
  for (const auto& p : parts) {
    data += ' ';
    data += gnuplot_label(p);
  }
  data += "  (milliseconds)\n";
  std::size_t longest_label = 0;
  std::vector<std::string> labels;  // of the bars drawn, left to right
  for (const auto& bar : bars) {
    if (bar.parts.empty()) continue;
    labels.push_back(gnuplot_label(bar.label));
    data += quoted(bar.label);
    longest_label = std::max(longest_label, bar.label.size());
    for (const auto& p : parts) {
      const auto it = std::find_if(bar.parts.begin(), bar.parts.end(), [&](const BreakdownPart& q) { return q.name == p; });
      data += ' ';
      data += format_exact(it == bar.parts.end() ? 0.0 : it->seconds * 1e3);
    }
    data += "\n";
  }
  chart.data_files.emplace_back("breakdown.dat", data);
  chart.height_px = 460 + static_cast<int>(std::min<std::size_t>(longest_label, 60) * 4);
  std::string& s = chart.script;
  s += chart_preamble(context.empty() ? "step-time breakdown" : context);
  s += "set style data histograms\nset style histogram rowstacked\n";
  s += "set style fill solid 0.9 border lc rgb '#ffffff'\nset boxwidth 0.65\n";
  s += "set ylabel 'step time (ms)'\nset yrange [0:*]\nset grid noxtics ytics\n";
  s += "set xtics rotate by 30 right nomirror font ',9'\n";
  s += "set key outside right top vertical\n";
  // Bars stand at x = 0 .. n-1 in the range [-0.6, n-0.4]. A label slanted by
  // 30 degrees that ends at its bar reaches w cos 30 + (h/2) sin 30 to the
  // left of it (w its width, h its height), plus 6 px from the tick. Bar i sits
  // at L + f_i (R - L) with f_i = (i + 0.6) / (n + 0.2), so it needs
  // L >= (reach_i - f_i R) / (1 - f_i). R leaves room for the key on the right:
  // its longest entry at the 12 px font plus its sample line and padding.
  const double n = static_cast<double>(labels.size());
  const double width = chart.width_px;
  double key_px = 0.0;
  for (const auto& p : parts) key_px = std::max(key_px, estimated_text_width_px(p, 12.0));
  const double right_px = width - (key_px + 80.0);
  double left_px = 80.0;  // the y tic labels and the y label
  constexpr double kCos30 = 0.8660254037844386;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double reach = estimated_text_width_px(labels[i], kLabelFontPx) * kCos30 + kLabelFontPx / 2.0 * 0.5 + 6.0;
    const double f = (static_cast<double>(i) + 0.6) / (n + 0.2);
    left_px = std::max(left_px, (reach - f * right_px) / (1.0 - f));
  }
  left_px = std::min(left_px, 0.6 * right_px);  // a label too long for this still keeps the plot visible
  s += fmt::format("set lmargin at screen {:.4f}\nset rmargin at screen {:.4f}\n", left_px / width, right_px / width);
  s += fmt::format("set xrange [-0.6:{}]\n", format_exact(n - 0.4));
  s += "plot ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) s += ", \\\n     ";
    s += fmt::format("'breakdown.dat' using {}{} title '{}' lc rgb '{}'", i + 2, i == 0 ? ":xtic(1)" : "",
                     gnuplot_label(parts[i]), series_colour(i));
  }
  s += "\n";
  return chart;
}

Chart traffic_heatmap(const TrafficMatrix& matrix, const std::string& name, const std::string& context,
                      std::int64_t max_cells) {
  const std::int64_t n = matrix.n;
  const std::int64_t block = std::max<std::int64_t>(1, (n + max_cells - 1) / std::max<std::int64_t>(1, max_cells));
  const std::int64_t cells = (n + block - 1) / block;
  std::vector<double> sum(static_cast<std::size_t>(cells * cells), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) sum[static_cast<std::size_t>((i / block) * cells + j / block)] += matrix.at(i, j);
  }
  double max_mib = 0.0;
  std::string data;
  data.reserve(static_cast<std::size_t>(cells * cells * 8));
  for (std::int64_t i = 0; i < cells; ++i) {
    for (std::int64_t j = 0; j < cells; ++j) {
      const double mib = sum[static_cast<std::size_t>(i * cells + j)] / (1024.0 * 1024.0);
      max_mib = std::max(max_mib, mib);
      if (j > 0) data += ' ';
      data += fmt::format("{:.6g}", mib);
    }
    data += '\n';
  }
  Chart chart;
  chart.name = name;
  chart.title = "All-to-all traffic of one step: MiB each source device sends to each destination" +
                (context.empty() ? std::string() : " (" + context + ")");
  chart.width_px = 760;
  chart.height_px = 660;
  chart.data_files.emplace_back("traffic.dat", data);
  const std::string unit = block == 1 ? std::string("device") : fmt::format("device block ({} devices each)", block);
  std::string& s = chart.script;
  s += chart_preamble(context.empty() ? "all-to-all traffic" : context);
  s += "set key off\nset grid noxtics noytics\nset size square\n";
  s += "set xlabel 'destination " + unit + "'\nset ylabel 'source " + unit + "'\nset cblabel 'MiB sent'\n";
  s += fmt::format("set xrange [-0.5:{0}]\nset yrange [{0}:-0.5]\n", format_exact(static_cast<double>(cells) - 0.5));
  s += fmt::format("set cbrange [0:{}]\n", format_exact(max_mib > 0.0 ? max_mib : 1.0));
  s += "set palette defined (0 '#fff7ec', 0.25 '#fdd49e', 0.5 '#fc8d59', 0.75 '#d7301f', 1 '#7f0000')\n";
  s += "set tics out nomirror\n";
  s += "plot 'traffic.dat' matrix with image\n";
  return chart;
}

std::optional<Chart> validation_chart(const ValidateView& view, const std::string& name, const std::string& context) {
  std::vector<std::string> kernels;
  std::map<std::string, std::string> data_by_kernel;
  double lo = 0.0;
  double hi = 0.0;
  bool first = true;
  bool any_uncertainty = false;
  for (const ValidateCase& c : view.cases) {
    if (!(c.measured_s > 0.0) || !(c.predicted_s > 0.0)) continue;  // log axes: nothing to draw at zero
    const std::string kernel = c.kernel.empty() ? std::string("kernel") : c.kernel;
    if (std::find(kernels.begin(), kernels.end(), kernel) == kernels.end()) kernels.push_back(kernel);
    const double u = c.relative_uncertainty.value_or(0.0);
    any_uncertainty = any_uncertainty || u > 0.0;
    data_by_kernel[kernel] += fmt::format("{} {} {} {}\n", format_exact(c.measured_s), format_exact(c.predicted_s),
                                          format_exact(c.predicted_s / (1.0 + u)),
                                          format_exact(c.predicted_s * (1.0 + u)));
    const double a = std::min(c.measured_s, c.predicted_s / (1.0 + u));
    const double b = std::max(c.measured_s, c.predicted_s * (1.0 + u));
    lo = first ? a : std::min(lo, a);
    hi = first ? b : std::max(hi, b);
    first = false;
  }
  if (kernels.empty()) return std::nullopt;
  lo /= 1.6;
  hi *= 1.6;
  Chart chart;
  chart.name = name;
  chart.title = "Predicted against measured kernel time (y = x is a perfect prediction; bands at ±10% and ±25%)" +
                (context.empty() ? std::string() : " (" + context + ")");
  chart.width_px = 760;
  chart.height_px = 640;
  std::string data;
  for (const auto& k : kernels) data += "# " + gnuplot_label(k) + "\n" + data_by_kernel[k] + "\n\n";
  chart.data_files.emplace_back("validate.dat", data);
  std::string& s = chart.script;
  s += chart_preamble(context.empty() ? "predicted vs measured" : "validate: " + context);
  s += "set key top left inside vertical box opaque\nset size square\nset logscale xy\n";
  s += fmt::format("set xrange [{0}:{1}]\nset yrange [{0}:{1}]\n", format_exact(lo), format_exact(hi));
  s += "set xlabel 'measured time'\nset ylabel 'predicted time'\n";
  s += "set format x '%.0s %cs'\nset format y '%.0s %cs'\nset samples 200\n";
  s += "plot '+' using 1:($1*0.75):($1*1.25) with filledcurves lc rgb '#e8eef7' title '±25%', \\\n";
  s += "     '+' using 1:($1*0.9):($1*1.1) with filledcurves lc rgb '#c9d9ee' title '±10%', \\\n";
  s += "     x with lines lw 1.5 dt 2 lc rgb '#444444' title 'y = x'";
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    s += fmt::format(", \\\n     'validate.dat' index {} using 1:2{} with {} pt 7 ps 1.1 lc rgb '{}' title '{}'", i,
                     any_uncertainty ? ":3:4" : "", any_uncertainty ? "yerrorbars" : "points", series_colour(i + 1),
                     gnuplot_label(kernels[i]));
  }
  s += "\n";
  return chart;
}

std::optional<Chart> fidelity_chart(const FidelityView& view, const std::string& name, const std::string& context) {
  std::vector<std::string> series;  // "unit" or "unit (excluded)"
  std::map<std::string, std::string> data_by_series;
  double lo = 0.0;
  double hi = 0.0;
  bool first = true;
  for (const FidelityCaseView& c : view.cases) {
    if (c.status != "ok" && c.status != "excluded") continue;
    if (!c.measured || !c.predicted || !(*c.measured > 0.0) || !(*c.predicted > 0.0)) continue;
    const std::string key = (c.unit.empty() ? std::string("figure") : c.unit) + (c.status == "excluded" ? " (excluded)" : "");
    if (std::find(series.begin(), series.end(), key) == series.end()) series.push_back(key);
    data_by_series[key] += fmt::format("{} {}\n", format_exact(*c.measured), format_exact(*c.predicted));
    const double a = std::min(*c.measured, *c.predicted);
    const double b = std::max(*c.measured, *c.predicted);
    lo = first ? a : std::min(lo, a);
    hi = first ? b : std::max(hi, b);
    first = false;
  }
  if (series.empty()) return std::nullopt;
  lo /= 1.6;
  hi *= 1.6;
  Chart chart;
  chart.name = name;
  chart.title = "Predicted against published measurements, each case in its own unit (y = x is a perfect "
                "prediction; bands at ±10% and ±25%)" +
                (context.empty() ? std::string() : " (" + context + ")");
  chart.width_px = 760;
  chart.height_px = 640;
  std::string data;
  for (const auto& k : series) data += "# " + gnuplot_label(k) + "\n" + data_by_series[k] + "\n\n";
  chart.data_files.emplace_back("fidelity.dat", data);
  std::string& s = chart.script;
  s += chart_preamble(context.empty() ? "fidelity" : "fidelity: " + context);
  s += "set key top left inside vertical box opaque\nset size square\nset logscale xy\n";
  s += fmt::format("set xrange [{0}:{1}]\nset yrange [{0}:{1}]\n", format_exact(lo), format_exact(hi));
  s += "set xlabel 'published'\nset ylabel 'predicted'\nset samples 200\n";
  s += "plot '+' using 1:($1*0.75):($1*1.25) with filledcurves lc rgb '#e8eef7' title '±25%', \\\n";
  s += "     '+' using 1:($1*0.9):($1*1.1) with filledcurves lc rgb '#c9d9ee' title '±10%', \\\n";
  s += "     x with lines lw 1.5 dt 2 lc rgb '#444444' title 'y = x'";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const bool excluded = series[i].find("(excluded)") != std::string::npos;
    s += fmt::format(", \\\n     'fidelity.dat' index {} using 1:2 with points pt {} ps 1.3 lc rgb '{}' title '{}'", i,
                     excluded ? 6 : 7, series_colour(i + 1), gnuplot_label(series[i]));
  }
  s += "\n";
  return chart;
}

}  // namespace switchsim::reports
