#include "workloads/model_catalog.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/data_path.hpp"
#include "common/errors.hpp"
#include "common/known_keys.hpp"

namespace switchsim::workloads {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// An optional string field: `fallback` when absent, InputError naming it when not a string
// (json::value() would throw a type_error that the CLI reports as an internal error).
std::string string_field(const json& j, const std::string& key, const std::string& where, const std::string& fallback) {
  if (!j.contains(key)) return fallback;
  return require_string(j, key, where);
}

std::int64_t int_field(const json& j, const std::string& key, const std::string& where, std::int64_t fallback,
                       bool required) {
  if (!required && !j.contains(key)) return fallback;
  return static_cast<std::int64_t>(require_integer(j, key, where));
}

}  // namespace

Model model_from_json(const json& j, const std::string& where) {
  // The model file format, field by field: docs/workloads.md ("Model files").
  require_known_keys(j,
                     {"name", "family", "source", "note", "d_model", "d_ff", "d_kv", "heads", "layers", "encoder_layers",
                      "decoder_layers", "ffn", "experts", "expert_every", "top_k", "vocab", "input_length",
                      "target_length", "table9"},
                     where);
  if (j.contains("layers") && (j.contains("encoder_layers") || j.contains("decoder_layers"))) {
    throw InputError(where + ".layers", "give either \"layers\" or \"encoder_layers\" and \"decoder_layers\", not both");
  }
  Model m;
  m.name = require_string(j, "name", where);
  m.family = string_field(j, "family", where, std::string("custom"));
  m.source = string_field(j, "source", where, std::string());
  m.note = string_field(j, "note", where, std::string());
  m.d_model = int_field(j, "d_model", where, 0, true);
  m.d_ff = int_field(j, "d_ff", where, 0, true);
  m.d_kv = int_field(j, "d_kv", where, 64, false);
  m.heads = int_field(j, "heads", where, 0, true);
  if (j.contains("layers")) {
    m.encoder_layers = m.decoder_layers = int_field(j, "layers", where, 0, true);
  } else {
    m.encoder_layers = int_field(j, "encoder_layers", where, 0, true);
    m.decoder_layers = int_field(j, "decoder_layers", where, 0, true);
  }
  const std::string ffn = lower(string_field(j, "ffn", where, "geglu"));
  if (ffn == "geglu") {
    m.ffn = FfnKind::geglu;
  } else if (ffn == "relu") {
    m.ffn = FfnKind::relu;
  } else {
    throw InputError(where + ".ffn", "must be \"geglu\" or \"relu\" (got \"" + ffn + "\")");
  }
  m.experts = int_field(j, "experts", where, 0, false);
  m.expert_every = int_field(j, "expert_every", where, m.experts > 0 ? 1 : 0, false);
  m.top_k = int_field(j, "top_k", where, m.experts > 0 ? 1 : 0, false);
  m.vocab = int_field(j, "vocab", where, 32128, false);
  m.input_length = int_field(j, "input_length", where, 512, false);
  m.target_length = int_field(j, "target_length", where, 114, false);
  if (j.contains("table9")) {
    const json& t = j.at("table9");
    require_known_keys(t, {"params", "flops_per_sequence"}, where + ".table9");
    m.table9_params = require_positive(t, "params", where + ".table9");
    m.table9_flops_per_sequence = require_positive(t, "flops_per_sequence", where + ".table9");
  }
  validate_model(m, where);
  return m;
}

std::vector<Model> builtin_models() {
  const json catalog = read_json_file(data_file("models.json"), "data/models.json");
  const json& list = require(catalog, "models", "models.json");
  require_known_keys(catalog, {"schema_version", "source", "counting", "models"}, "models.json");
  std::vector<Model> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    out.push_back(model_from_json(list[i], "models.json.models[" + std::to_string(i) + "]"));
  }
  return out;
}

Model load_model(const std::string& name_or_path, const std::string& field) {
  if (name_or_path.empty()) throw InputError(field, "is empty");
  const std::string key = lower(name_or_path);
  std::vector<std::string> names;
  for (Model& m : builtin_models()) {
    if (lower(m.name) == key) return m;
    names.push_back(m.name);
  }
  const bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                               name_or_path.ends_with(".json") || std::filesystem::exists(name_or_path);
  if (!looks_like_path) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw InputError(field, "unknown model '" + name_or_path + "' (built-in: " + known + "; or a JSON file path)");
  }
  const json j = read_json_file(name_or_path, field);
  if (j.is_object() && j.contains("models")) {
    require_known_keys(j, {"schema_version", "source", "counting", "models"}, field);
    const json& list = j.at("models");
    if (!list.is_array() || list.empty()) throw InputError(field + ".models", "must be a non-empty array");
    return model_from_json(list[0], field + ".models[0]");
  }
  return model_from_json(j, field);
}

json model_summary_json(const Model& m) {
  const ParamCount p = count_params(m);
  const FlopCount f = count_forward_flops(m);
  json j;
  j["name"] = m.name;
  j["family"] = m.family;
  j["params"] = p.total();
  j["flops_per_sequence"] = f.flops_per_sequence();
  j["executed_flops_per_sequence"] = f.executed_flops_per_sequence();
  j["d_model"] = m.d_model;
  j["d_ff"] = m.d_ff;
  j["heads"] = m.heads;
  j["encoder_layers"] = m.encoder_layers;
  j["decoder_layers"] = m.decoder_layers;
  j["ffn"] = to_string(m.ffn);
  j["experts"] = m.experts;
  j["expert_every"] = m.expert_every;
  j["top_k"] = m.top_k;
  if (m.table9_params) j["table9_params"] = *m.table9_params;
  if (m.table9_flops_per_sequence) j["table9_flops_per_sequence"] = *m.table9_flops_per_sequence;
  if (!m.note.empty()) j["note"] = m.note;
  return j;
}

}  // namespace switchsim::workloads
