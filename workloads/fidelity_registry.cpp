#include "workloads/fidelity_registry.hpp"

#include <algorithm>
#include <set>

#include "common/data_path.hpp"
#include "common/errors.hpp"
#include "common/known_keys.hpp"

namespace switchsim::workloads {

namespace fs = std::filesystem;

const std::vector<std::string>& measurement_units() {
  static const std::vector<std::string> units = {"busbw_GBps",   "algbw_GBps",     "time_us",
                                                 "ratio",        "step_time_s",    "tokens_per_s",
                                                 "examples_per_s", "model_tflops_per_device", "mfu_percent",
                                                 "bottleneck_bw_GBps"};
  return units;
}

bool unit_applies(const std::string& unit, const std::string& kind) {
  if (kind == "collective") return unit == "busbw_GBps" || unit == "algbw_GBps" || unit == "time_us";
  if (kind == "collective_ratio") return unit == "ratio";
  if (kind == "step") {
    return unit == "step_time_s" || unit == "tokens_per_s" || unit == "examples_per_s" ||
           unit == "model_tflops_per_device" || unit == "mfu_percent";
  }
  return false;
}

double Measurement::reference() const {
  if (value) return *value;
  return 0.5 * (low.value_or(0.0) + high.value_or(0.0));
}

namespace {

std::string optional_string(const json& obj, const std::string& key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (!it->is_string()) throw InputError(where + "." + key, "must be a string");
  return it->get<std::string>();
}

Measurement parse_measurement(const json& m, const std::string& where) {
  Measurement out;
  require_known_keys(m, {"unit", "value", "low", "high"}, where);
  out.unit = require_string(m, "unit", where);
  const auto& units = measurement_units();
  if (std::find(units.begin(), units.end(), out.unit) == units.end()) {
    std::string list;
    for (const auto& u : units) list += (list.empty() ? "" : ", ") + u;
    throw InputError(where + ".unit", "unknown unit '" + out.unit + "' (" + list + ")");
  }
  const bool has_value = m.contains("value");
  const bool has_range = m.contains("low") || m.contains("high");
  if (has_value == has_range) throw InputError(where + ".value", "give either value, or low and high");
  if (has_value) {
    out.value = require_positive(m, "value", where);
  } else {
    out.low = require_positive(m, "low", where);
    out.high = require_positive(m, "high", where);
    if (*out.high < *out.low) throw InputError(where + ".high", "must not be below low");
  }
  return out;
}

FidelityCase parse_case(const json& c, const std::string& where, const FidelityCase& file_fields) {
  FidelityCase out = file_fields;
  if (!c.is_object()) throw InputError(where, "must be a JSON object");
  require_known_keys(c,
                     {"id", "kind", "description", "location", "as_published", "unknowns", "unsupported",
                      "exclude_from_mape", "measured", "config"},
                     where);
  out.id = require_string(c, "id", where);
  out.description = require_string(c, "description", where);
  out.location = require_string(c, "location", where);
  out.as_published = require_string(c, "as_published", where);
  out.unknowns = optional_string(c, "unknowns", where);
  out.unsupported = optional_string(c, "unsupported", where);
  out.exclude_from_mape = optional_string(c, "exclude_from_mape", where);
  out.measured = parse_measurement(require(c, "measured", where), where + ".measured");
  if (c.contains("config")) {
    out.config = c.at("config");
    if (!out.config.is_object()) throw InputError(where + ".config", "must be a JSON object");
  }
  if (out.unsupported.empty()) {
    out.kind = require_string(c, "kind", where);
    if (out.kind != "collective" && out.kind != "collective_ratio" && out.kind != "step") {
      throw InputError(where + ".kind", "unknown kind '" + out.kind + "' (collective, collective_ratio, step)");
    }
    if (!c.contains("config")) throw InputError(where + ".config", "missing");
    if (!unit_applies(out.measured.unit, out.kind)) {
      throw InputError(where + ".measured.unit", "unit '" + out.measured.unit + "' does not apply to a " + out.kind + " case");
    }
  } else {
    out.kind = optional_string(c, "kind", where);
  }
  return out;
}

FidelityCase error_case(const std::string& file, const std::string& id, const InputError& e) {
  FidelityCase c;
  c.file = file;
  c.id = id;
  c.error_field = file + ": " + e.field();
  c.error = e.reason();
  return c;
}

void load_file(const fs::path& path, std::vector<FidelityCase>& out, std::set<std::string>& ids) {
  const std::string file = path.string();
  json doc;
  FidelityCase file_fields;
  file_fields.file = file;
  try {
    doc = read_json_file(path, file);
    if (!doc.is_object()) throw InputError("(top level)", "must be a JSON object");
    if (require_integer(doc, "schema_version", "") != 1) throw InputError("schema_version", "must be 1");
    require_known_keys(doc, {"schema_version", "source", "cases", "notes"}, "");
    const json& source = require(doc, "source", "");
    require_known_keys(source, {"citation", "url", "accessed"}, "source");
    file_fields.citation = require_string(source, "citation", "source");
    file_fields.url = require_string(source, "url", "source");
    (void)require_string(source, "accessed", "source");
    const json& cases = require(doc, "cases", "");
    if (!cases.is_array() || cases.empty()) throw InputError("cases", "must be a non-empty array");
  } catch (const InputError& e) {
    // read_json_file names the file itself; the others name a field of it.
    std::string field = e.field();
    if (!field.empty() && field.front() == '.') field.erase(0, 1);
    out.push_back(error_case(file, "(file)", InputError(field == file ? "(file)" : field, e.reason())));
    return;
  }
  const json& cases = doc.at("cases");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string where = "cases[" + std::to_string(i) + "]";
    std::string id = where;
    if (cases[i].is_object() && cases[i].contains("id") && cases[i].at("id").is_string()) {
      id = cases[i].at("id").get<std::string>();
    }
    try {
      FidelityCase c = parse_case(cases[i], where, file_fields);
      if (!ids.insert(c.id).second) throw InputError(where + ".id", "duplicate case id '" + c.id + "'");
      out.push_back(std::move(c));
    } catch (const InputError& e) {
      FidelityCase c = error_case(file, id, e);
      c.citation = file_fields.citation;
      c.url = file_fields.url;
      out.push_back(std::move(c));
    }
  }
}

}  // namespace

std::vector<FidelityCase> load_registry(const std::vector<fs::path>& paths) {
  std::vector<FidelityCase> out;
  std::set<std::string> ids;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        out.push_back(error_case(p.string(), "(folder)", InputError("(folder)", "holds no *.json measurement file")));
      }
      for (const auto& f : files) load_file(f, out, ids);
    } else if (fs::exists(p, ec)) {
      load_file(p, out, ids);
    } else {
      out.push_back(error_case(p.string(), "(file)", InputError("--registry", "no such file or folder")));
    }
  }
  return out;
}

fs::path default_registry_dir() { return data_file("measurements"); }

}  // namespace switchsim::workloads
