#include "reports/result.hpp"

#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "reports/rejections.hpp"

namespace switchsim::reports {

const char* to_string(ResultKind kind) {
  switch (kind) {
    case ResultKind::simulate: return "simulate";
    case ResultKind::capacity: return "capacity";
    case ResultKind::recommend: return "recommend";
    case ResultKind::collective: return "collective";
    case ResultKind::validate: return "validate";
    case ResultKind::fidelity: return "fidelity";
  }
  return "unknown";
}

namespace {

std::string join_field(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

std::string index_field(const std::string& where, const std::string& key, std::size_t i) {
  return join_field(where, key) + "[" + std::to_string(i) + "]";
}

const json* find(const json& obj, const std::string& key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

double finite_number(const json& v, const std::string& field) {
  if (!v.is_number()) throw InputError(field, "must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) throw InputError(field, "must be finite");
  return x;
}

double req_number(const json& obj, const std::string& where, const std::string& key) {
  const json* v = find(obj, key);
  if (v == nullptr) throw InputError(join_field(where, key), "missing");
  return finite_number(*v, join_field(where, key));
}

std::optional<double> opt_number(const json& obj, const std::string& where, const std::string& key) {
  const json* v = find(obj, key);
  if (v == nullptr) return std::nullopt;
  return finite_number(*v, join_field(where, key));
}

std::optional<long long> opt_integer(const json& obj, const std::string& where, const std::string& key) {
  const json* v = find(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) throw InputError(join_field(where, key), "must be an integer");
  return v->get<long long>();
}

std::string opt_string(const json& obj, const std::string& key) {
  const json* v = find(obj, key);
  if (v == nullptr) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object() && v->contains("name") && (*v)["name"].is_string()) return (*v)["name"].get<std::string>();
  return v->dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& req_array(const json& obj, const std::string& where, const std::string& key) {
  const json* v = find(obj, key);
  if (v == nullptr) throw InputError(join_field(where, key), "missing");
  if (!v->is_array()) throw InputError(join_field(where, key), "must be an array");
  return *v;
}

Stat read_stat(const json& obj, const std::string& where, const std::string& key) {
  const json* v = find(obj, key);
  const std::string field = join_field(where, key);
  if (v == nullptr) throw InputError(field, "missing");
  Stat s;
  if (v->is_object()) {
    s.mean = req_number(*v, field, "mean");
    for (const char* spread_key : {"std", "stddev", "spread"}) {
      if (auto x = opt_number(*v, field, spread_key)) {
        s.spread = *x;
        break;
      }
    }
    if (!s.spread) {
      const auto lo = opt_number(*v, field, "min");
      const auto hi = opt_number(*v, field, "max");
      if (lo && hi) s.spread = (*hi - *lo) / 2.0;
    }
    return s;
  }
  s.mean = finite_number(*v, field);
  for (const char* suffix : {"_std", "_stddev", "_spread"}) {
    if (auto x = opt_number(obj, where, key + suffix)) {
      s.spread = *x;
      return s;
    }
  }
  // {"spread": {"<key>": {"mean", "min", "max", "stddev"}}} beside the mean.
  if (const json* spread = find(obj, "spread"); spread != nullptr && spread->is_object()) {
    if (const json* one = find(*spread, key); one != nullptr && one->is_object()) {
      const std::string sf = join_field(where, "spread." + key);
      for (const char* spread_key : {"stddev", "std"}) {
        if (auto x = opt_number(*one, sf, spread_key)) {
          s.spread = *x;
          return s;
        }
      }
      const auto lo = opt_number(*one, sf, "min");
      const auto hi = opt_number(*one, sf, "max");
      if (lo && hi) s.spread = (*hi - *lo) / 2.0;
    }
  }
  return s;
}

std::string json_scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// {"dp": 32, "ep": 32, "mp": 1, "mapping": "..."} -> "dp=32 ep=32 mp=1 (...)".
std::string layout_text(const json& entry) {
  const json* layout = find(entry, "layout");
  const json& l = layout != nullptr ? *layout : entry;
  if (l.is_string()) return l.get<std::string>();
  std::string text;
  for (const char* axis : {"dp", "ep", "mp"}) {
    if (const json* v = find(l, axis)) {
      if (!text.empty()) text += ' ';
      text += std::string(axis) + "=" + json_scalar_text(*v);
    }
  }
  if (const json* mapping = find(l, "mapping")) {
    const std::string m = json_scalar_text(*mapping);
    if (!m.empty()) text += (text.empty() ? "" : " ") + std::string("(") + m + ")";
  }
  if (text.empty() && layout != nullptr) text = json_scalar_text(*layout);
  return text;
}

std::string part_name(std::string key) {
  if (key.size() > 2 && key.ends_with("_s")) key.resize(key.size() - 2);
  for (char& c : key) {
    if (c == '_') c = '-';
  }
  return key;
}

Breakdown read_breakdown(const json& obj, const std::string& where) {
  Breakdown parts;
  const json* b = find(obj, "breakdown");
  if (b == nullptr) return parts;
  const std::string field = join_field(where, "breakdown");
  if (b->is_object()) {
    for (const auto& [key, value] : b->items()) {
      if (!value.is_number()) continue;  // e.g. a nested note; only seconds are drawn
      parts.push_back({part_name(key), finite_number(value, field + "." + key)});
    }
  } else if (b->is_array()) {
    for (std::size_t i = 0; i < b->size(); ++i) {
      const json& p = (*b)[i];
      const std::string pf = field + "[" + std::to_string(i) + "]";
      std::string name = opt_string(p, "name");
      if (name.empty()) name = opt_string(p, "part");
      const auto seconds = opt_number(p, pf, "seconds") ? opt_number(p, pf, "seconds") : opt_number(p, pf, "time_s");
      if (!seconds) throw InputError(pf + ".seconds", "missing");
      parts.push_back({part_name(name), *seconds});
    }
  } else {
    throw InputError(field, "must be an object of seconds per part");
  }
  return parts;
}

LayoutResult read_layout_result(const json& entry, const std::string& where) {
  if (!entry.is_object()) throw InputError(where, "must be an object");
  LayoutResult r;
  r.rank = opt_integer(entry, where, "rank");
  r.layout = layout_text(entry);
  r.capacity_factor = opt_number(entry, where, "capacity_factor");
  r.mode = opt_string(entry, "mode");
  r.step_time_s = read_stat(entry, where, "step_time_s").mean;
  r.step_time_low_s = opt_number(entry, where, "step_time_s_low");
  r.step_time_high_s = opt_number(entry, where, "step_time_s_high");
  r.tokens_per_s = read_stat(entry, where, "tokens_per_s");
  r.drop_fraction = read_stat(entry, where, "drop_fraction");
  if (find(entry, "memory_per_device_bytes") != nullptr) {
    r.memory_per_device_bytes = read_stat(entry, where, "memory_per_device_bytes").mean;
  }
  r.breakdown = read_breakdown(entry, where);
  r.why = opt_string(entry, "why");
  return r;
}

RecommendView read_recommend(const json& j) {
  RecommendView v;
  const json& recs = req_array(j, "", "recommendations");
  for (std::size_t i = 0; i < recs.size(); ++i) {
    v.ranked.push_back(read_layout_result(recs[i], index_field("", "recommendations", i)));
  }
  if (const json* pareto = find(j, "pareto"); pareto != nullptr && pareto->is_array()) {
    for (std::size_t i = 0; i < pareto->size(); ++i) {
      const json& p = (*pareto)[i];
      if (p.is_object()) v.pareto.push_back(read_layout_result(p, index_field("", "pareto", i)));
    }
  }
  if (const json* rejected = find(j, "rejected"); rejected != nullptr) {
    if (!rejected->is_array()) throw InputError("rejected", "must be an array");
    for (std::size_t i = 0; i < rejected->size(); ++i) {
      const json& r = (*rejected)[i];
      const std::string where = index_field("", "rejected", i);
      if (!r.is_object()) throw InputError(where, "must be an object");
      RejectedLayout out;
      out.layout = layout_text(r);
      if (opt_number(r, where, "capacity_factor")) out.capacity_factor_text = json_scalar_text(*find(r, "capacity_factor"));
      out.mode = opt_string(r, "mode");
      out.reason = opt_string(r, "reason");
      if (out.reason.empty()) throw InputError(where + ".reason", "missing");
      for (const char* key : {"reason_kind", "category"}) {
        if (std::string k = opt_string(r, key); !k.empty()) {
          out.reason_kind = k;
          break;
        }
      }
      if (out.reason_kind.empty()) out.reason_kind = reason_without_numbers(out.reason);
      v.rejected.push_back(std::move(out));
    }
  }
  v.evaluated = opt_integer(j, "", "evaluated");
  v.pruned = opt_integer(j, "", "pruned");
  v.wall_s = opt_number(j, "", "wall_s");
  v.objective = opt_string(j, "objective");
  if (v.objective.empty()) {
    if (const json* inputs = find(j, "inputs")) v.objective = opt_string(*inputs, "objective");
  }
  return v;
}

// The array of per-factor rows of a capacity result, or nullptr.
const json* capacity_rows(const json& j, std::string* key_out) {
  if (!j.is_object()) return nullptr;
  const auto is_rows = [](const json& a) {
    // Capacity rows carry a factor; a dropless sweep's one row has none, only its mode.
    return a.is_array() && !a.empty() && a.front().is_object() &&
           (a.front().contains("capacity_factor") || (a.front().contains("mode") && a.front().contains("step_time_s")));
  };
  for (const char* key : {"rows", "factors", "results", "table"}) {
    if (const json* a = find(j, key); a != nullptr && is_rows(*a)) {
      if (key_out != nullptr) *key_out = key;
      return a;
    }
  }
  for (const auto& [key, value] : j.items()) {
    if (is_rows(value)) {
      if (key_out != nullptr) *key_out = key;
      return &value;
    }
  }
  return nullptr;
}

CapacityView read_capacity(const json& j) {
  CapacityView v;
  std::string key;
  const json* rows = capacity_rows(j, &key);
  if (rows == nullptr) throw InputError("rows", "missing (an array of per-factor rows with capacity_factor)");
  v.layout = layout_text(j);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const json& r = (*rows)[i];
    const std::string where = index_field("", key, i);
    if (!r.is_object()) throw InputError(where, "must be an object");
    CapacityRow row;
    row.capacity_factor = opt_number(r, where, "capacity_factor");
    row.mode = opt_string(r, "mode");
    row.step_time_s = read_stat(r, where, "step_time_s");
    row.tokens_per_s = read_stat(r, where, "tokens_per_s");
    row.drop_fraction = read_stat(r, where, "drop_fraction");
    if (find(r, "memory_per_device_bytes") != nullptr) {
      row.memory_per_device_bytes = read_stat(r, where, "memory_per_device_bytes").mean;
    }
    row.breakdown = read_breakdown(r, where);
    v.rows.push_back(std::move(row));
  }
  return v;
}

std::optional<TrafficMatrix> read_traffic(const json& j) {
  const json* t = nullptr;
  std::string field;
  for (const char* key : {"traffic_matrix", "traffic"}) {
    if ((t = find(j, key)) != nullptr) {
      field = key;
      break;
    }
  }
  if (t == nullptr) return std::nullopt;
  TrafficMatrix m;
  const json* flat = nullptr;
  const json* rows = nullptr;
  if (t->is_array()) {
    rows = t;
  } else if (t->is_object()) {
    const json* b = find(*t, "bytes");
    if (b == nullptr) throw InputError(field + ".bytes", "missing");
    if (!b->empty() && (*b)[0].is_array()) {
      rows = b;
    } else {
      flat = b;
    }
    field += ".bytes";
  } else {
    throw InputError(field, "must be an n x n array of bytes");
  }
  if (rows != nullptr) {
    m.n = static_cast<std::int64_t>(rows->size());
    m.bytes.reserve(rows->size() * rows->size());
    for (std::size_t i = 0; i < rows->size(); ++i) {
      const json& row = (*rows)[i];
      const std::string rf = field + "[" + std::to_string(i) + "]";
      if (!row.is_array() || row.size() != rows->size()) throw InputError(rf, "must have " + std::to_string(rows->size()) + " entries");
      for (std::size_t k = 0; k < row.size(); ++k) m.bytes.push_back(finite_number(row[k], rf + "[" + std::to_string(k) + "]"));
    }
  } else {
    if (!flat->is_array()) throw InputError(field, "must be an array");
    const auto n = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(flat->size()))));
    if (n * n != static_cast<std::int64_t>(flat->size())) throw InputError(field, "must hold n x n entries");
    m.n = n;
    m.bytes.reserve(flat->size());
    for (std::size_t k = 0; k < flat->size(); ++k) m.bytes.push_back(finite_number((*flat)[k], field + "[" + std::to_string(k) + "]"));
  }
  for (const double b : m.bytes) {
    if (b < 0.0) throw InputError(field, "bytes must not be negative");
  }
  if (m.n == 0) return std::nullopt;
  return m;
}

SimulateView read_simulate(const json& j) {
  SimulateView v;
  v.step = read_layout_result(j, "");
  v.group_tokens = opt_number(j, "", "group_tokens");
  v.expert_capacity = opt_number(j, "", "expert_capacity");
  if (const json* fits = find(j, "fits_memory"); fits != nullptr && fits->is_boolean()) v.fits_memory = fits->get<bool>();
  v.traffic = read_traffic(j);
  return v;
}

CollectiveView read_collective(const json& j) {
  CollectiveView v;
  v.op = opt_string(j, "op");
  if (v.op.empty()) throw InputError("op", "missing");
  v.algorithm = opt_string(j, "algorithm");
  const json* devices = find(j, "devices");
  if (devices == nullptr) throw InputError("devices", "missing");
  v.devices = devices->is_array() ? static_cast<long long>(devices->size())
                                  : static_cast<long long>(finite_number(*devices, "devices"));
  v.bytes = req_number(j, "", "bytes");
  v.time_s = req_number(j, "", "time_s");
  v.algbw_Bps = req_number(j, "", "algbw_Bps");
  v.busbw_Bps = req_number(j, "", "busbw_Bps");
  v.flows = opt_integer(j, "", "flows");
  v.events = opt_integer(j, "", "events");
  v.wall_s = opt_number(j, "", "wall_s");
  return v;
}

std::string shape_text(const json& shape) {
  if (shape.is_object()) {
    std::string text;
    for (const auto& [key, value] : shape.items()) {
      if (!text.empty()) text += ' ';
      text += key + "=" + json_scalar_text(value);
    }
    return text;
  }
  if (shape.is_array()) {
    std::string text;
    for (const auto& value : shape) {
      if (!text.empty()) text += 'x';
      text += json_scalar_text(value);
    }
    return text;
  }
  return json_scalar_text(shape);
}

ValidateView read_validate(const json& j) {
  ValidateView v;
  const json& cases = req_array(j, "", "cases");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    const std::string where = index_field("", "cases", i);
    if (!c.is_object()) throw InputError(where, "must be an object");
    ValidateCase vc;
    vc.kernel = opt_string(c, "kernel");
    if (const json* shape = find(c, "shape")) vc.shape = shape_text(*shape);
    vc.predicted_s = req_number(c, where, "predicted_s");
    vc.measured_s = req_number(c, where, "measured_s");
    vc.error = opt_number(c, where, "error");
    for (const char* key : {"relative_uncertainty", "predicted_relative_uncertainty", "uncertainty"}) {
      if (auto u = opt_number(c, where, key)) {
        vc.relative_uncertainty = *u;
        break;
      }
    }
    v.cases.push_back(std::move(vc));
  }
  v.mape = opt_number(j, "", "mape");
  if (const json* drops = find(j, "drop_check")) {
    const json* list = drops;
    if (drops->is_object()) list = find(*drops, "entries") != nullptr ? find(*drops, "entries") : find(*drops, "cases");
    if (list == nullptr || !list->is_array()) throw InputError("drop_check", "must be an array");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& d = (*list)[i];
      const std::string where = index_field("", "drop_check", i);
      if (!d.is_object()) throw InputError(where, "must be an object");
      DropCheck dc;
      for (const char* key : {"name", "distribution", "routing", "case"}) {
        if (std::string n = opt_string(d, key); !n.empty()) {
          dc.name = n;
          break;
        }
      }
      if (dc.name.empty()) dc.name = "#" + std::to_string(i);
      if (const json* z = find(d, "zipf_exponent"); z != nullptr && z->is_number() && z->get<double>() != 0.0 &&
                                                     dc.name.find(':') == std::string::npos) {
        dc.name += ":" + json_scalar_text(*z);
      }
      dc.kernel_drops = req_number(d, where, "kernel_drops");
      dc.simulator_drops = req_number(d, where, "simulator_drops");
      dc.expected_drops = opt_number(d, where, "expected_drops");
      const json* match = find(d, "match");
      if (match != nullptr && !match->is_boolean()) throw InputError(where + ".match", "must be true or false");
      dc.match = match != nullptr ? match->get<bool>() : dc.kernel_drops == dc.simulator_drops;
      v.drop_check.push_back(std::move(dc));
    }
  }
  return v;
}

FidelityView read_fidelity(const json& j) {
  FidelityView v;
  const json& cases = req_array(j, "", "cases");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    const std::string where = index_field("", "cases", i);
    if (!c.is_object()) throw InputError(where, "must be an object");
    FidelityCaseView fc;
    fc.id = opt_string(c, "id");
    fc.status = opt_string(c, "status");
    if (fc.status.empty()) throw InputError(where + ".status", "missing");
    fc.unit = opt_string(c, "unit");
    fc.measured = opt_number(c, where, "measured");
    fc.predicted = opt_number(c, where, "predicted");
    fc.relative_error = opt_number(c, where, "relative_error");
    fc.citation = opt_string(c, "citation");
    fc.reason = opt_string(c, "reason");
    if (fc.status == "error") fc.reason = opt_string(c, "error_field") + ": " + opt_string(c, "error");
    if ((fc.status == "ok" || fc.status == "excluded") && (!fc.measured || !fc.predicted)) {
      throw InputError(where, "a compared case needs measured and predicted");
    }
    v.cases.push_back(std::move(fc));
  }
  v.mape_percent = opt_number(j, "", "mape_percent");
  return v;
}

constexpr const char* kKinds = "simulate, capacity, recommend, collective, validate, fidelity";

}  // namespace

ResultKind classify_result(const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where, "not a switchsim result (the top level is not a JSON object)");
  const json* version = find(j, "schema_version");
  if (version == nullptr) throw InputError(where, "not a switchsim result (no schema_version)");
  if (!version->is_number_integer()) throw InputError(where, "not a switchsim result (schema_version is not an integer)");
  if (version->get<long long>() != kSchemaVersion) {
    throw InputError(where, "schema version " + std::to_string(version->get<long long>()) +
                                " is not supported (this switchsim reads version " + std::to_string(kSchemaVersion) + ")");
  }
  if (const json* prov = find(j, "provenance"); prov != nullptr && prov->is_object()) {
    const json* tool = find(*prov, "tool");
    if (tool != nullptr && (!tool->is_string() || tool->get<std::string>() != "switchsim")) {
      throw InputError(where, "not a switchsim result (provenance.tool is " + tool->dump() + ")");
    }
  }
  if (const json* kind = find(j, "kind"); kind != nullptr && kind->is_string() && kind->get<std::string>() == "validate_step") {
    throw InputError(where, "a `validate --step` result, which reports do not read (they read " + std::string(kKinds) + ")");
  }
  if (const json* command = find(j, "command"); command != nullptr && command->is_string()) {
    const std::string c = command->get<std::string>();
    for (const ResultKind k : {ResultKind::simulate, ResultKind::capacity, ResultKind::recommend, ResultKind::collective,
                               ResultKind::validate, ResultKind::fidelity}) {
      if (c == to_string(k)) return k;
    }
    throw InputError(where, "a result of `" + c + "`, which reports do not read (they read " + kKinds + ")");
  }
  // Some commands name themselves in `kind` ("step" is simulate's).
  if (const json* kind = find(j, "kind"); kind != nullptr && kind->is_string()) {
    const std::string k = kind->get<std::string>();
    if (k == "step" || k == "simulate") return ResultKind::simulate;
    if (k == "capacity") return ResultKind::capacity;
    if (k == "recommend") return ResultKind::recommend;
    if (k == "collective") return ResultKind::collective;
    if (k == "validate" || k == "validation") return ResultKind::validate;
    if (k == "fidelity") return ResultKind::fidelity;
  }
  if (find(j, "recommendations") != nullptr) return ResultKind::recommend;
  if (find(j, "cases") != nullptr && find(j, "mape") != nullptr) return ResultKind::validate;
  if (find(j, "busbw_Bps") != nullptr || find(j, "algbw_Bps") != nullptr) return ResultKind::collective;
  if (capacity_rows(j, nullptr) != nullptr) return ResultKind::capacity;
  if (find(j, "step_time_s") != nullptr && find(j, "breakdown") != nullptr) return ResultKind::simulate;
  throw InputError(where, std::string("not a switchsim result of a kind reports read (") + kKinds + ")");
}

ResultView read_view(const json& j, ResultKind kind) {
  switch (kind) {
    case ResultKind::simulate: return read_simulate(j);
    case ResultKind::capacity: return read_capacity(j);
    case ResultKind::recommend: return read_recommend(j);
    case ResultKind::collective: return read_collective(j);
    case ResultKind::validate: return read_validate(j);
    case ResultKind::fidelity: return read_fidelity(j);
  }
  SWITCHSIM_ASSERT(false, "unknown result kind");
  return SimulateView{};
}

std::vector<std::pair<std::string, std::string>> read_inputs(const json& j) {
  std::vector<std::pair<std::string, std::string>> items;
  const auto value_text = [](const json& v) {
    std::string text = v.is_object() && v.contains("name") && v["name"].is_string() ? v["name"].get<std::string>()
                                                                                     : json_scalar_text(v);
    if (text.size() > 200) text = text.substr(0, 197) + "...";
    return text;
  };
  static const char* const kInputKeys[] = {"command", "kind", "model", "mesh", "device_kind", "devices", "device",
                                           "measured_at", "sharing", "layout", "routing", "mode", "capacity_factor",
                                           "factors", "batch_tokens", "objective", "max_drop", "top", "samples",
                                           "seed", "seeds", "profile", "cost_model", "backend", "op", "algorithm", "protocol",
                                           "bytes"};
  for (const char* key : kInputKeys) {
    if (const json* v = find(j, key)) items.emplace_back(key, key == std::string("layout") ? layout_text(j) : value_text(*v));
  }
  for (const char* group : {"inputs", "provenance"}) {
    if (const json* g = find(j, group); g != nullptr && g->is_object()) {
      for (const auto& [key, value] : g->items()) items.emplace_back(std::string(group) + "." + key, value_text(value));
    }
  }
  items.emplace_back("schema_version", json_scalar_text(j.at("schema_version")));
  return items;
}

LoadedResult load_result(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(name, "cannot open the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  LoadedResult r;
  r.path = path;
  try {
    r.data = json::parse(text);
  } catch (const json::parse_error& e) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw InputError(name, "empty file, not a switchsim result");
    if (e.byte > text.size()) throw InputError(name, "truncated JSON (the text ends before the value does)");
    throw InputError(name, "not valid JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::out_of_range& e) {
    // A number too large for a double (1e400) is out_of_range 406, not a parse_error.
    throw InputError(name, std::string("a number is out of range (") + e.what() + ")");
  }
  r.kind = classify_result(r.data, name);
  try {
    r.view = read_view(r.data, r.kind);
  } catch (const InputError& e) {
    throw InputError(name, std::string(to_string(r.kind)) + " result field " + e.field() + ": " + e.reason());
  }
  r.inputs = read_inputs(r.data);
  return r;
}

}  // namespace switchsim::reports
