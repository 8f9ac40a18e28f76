#include "reports/sweep_report.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace switchsim::reports {
namespace fs = std::filesystem;
namespace {

// One simulated step of the sweep: a simulate point, or one row of a capacity point.
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
    if (result.contains("rows")) {
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

std::string sweep_report_markdown(const std::vector<json>& lines, const std::string& title) {
  const std::vector<Record> records = records_of(lines);
  std::size_t failed = 0;
  for (const json& l : lines) failed += l.contains("error") ? 1 : 0;
  std::string md = fmt::format("# {}\n\n{} points: {} ran, {} failed (their errors: results.jsonl, results.csv).\n\n",
                               title, lines.size(), lines.size() - failed, failed);
  std::vector<Record> baseline;
  for (const Record& r : records) {
    if (r.what_if == "baseline") baseline.push_back(r);
  }
  const std::vector<std::string> keys = varied_keys(baseline);

  md += "## Step time against each varied input (baseline machine)\n\n";
  if (keys.empty()) md += "No input varies.\n\n";
  for (const std::string& key : keys) {
    std::vector<std::pair<json, std::vector<double>>> groups;  // first-seen order of values
    for (const Record& r : baseline) {
      const json v = r.inputs.value(key, json());
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == v; });
      if (it == groups.end()) {
        groups.emplace_back(v, std::vector<double>{});
        it = std::prev(groups.end());
      }
      it->second.push_back(r.step_time_s);
    }
    md += fmt::format("### {}\n\n| {} | points | median step | best step |\n|---|---:|---:|---:|\n", key, key);
    for (const auto& [value, steps] : groups) {
      md += fmt::format("| {} | {} | {} | {} |\n", show(value), steps.size(), ms(median(steps)),
                        ms(*std::min_element(steps.begin(), steps.end())));
    }
    md += "\n";
  }

  md += "## Best configuration per model and mesh (baseline machine, fits memory)\n\n";
  std::map<std::string, const Record*> best;
  for (const Record& r : baseline) {
    if (!r.fits) continue;
    const std::string group = show(r.inputs.value("model", json())) + " on " + show(r.inputs.value("mesh", json()));
    const Record*& b = best[group];
    if (b == nullptr || r.step_time_s < b->step_time_s) b = &r;
  }
  if (best.empty()) md += "No point that ran fits memory.\n\n";
  for (const auto& [group, r] : best) {
    std::string config;
    for (const std::string& key : keys) {
      if (key == "model" || key == "mesh") continue;
      config += fmt::format("{}{}={}", config.empty() ? "" : ", ", key, show(r->inputs.value(key, json())));
    }
    md += fmt::format("- **{}**: step {}{}\n", group, ms(r->step_time_s), config.empty() ? "" : " with " + config);
  }
  md += "\n## What-ifs against the baseline\n\n";
  std::vector<std::string> names;
  for (const Record& r : records) {
    if (r.what_if != "baseline" && std::find(names.begin(), names.end(), r.what_if) == names.end()) {
      names.push_back(r.what_if);
    }
  }
  if (names.empty()) md += "No what-ifs.\n";
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
      md += fmt::format("- {}: no baseline point that ran to compare with\n", name);
      continue;
    }
    md += fmt::format("- {}: step {:+.1f}% (median of {} pairs, {:+.1f}% .. {:+.1f}%)\n", name,
                      100.0 * median(deltas), deltas.size(), 100.0 * *std::min_element(deltas.begin(), deltas.end()),
                      100.0 * *std::max_element(deltas.begin(), deltas.end()));
  }
  return md;
}

}  // namespace switchsim::reports
