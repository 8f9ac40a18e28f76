#include "reports/sweep_report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "reports/format.hpp"
#include "reports/report_style.hpp"
#include "reports/sweep_charts.hpp"

namespace switchsim::reports {
namespace fs = std::filesystem;
namespace {

// One simulated step of the sweep: a simulate point, one row of a capacity point, or a
// recommend point's best layout.
struct Record {
  json inputs;  // without what_if; a capacity row's factor as capacity_factor
  std::string what_if;
  double step_time_s = 0.0;
  bool fits = true;
};

std::vector<Record> records_of(const std::vector<json>& lines) {
  std::vector<Record> out;
  for (const json& l : lines) {
    if (!l.contains("result")) continue;
    json inputs = l["inputs"];
    const std::string what_if = inputs.value("what_if", json::object()).value("name", std::string("baseline"));
    inputs.erase("what_if");
    const json& result = l["result"];
    std::vector<const json*> rows;
    if (result.contains("recommendations")) {
      // A recommend point: its best layout (none when nothing fits memory or the drop limit).
      if (!result["recommendations"].empty()) rows.push_back(&result["recommendations"][0]);
    } else if (result.contains("rows")) {
      for (const json& r : result["rows"]) rows.push_back(&r);
    } else {
      rows.push_back(&result);
    }
    for (const json* r : rows) {
      Record rec{inputs, what_if, r->value("step_time_s", 0.0), r->value("fits_memory", true)};
      if (result.contains("rows")) rec.inputs["capacity_factor"] = r->value("capacity_factor", 0.0);
      out.push_back(std::move(rec));
    }
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string show(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }
std::string ms(double s) { return fmt::format("{:.4g} ms", s * 1e3); }

// The input keys whose values differ between records.
std::vector<std::string> varied_keys(const std::vector<Record>& records) {
  std::vector<std::string> keys;
  for (const Record& r : records) {
    for (const auto& [k, v] : r.inputs.items()) {
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
      for (const Record& o : records) {
        if (o.inputs.value(k, json()) != v) {
          keys.push_back(k);
          break;
        }
      }
    }
  }
  return keys;
}

}  // namespace

bool is_sweep_dir(const fs::path& path) { return fs::is_directory(path) && fs::exists(path / "results.jsonl"); }

std::vector<json> read_sweep_lines(const fs::path& dir, const std::string& field) {
  std::ifstream in(dir / "results.jsonl");
  if (!in) throw InputError(field, "cannot read '" + (dir / "results.jsonl").string() + "'");
  std::vector<json> lines;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    try {
      json j = json::parse(text);
      if (!j.is_object() || !j.contains("id") || !j.contains("inputs")) throw std::runtime_error("fields");
      lines.push_back(std::move(j));
    } catch (const std::exception&) {
      throw InputError(field, fmt::format("'{}' line {} is not a sweep line", (dir / "results.jsonl").string(), n));
    }
  }
  return lines;
}

namespace {

// Markdown and HTML side by side (the HTML page is self-contained: report.hpp). Markdown text
// outside tables is written as it is (input names like capacity_factor read as written);
// table cells go through markdown_cell ('|' would break the row).
class SweepDoc {
 public:
  explicit SweepDoc(const ChartRenderer& render) : render_(render) {}
  // (Strings are appended piecewise: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string&&.)
  void heading(int level, const std::string& text) {
    close_list();
    md_.append(static_cast<std::size_t>(level), '#').append(" ").append(text).append("\n\n");
    html_ += fmt::format("<h{0}>{1}</h{0}>\n", level, html_escape(text));
  }
  void paragraph(const std::string& text) {
    close_list();
    md_.append(text).append("\n\n");
    html_.append("<p>").append(html_escape(text)).append("</p>\n");
  }
  void table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
    close_list();
    md_ += "|";
    std::string rule = "|";
    html_ += "<table>\n<thead><tr>";
    for (std::size_t c = 0; c < headers.size(); ++c) {
      md_.append(" ").append(markdown_cell(headers[c])).append(" |");
      rule += c == 0 ? "---|" : "---:|";
      html_.append(c == 0 ? "<th>" : "<th class=\"num\">").append(html_escape(headers[c])).append("</th>");
    }
    md_.append("\n").append(rule).append("\n");
    html_ += "</tr></thead>\n<tbody>\n";
    for (const auto& row : rows) {
      md_ += "|";
      html_ += "<tr>";
      for (std::size_t c = 0; c < row.size(); ++c) {
        md_.append(" ").append(markdown_cell(row[c])).append(" |");
        html_.append(c == 0 ? "<td>" : "<td class=\"num\">").append(html_escape(row[c])).append("</td>");
      }
      md_ += "\n";
      html_ += "</tr>\n";
    }
    md_ += "\n";
    html_ += "</tbody>\n</table>\n";
  }
  // A list item: `bold` in bold (when not empty), then `rest`.
  void item(const std::string& bold, const std::string& rest) {
    if (!in_list_) html_ += "<ul>\n";
    in_list_ = true;
    md_ += "- ";
    html_ += "<li>";
    if (!bold.empty()) {
      md_.append("**").append(bold).append("**");
      html_.append("<strong>").append(html_escape(bold)).append("</strong>");
    }
    md_.append(rest).append("\n");
    html_.append(html_escape(rest)).append("</li>\n");
  }
  void chart(const Chart& c) {
    if (!render_) return;  // no renderer: tables only
    close_list();
    const std::string svg = render_(c);
    std::string file = "charts/";
    file.append(c.name).append(".svg");
    charts_.push_back({file, svg});
    html_ += fmt::format(
        "<figure><img src=\"data:image/svg+xml;base64,{}\" width=\"{}\" height=\"{}\" alt=\"{}\">"
        "<figcaption>{}</figcaption></figure>\n",
        base64(svg), c.width_px, c.height_px, html_escape(c.title), html_escape(c.title));
    md_ += fmt::format("![{}]({})\n\n", c.title, file);
  }
  void close_list() {
    if (!in_list_) return;
    in_list_ = false;
    md_ += "\n";
    html_ += "</ul>\n";
  }
  std::string md_;
  std::string html_;
  std::vector<ReportFile> charts_;

 private:
  const ChartRenderer& render_;
  bool in_list_ = false;
};

constexpr const char* kFigure = "median step time (ms)";
constexpr std::size_t kMaxHeatmaps = 6;

// The distinct values of `key` over `records`, first-seen order.
std::vector<json> values_of(const std::vector<Record>& records, const std::string& key) {
  std::vector<json> values;
  for (const Record& r : records) {
    const json v = r.inputs.value(key, json());
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
  }
  return values;
}

// Median step time in ms of the records matching `pred`; NaN when none.
template <class Pred>
double median_ms(const std::vector<Record>& records, Pred pred) {
  std::vector<double> steps;
  for (const Record& r : records) {
    if (pred(r)) steps.push_back(r.step_time_s * 1e3);
  }
  return steps.empty() ? std::nan("") : median(steps);
}

}  // namespace

ReportDocument build_sweep_report(const std::vector<json>& lines, const std::string& title,
                                  const ChartRenderer& render) {
  SweepDoc doc(render);
  const std::vector<Record> records = records_of(lines);
  std::size_t failed = 0;
  for (const json& l : lines) failed += l.contains("error") ? 1 : 0;
  doc.heading(1, title);
  doc.paragraph(fmt::format("{} points: {} ran, {} failed (their errors: results.jsonl, results.csv).", lines.size(),
                            lines.size() - failed, failed));
  std::vector<Record> baseline;
  for (const Record& r : records) {
    if (r.what_if == "baseline") baseline.push_back(r);
  }
  const std::vector<std::string> keys = varied_keys(baseline);
  std::vector<std::string> names;  // the what-ifs, first-seen order
  for (const Record& r : records) {
    if (r.what_if != "baseline" && std::find(names.begin(), names.end(), r.what_if) == names.end()) {
      names.push_back(r.what_if);
    }
  }

  doc.heading(2, "Step time against each varied input (baseline machine)");
  if (keys.empty()) doc.paragraph("No input varies.");
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const std::string& key = keys[k];
    const std::vector<json> values = values_of(baseline, key);
    std::vector<std::vector<std::string>> rows;
    for (const json& value : values) {
      std::vector<double> steps;
      for (const Record& r : baseline) {
        if (r.inputs.value(key, json()) == value) steps.push_back(r.step_time_s);
      }
      rows.push_back({show(value), std::to_string(steps.size()), ms(median(steps)),
                      ms(*std::min_element(steps.begin(), steps.end()))});
    }
    doc.heading(3, key);
    doc.table({key, "points", "median step", "best step"}, rows);
    // The chart: one line per machine (baseline, then each what-if) over the baseline's values.
    std::vector<SweepSeries> series;
    for (std::size_t m = 0; m <= names.size(); ++m) {
      const std::string machine = m == 0 ? std::string("baseline") : names[m - 1];
      SweepSeries s{machine, {}};
      for (const json& value : values) {
        s.y.push_back(median_ms(records, [&](const Record& r) {
          return r.what_if == machine && r.inputs.value(key, json()) == value;
        }));
      }
      series.push_back(std::move(s));
    }
    doc.chart(sweep_line_chart(key, values, series, kFigure, fmt::format("sweep-axis-{}", k + 1)));
  }

  // Heatmaps over each pair of numeric inputs (baseline machine).
  std::vector<std::string> numeric;
  for (const std::string& key : keys) {
    if (all_numbers(values_of(baseline, key))) numeric.push_back(key);
  }
  std::size_t heatmaps = 0;
  for (std::size_t a = 0; a < numeric.size(); ++a) {
    for (std::size_t b = a + 1; b < numeric.size() && heatmaps < kMaxHeatmaps; ++b) {
      if (heatmaps == 0) doc.heading(2, "Step time over two numeric inputs (baseline machine)");
      ++heatmaps;
      const std::vector<json> xs = values_of(baseline, numeric[a]);
      const std::vector<json> ys = values_of(baseline, numeric[b]);
      std::vector<std::vector<double>> cells(xs.size(), std::vector<double>(ys.size()));
      for (std::size_t i = 0; i < xs.size(); ++i) {
        for (std::size_t j = 0; j < ys.size(); ++j) {
          cells[i][j] = median_ms(baseline, [&](const Record& r) {
            return r.inputs.value(numeric[a], json()) == xs[i] && r.inputs.value(numeric[b], json()) == ys[j];
          });
        }
      }
      doc.chart(sweep_heatmap(numeric[a], xs, numeric[b], ys, cells, kFigure, fmt::format("sweep-heatmap-{}", heatmaps)));
    }
  }

  doc.heading(2, "Best configuration per model and mesh (baseline machine, fits memory)");
  std::map<std::string, const Record*> best;
  for (const Record& r : baseline) {
    if (!r.fits) continue;
    const std::string group = show(r.inputs.value("model", json())) + " on " + show(r.inputs.value("mesh", json()));
    const Record*& b = best[group];
    if (b == nullptr || r.step_time_s < b->step_time_s) b = &r;
  }
  if (best.empty()) doc.paragraph("No point that ran fits memory.");
  for (const auto& [group, r] : best) {
    std::string config;
    for (const std::string& key : keys) {
      if (key == "model" || key == "mesh") continue;
      config += fmt::format("{}{}={}", config.empty() ? "" : ", ", key, show(r->inputs.value(key, json())));
    }
    doc.item(group, fmt::format(": step {}{}", ms(r->step_time_s), config.empty() ? "" : " with " + config));
  }
  doc.heading(2, "What-ifs against the baseline");
  if (names.empty()) doc.paragraph("No what-ifs.");
  for (const std::string& name : names) {
    std::vector<double> deltas;
    for (const Record& r : records) {
      if (r.what_if != name) continue;
      for (const Record& b : baseline) {
        if (b.inputs == r.inputs && b.step_time_s > 0.0) {
          deltas.push_back(r.step_time_s / b.step_time_s - 1.0);
          break;
        }
      }
    }
    if (deltas.empty()) {
      doc.item("", fmt::format("{}: no baseline point that ran to compare with", name));
      continue;
    }
    doc.item("", fmt::format("{}: step {:+.1f}% (median of {} pairs, {:+.1f}% .. {:+.1f}%)", name,
                             100.0 * median(deltas), deltas.size(),
                             100.0 * *std::min_element(deltas.begin(), deltas.end()),
                             100.0 * *std::max_element(deltas.begin(), deltas.end())));
  }
  doc.close_list();

  ReportDocument out;
  out.html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out.html += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
              "style-src 'unsafe-inline'\">\n";
  out.html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out.html += "<title>" + html_escape(title) + "</title>\n<style>" + kReportCss + "</style>\n</head>\n<body>\n<main>\n";
  out.html += doc.html_;
  out.html += "</main>\n</body>\n</html>\n";
  out.markdown = std::move(doc.md_);
  out.charts = std::move(doc.charts_);
  return out;
}

std::string sweep_report_markdown(const std::vector<json>& lines, const std::string& title) {
  return build_sweep_report(lines, title, nullptr).markdown;
}

}  // namespace switchsim::reports
