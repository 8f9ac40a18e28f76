#include "reports/report.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "common/temp_dir.hpp"
#include "common/version.hpp"
#include "reports/format.hpp"
#include "reports/gnuplot.hpp"
#include "reports/rejections.hpp"
#include "reports/report_style.hpp"

namespace switchsim::reports {

namespace {

struct Table {
  std::vector<std::string> headers;
  std::vector<bool> numeric;  // right-aligned columns
  std::vector<bool> nowrap;   // columns kept on one line (layouts)
  std::vector<bool> wide;     // prose columns given room (why, reason)
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row_class;  // optional per-cell class of the last column ("ok"/"fail")
};

// Writes HTML and Markdown side by side, so both always hold the same content.
class Doc {
 public:
  explicit Doc(const ChartRenderer& render) : render_(render) {}

  void heading(int level, const std::string& text, const std::string& id = {}) {
    html_ += fmt::format("<h{0}{1}>{2}</h{0}>\n", level, id.empty() ? std::string() : " id=\"" + html_escape(id) + "\"",
                         html_escape(text));
    md_ += std::string(static_cast<std::size_t>(level), '#') + " " + markdown_cell(text) + "\n\n";
  }

  void note(const std::string& text) {
    html_ += "<p class=\"note\">" + html_escape(text) + "</p>\n";
    md_ += markdown_cell(text) + "\n\n";
  }

  void table(const Table& t) {
    if (t.rows.empty()) return;
    html_ += "<table>\n<thead><tr>";
    for (std::size_t c = 0; c < t.headers.size(); ++c) {
      html_ += std::string(is_numeric(t, c) ? "<th class=\"num\">" : "<th>") + html_escape(t.headers[c]) + "</th>";
    }
    html_ += "</tr></thead>\n<tbody>\n";
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      html_ += "<tr>";
      for (std::size_t c = 0; c < t.rows[r].size(); ++c) {
        std::string cls = is_numeric(t, c) ? "num" : (c < t.nowrap.size() && t.nowrap[c] ? "nw" : "");
        if (c < t.wide.size() && t.wide[c]) cls = "wide";
        if (c + 1 == t.rows[r].size() && r < t.row_class.size() && !t.row_class[r].empty()) cls = t.row_class[r];
        html_ += (cls.empty() ? std::string("<td>") : "<td class=\"" + cls + "\">") + html_escape(t.rows[r][c]) + "</td>";
      }
      html_ += "</tr>\n";
    }
    html_ += "</tbody>\n</table>\n";

    md_ += "|";
    for (const auto& h : t.headers) md_ += " " + markdown_cell(h) + " |";
    md_ += "\n|";
    for (std::size_t c = 0; c < t.headers.size(); ++c) md_ += is_numeric(t, c) ? "---:|" : "---|";
    md_ += "\n";
    for (const auto& row : t.rows) {
      md_ += "|";
      for (const auto& cell : row) {
        md_ += ' ';
        md_ += markdown_cell(cell);
        md_ += " |";
      }
      md_ += "\n";
    }
    md_ += "\n";
  }

  void chart(const Chart& c) {
    const std::string svg = render_(c);
    const std::string file = "charts/" + c.name + ".svg";
    charts_.push_back({file, svg});
    html_ += fmt::format(
        "<figure><img src=\"data:image/svg+xml;base64,{}\" width=\"{}\" height=\"{}\" alt=\"{}\">"
        "<figcaption>{}</figcaption></figure>\n",
        base64(svg), c.width_px, c.height_px, html_escape(c.title), html_escape(c.title));
    md_ += "![" + markdown_cell(c.title) + "](" + file + ")\n\n*" + markdown_cell(c.title) + "*\n\n";
  }

  void details_begin(const std::string& summary) {
    html_ += "<details><summary>" + html_escape(summary) + "</summary>\n";
    md_ += "**" + markdown_cell(summary) + "**\n\n";
  }
  void details_end() { html_ += "</details>\n"; }

  // How the report names a result file: its file name, or its path when
  // another input has the same file name; "#2" and on for a file given twice.
  [[nodiscard]] const std::string& label(const LoadedResult& r) const { return labels_.at(&r); }
  std::map<const LoadedResult*, std::string> labels_;

  std::string html_;
  std::string md_;
  std::vector<ReportFile> charts_;

 private:
  static bool is_numeric(const Table& t, std::size_t c) { return c < t.numeric.size() && t.numeric[c]; }
  const ChartRenderer& render_;
};

std::string text_field(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("name") && (*it)["name"].is_string()) return (*it)["name"].get<std::string>();
  return {};
}

// "switch-base on tpuv3-4x4" from a result's model and mesh, when it names them.
std::string context_of(const LoadedResult& r) {
  const json* j = &r.data;
  std::string model = text_field(*j, "model");
  std::string mesh = text_field(*j, "mesh");
  if (const auto it = j->find("inputs"); it != j->end() && it->is_object()) {
    if (model.empty()) model = text_field(*it, "model");
    if (mesh.empty()) mesh = text_field(*it, "mesh");
  }
  if (!model.empty() && !mesh.empty()) return model + " on " + mesh;
  return model.empty() ? mesh : model;
}

std::string stat_text(const Stat& s, std::string (*format)(double)) {
  std::string text = format(s.mean);
  // A spread that rounds to nothing at the mean's precision is left out.
  if (s.spread && *s.spread > 0.0 && format(*s.spread) != format(0.0)) text += " ± " + format(*s.spread);
  return text;
}

std::string tokens_text(double v) { return format_si(v); }
std::string seconds_text(double v) { return format_seconds(v); }
std::string percent_text(double v) { return format_percent(v); }

std::string optional_bytes(const std::optional<double>& b) { return b ? format_bytes(*b) : "—"; }
std::string optional_factor(const std::optional<double>& cf) { return cf ? format_fixed(*cf, 2) : "—"; }

std::map<const LoadedResult*, std::string> file_labels(const std::vector<LoadedResult>& results) {
  std::map<std::string, int> by_name;
  for (const LoadedResult& r : results) ++by_name[r.path.filename().string()];
  std::map<const LoadedResult*, std::string> labels;
  std::map<std::string, int> seen;
  for (const LoadedResult& r : results) {
    std::string label = r.path.filename().string();
    if (by_name[label] > 1) label = r.path.generic_string();
    const int n = ++seen[label];
    labels[&r] = n == 1 ? label : fmt::format("{} #{}", label, n);
  }
  return labels;
}

// "switch-base on tpuv3-4x4 (recommend.json)": what a section shows, and from which file.
std::string named_context(const Doc& doc, const LoadedResult& r, const std::string& context) {
  return context.empty() ? doc.label(r) : context + " (" + doc.label(r) + ")";
}

// "648 ms (539–756 ms)": the step time with its compute-cost band when the
// result has one; the band's unit is written once when both ends share it.
std::string step_time_text(const LayoutResult& r) {
  std::string s = format_seconds(r.step_time_s);
  if (r.step_time_low_s && r.step_time_high_s) {
    std::string low = format_seconds(*r.step_time_low_s);
    const std::string high = format_seconds(*r.step_time_high_s);
    const std::size_t low_unit = low.rfind(' ');
    const std::size_t high_unit = high.rfind(' ');
    if (low_unit != std::string::npos && high_unit != std::string::npos &&
        low.substr(low_unit) == high.substr(high_unit)) {
      low.resize(low_unit);
    }
    s += " (" + low + "–" + high + ")";
  }
  return s;
}

Table layout_table(const std::vector<LayoutResult>& rows, bool with_why) {
  Table t;
  t.headers = {"rank", "layout", "capacity factor", "mode", "step time", "tokens/s", "dropped", "memory/device"};
  t.numeric = {true, false, true, false, true, true, true, true};
  t.wide = {false, false, false, false, false, false, false, false, true};
  if (with_why) t.headers.emplace_back("why");
  for (const LayoutResult& r : rows) {
    std::vector<std::string> row = {r.rank ? std::to_string(*r.rank) : "—",
                                    r.layout,
                                    optional_factor(r.capacity_factor),
                                    r.mode.empty() ? "—" : r.mode,
                                    step_time_text(r),
                                    stat_text(r.tokens_per_s, tokens_text),
                                    stat_text(r.drop_fraction, percent_text),
                                    optional_bytes(r.memory_per_device_bytes)};
    if (with_why) row.push_back(r.why);
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string bar_label(const LayoutResult& r) {
  std::string label = r.layout;
  if (r.capacity_factor) label += " cf=" + format_fixed(*r.capacity_factor, 2);
  else if (!r.mode.empty()) label += " " + r.mode;
  return label;
}

void rejected_tables(Doc& doc, const std::vector<RejectedLayout>& rejected);

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// Each section names its input in its heading and returns its entry for the navigation bar.
std::string recommend_section(Doc& doc, const LoadedResult& r, const RecommendView& v, int index) {
  const std::string context = context_of(r);
  const std::string named = named_context(doc, r, context);
  doc.heading(2, "Recommended layouts: " + named, fmt::format("recommend-{}", index));
  std::string meta = "From " + doc.label(r) + ".";
  if (!v.objective.empty()) meta += " Objective: " + v.objective + ".";
  if (v.evaluated) meta += fmt::format(" {} candidates evaluated", *v.evaluated);
  if (v.pruned) meta += fmt::format(", {} pruned by lower bounds", *v.pruned);
  if (v.evaluated || v.pruned) meta += ".";
  if (v.wall_s) meta += " Search took " + format_seconds(*v.wall_s) + ".";
  doc.note(meta);
  if (v.ranked.empty()) {
    doc.note("No layout satisfies the request; the rejected layouts below say why.");
  } else {
    doc.heading(3, "Ranked layouts");
    doc.table(layout_table(v.ranked, true));
  }
  if (auto c = pareto_chart(v, fmt::format("pareto-{}", index), context)) {
    doc.heading(3, "Pareto front");
    doc.chart(*c);
    if (!v.pareto.empty()) doc.table(layout_table(v.pareto, false));
  }
  std::vector<LabelledBreakdown> bars;
  for (std::size_t i = 0; i < v.ranked.size() && i < 12; ++i) {
    bars.push_back({fmt::format("#{} {}", v.ranked[i].rank.value_or(static_cast<long long>(i + 1)), bar_label(v.ranked[i])),
                    v.ranked[i].breakdown});
  }
  if (auto c = breakdown_chart(bars, fmt::format("breakdown-recommend-{}", index), context)) {
    doc.heading(3, "Step-time breakdown of the ranked layouts");
    doc.chart(*c);
  }
  if (!v.rejected.empty()) rejected_tables(doc, v.rejected);
  return "Recommendation: " + named;
}

// Rejections grouped by reason kind (largest group first), then one row per
// layout and reason listing the capacity factors (rejections.hpp).
void rejected_tables(Doc& doc, const std::vector<RejectedLayout>& rejected) {
  doc.heading(3, fmt::format("Rejected layouts ({} candidates)", rejected.size()));
  doc.note("Each layout is listed once per reason, with the capacity factors (or the mode) it was rejected at; where "
           "the reason's numbers differ between them, they are given in that order, separated by '/'.");
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RejectedLayout*>> groups;
  for (const RejectedLayout& rej : rejected) {
    if (groups.find(rej.reason_kind) == groups.end()) order.push_back(rej.reason_kind);
    groups[rej.reason_kind].push_back(&rej);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](const std::string& a, const std::string& b) { return groups[a].size() > groups[b].size(); });
  for (const std::string& kind : order) {
    const auto& members = groups[kind];
    const std::vector<RejectedRow> rows = group_rejections(members);
    std::set<std::string> layouts;
    for (const RejectedRow& row : rows) layouts.insert(row.layout);
    doc.details_begin(fmt::format("{} ({} layout{}, {} candidate{})", kind, layouts.size(), layouts.size() == 1 ? "" : "s",
                                  members.size(), members.size() == 1 ? "" : "s"));
    Table t;
    t.headers = {"layout", "capacity factors (or mode)", "reason"};
    t.nowrap = {true, false, false};
    t.wide = {false, false, true};
    for (const RejectedRow& row : rows) t.rows.push_back({row.layout, join(row.variants, ", "), row.reason});
    doc.table(t);
    doc.details_end();
  }
}

std::string capacity_section(Doc& doc, const LoadedResult& r, const CapacityView& v, int index) {
  std::string context = context_of(r);
  if (!v.layout.empty()) context += (context.empty() ? "" : ", ") + v.layout;
  const std::string named = named_context(doc, r, context);
  doc.heading(2, "Capacity factor trade-off: " + named, fmt::format("capacity-{}", index));
  doc.note("From " + doc.label(r) + ". Spreads (±) are over routing seeds.");
  const bool any_factor = std::any_of(v.rows.begin(), v.rows.end(), [](const CapacityRow& row) { return row.capacity_factor.has_value(); });
  if (any_factor) doc.chart(capacity_chart(v, fmt::format("capacity-{}", index), context));
  Table t;
  t.headers = {"capacity factor", "mode", "step time", "tokens/s", "dropped", "memory/device"};
  t.numeric = {true, false, true, true, true, true};
  for (const CapacityRow& row : v.rows) {
    t.rows.push_back({optional_factor(row.capacity_factor), row.mode.empty() ? "—" : row.mode,
                      stat_text(row.step_time_s, seconds_text), stat_text(row.tokens_per_s, tokens_text),
                      stat_text(row.drop_fraction, percent_text), optional_bytes(row.memory_per_device_bytes)});
  }
  doc.table(t);
  return "Capacity factors: " + named;
}

void simulate_section(Doc& doc, const std::vector<std::pair<const LoadedResult*, const SimulateView*>>& runs) {
  doc.heading(2, "Simulated training steps", "simulate");
  Table t;
  t.headers = {"file", "model on mesh", "layout", "capacity factor", "mode", "step time", "tokens/s", "dropped",
               "memory/device", "fits"};
  t.numeric = {false, false, false, true, false, true, true, true, true, false};
  t.nowrap = {false, false, true};
  std::vector<LabelledBreakdown> bars;
  for (const auto& [r, v] : runs) {
    const LayoutResult& s = v->step;
    const std::string fits = v->fits_memory ? (*v->fits_memory ? "yes" : "no") : "—";
    t.rows.push_back({doc.label(*r), context_of(*r), s.layout, optional_factor(s.capacity_factor),
                      s.mode.empty() ? "—" : s.mode, step_time_text(s), stat_text(s.tokens_per_s, tokens_text),
                      stat_text(s.drop_fraction, percent_text), optional_bytes(s.memory_per_device_bytes), fits});
    t.row_class.push_back(v->fits_memory ? (*v->fits_memory ? "ok" : "fail") : "");
    bars.push_back({bar_label(s), s.breakdown});
  }
  doc.table(t);
  if (auto c = breakdown_chart(bars, "breakdown-simulate", "simulated steps")) doc.chart(*c);
  int heatmap = 0;
  for (const auto& [r, v] : runs) {
    if (!v->traffic) continue;
    ++heatmap;
    const std::string context = context_of(*r) + ", " + bar_label(v->step);
    doc.heading(3, "All-to-all traffic: " + context);
    doc.chart(traffic_heatmap(*v->traffic, fmt::format("traffic-{}", heatmap), context));
  }
  if (heatmap == 0) {
    doc.note("No simulated step carries a traffic matrix (traffic_matrix), so no all-to-all heatmap is drawn.");
  }
}

void collective_section(Doc& doc, const std::vector<std::pair<const LoadedResult*, const CollectiveView*>>& runs) {
  doc.heading(2, "Collectives", "collective");
  doc.note("Bandwidths follow nccl-tests: algbw = bytes / time; busbw = algbw x (n-1)/n, or 2(n-1)/n for all-reduce.");
  Table t;
  t.headers = {"file", "mesh", "op", "algorithm", "devices", "bytes/device", "time", "algbw", "busbw", "flows",
               "events", "wall"};
  t.numeric = {false, false, false, false, true, true, true, true, true, true, true, true};
  for (const auto& [r, v] : runs) {
    t.rows.push_back({doc.label(*r), text_field(r->data, "mesh"), v->op, v->algorithm.empty() ? "—" : v->algorithm,
                      std::to_string(v->devices), format_bytes(v->bytes), format_seconds(v->time_s),
                      format_si(v->algbw_Bps) + "B/s", format_si(v->busbw_Bps) + "B/s",
                      v->flows ? std::to_string(*v->flows) : "—", v->events ? std::to_string(*v->events) : "—",
                      v->wall_s ? format_seconds(*v->wall_s) : "—"});
  }
  doc.table(t);
}

std::string validate_section(Doc& doc, const LoadedResult& r, const ValidateView& v, int index) {
  std::string context = text_field(r.data, "backend");
  if (context.empty()) context = "validation";
  const std::string named = named_context(doc, r, context);
  doc.heading(2, "Predicted against measured: " + named, fmt::format("validate-{}", index));
  std::string meta = "From " + doc.label(r) + ". " + std::to_string(v.cases.size()) + " held-out cases";
  if (v.mape) meta += ", mean absolute percentage error " + format_percent(*v.mape > 1.0 ? *v.mape / 100.0 : *v.mape);
  doc.note(meta + ".");
  if (auto c = validation_chart(v, fmt::format("validate-{}", index), context)) doc.chart(*c);
  Table t;
  t.headers = {"kernel", "shape", "predicted", "measured", "error"};
  t.numeric = {false, false, true, true, true};
  for (const ValidateCase& c : v.cases) {
    const double error = c.error.value_or(c.measured_s > 0.0 ? (c.predicted_s - c.measured_s) / c.measured_s : 0.0);
    t.rows.push_back({c.kernel, c.shape, format_seconds(c.predicted_s), format_seconds(c.measured_s), format_percent(error)});
  }
  doc.table(t);
  if (!v.drop_check.empty()) {
    doc.heading(3, "Dropped tokens: dispatch kernel against the simulator's drop model");
    Table d;
    d.headers = {"router output", "kernel drops", "simulator drops", "expected drops", "match"};
    d.numeric = {false, true, true, true, false};
    for (const DropCheck& c : v.drop_check) {
      d.rows.push_back({c.name, format_exact(c.kernel_drops), format_exact(c.simulator_drops),
                        c.expected_drops ? format_fixed(*c.expected_drops, 1) : "—", c.match ? "yes" : "NO"});
      d.row_class.push_back(c.match ? "ok" : "fail");
    }
    doc.table(d);
  }
  return "Validation: " + named;
}

std::string fidelity_section(Doc& doc, const LoadedResult& r, const FidelityView& v, int index) {
  doc.heading(2, "Predicted against published measurements (" + doc.label(r) + ")", fmt::format("fidelity-{}", index));
  std::size_t compared = 0;
  for (const FidelityCaseView& c : v.cases) compared += c.status == "ok" ? 1 : 0;
  std::string meta = "From " + doc.label(r) + ". " + std::to_string(v.cases.size()) + " cases, " +
                     std::to_string(compared) + " compared";
  if (v.mape_percent) meta += ", mean absolute percentage error " + format_percent(*v.mape_percent / 100.0);
  doc.note(meta + " (docs/fidelity.md: excluded, unsupported and error cases do not count).");
  if (auto c = fidelity_chart(v, fmt::format("fidelity-{}", index), "")) doc.chart(*c);
  Table t;
  t.headers = {"case", "unit", "published", "predicted", "error", "status"};
  t.numeric = {false, false, true, true, true, false};
  t.nowrap = {true, true, false, false, false, false};
  for (const FidelityCaseView& c : v.cases) {
    t.rows.push_back({c.id, c.unit, c.measured ? format_si(*c.measured) : "—", c.predicted ? format_si(*c.predicted) : "—",
                      c.relative_error ? format_percent(*c.relative_error) : "—",
                      c.reason.empty() ? c.status : c.status + ": " + c.reason});
    t.row_class.push_back(c.status == "ok" ? "ok" : (c.status == "error" ? "fail" : ""));
  }
  doc.table(t);
  return "Fidelity (" + doc.label(r) + ")";
}

void inputs_section(Doc& doc, const std::vector<LoadedResult>& results) {
  doc.heading(2, "Inputs and provenance", "inputs");
  int index = 0;
  for (const LoadedResult& r : results) {
    doc.heading(3, doc.label(r) + " (" + to_string(r.kind) + ")", fmt::format("inputs-{}", ++index));
    Table t;
    t.headers = {"field", "value"};
    for (const auto& [key, value] : r.inputs) t.rows.push_back({key, value});
    doc.table(t);
  }
}

}  // namespace

ReportDocument build_report(const std::vector<LoadedResult>& results, const ChartRenderer& render,
                            const ReportOptions& options) {
  Doc doc(render);
  doc.labels_ = file_labels(results);
  std::vector<std::pair<const LoadedResult*, const SimulateView*>> simulations;
  std::vector<std::pair<const LoadedResult*, const CollectiveView*>> collectives;
  int recommend_index = 0;
  int capacity_index = 0;
  int validate_index = 0;
  int fidelity_index = 0;
  std::vector<std::pair<std::string, std::string>> nav;  // (id, label)

  for (const LoadedResult& r : results) {
    if (const auto* v = std::get_if<RecommendView>(&r.view)) {
      ++recommend_index;
      const std::string label = recommend_section(doc, r, *v, recommend_index);
      nav.emplace_back(fmt::format("recommend-{}", recommend_index), label);
    }
  }
  for (const LoadedResult& r : results) {
    if (const auto* v = std::get_if<CapacityView>(&r.view)) {
      ++capacity_index;
      const std::string label = capacity_section(doc, r, *v, capacity_index);
      nav.emplace_back(fmt::format("capacity-{}", capacity_index), label);
    }
  }
  for (const LoadedResult& r : results) {
    if (const auto* v = std::get_if<SimulateView>(&r.view)) simulations.emplace_back(&r, v);
    if (const auto* v = std::get_if<CollectiveView>(&r.view)) collectives.emplace_back(&r, v);
  }
  if (!simulations.empty()) {
    simulate_section(doc, simulations);
    nav.emplace_back("simulate", "Simulated steps");
  }
  if (!collectives.empty()) {
    collective_section(doc, collectives);
    nav.emplace_back("collective", "Collectives");
  }
  for (const LoadedResult& r : results) {
    if (const auto* v = std::get_if<ValidateView>(&r.view)) {
      ++validate_index;
      const std::string label = validate_section(doc, r, *v, validate_index);
      nav.emplace_back(fmt::format("validate-{}", validate_index), label);
    }
  }
  for (const LoadedResult& r : results) {
    if (const auto* v = std::get_if<FidelityView>(&r.view)) {
      ++fidelity_index;
      const std::string label = fidelity_section(doc, r, *v, fidelity_index);
      nav.emplace_back(fmt::format("fidelity-{}", fidelity_index), label);
    }
  }
  inputs_section(doc, results);
  nav.emplace_back("inputs", "Inputs and provenance");

  std::string sources;
  for (const LoadedResult& r : results) {
    sources += (sources.empty() ? "" : ", ") + doc.label(r) + " (" + to_string(r.kind) + ")";
  }
  const std::string meta = std::string("Written by switchsim ") + kVersion + " from " + sources + ".";

  ReportDocument out;
  out.html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out.html += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n";
  out.html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out.html += "<title>" + html_escape(options.title) + "</title>\n<style>" + kReportCss + "</style>\n</head>\n<body>\n<main>\n";
  out.html += "<header>\n<h1>" + html_escape(options.title) + "</h1>\n<p class=\"meta\">" + html_escape(meta) + "</p>\n<nav>";
  for (const auto& [id, label] : nav) out.html += "<a href=\"#" + html_escape(id) + "\">" + html_escape(label) + "</a>";
  out.html += "</nav>\n</header>\n";
  out.html += doc.html_;
  out.html += "</main>\n</body>\n</html>\n";

  out.markdown = "# " + markdown_cell(options.title) + "\n\n" + markdown_cell(meta) + "\n\n" + doc.md_;
  out.charts = std::move(doc.charts_);
  return out;
}

void write_report(const ReportDocument& document, const std::filesystem::path& out_dir) {
  namespace fs = std::filesystem;
  const fs::path dir = out_dir.has_filename() ? out_dir : out_dir.parent_path();
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) throw InputError("--out", "folder '" + parent.string() + "' does not exist");
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw InputError("--out", "'" + dir.string() + "' exists and is not a folder");
  }
  const auto write_all = [&](const fs::path& base) {
    if (!document.charts.empty()) fs::create_directories(base / "charts", ec);
    if (ec) throw InputError("--out", "cannot create '" + (base / "charts").string() + "': " + ec.message());
    for (const ReportFile& f : document.charts) write_file_atomically(base / f.relative_path, f.contents);
    write_file_atomically(base / "report.md", document.markdown);
    write_file_atomically(base / "report.html", document.html);
  };
  if (!fs::exists(dir, ec)) {
    // A fresh folder: build it whole beside its final place, then rename it in.
    TempDir staging(parent, "." + dir.filename().string() + ".tmp.");
    write_all(staging.path());
    fs::permissions(staging.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec, ec);
    if (::rename(staging.path().c_str(), dir.c_str()) != 0) {
      throw InputError("--out", "cannot create '" + dir.string() + "': " + std::strerror(errno));
    }
    staging.release();
    return;
  }
  // An existing folder (the report goes next to the JSON it reads): every file
  // is complete before it appears, report.html last.
  write_all(dir);
}

}  // namespace switchsim::reports
