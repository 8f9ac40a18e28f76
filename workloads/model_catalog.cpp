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

// A decoder-only model (family "decoder"): docs/workloads.md ("Model files", decoder-only).
Model decoder_from_json(const json& j, const std::string& where) {
  require_known_keys(j,
                     {"name", "family", "source", "note", "d_model", "d_ff", "heads", "head_dim", "layers", "seq_len",
                      "vocab", "tied_embeddings", "attention", "kv_heads", "mla", "ffn", "experts", "expert_d_ff",
                      "top_k", "shared_experts", "first_dense_layers", "moe_every"},
                     where);
  Model m;
  m.name = require_string(j, "name", where);
  m.family = "decoder";
  m.source = string_field(j, "source", where, std::string());
  m.note = string_field(j, "note", where, std::string());
  m.d_model = int_field(j, "d_model", where, 0, true);
  m.d_ff = int_field(j, "d_ff", where, 0, true);
  m.heads = int_field(j, "heads", where, 0, true);
  m.encoder_layers = int_field(j, "layers", where, 0, true);
  m.decoder_layers = 0;
  m.input_length = int_field(j, "seq_len", where, 0, true);
  m.target_length = 0;
  m.vocab = int_field(j, "vocab", where, 0, true);
  if (j.contains("tied_embeddings")) {
    if (!j.at("tied_embeddings").is_boolean()) throw InputError(where + ".tied_embeddings", "must be true or false");
    m.tied_embeddings = j.at("tied_embeddings").get<bool>();
  } else {
    m.tied_embeddings = false;
  }
  const std::string attention = lower(string_field(j, "attention", where, "mha"));
  if (attention == "mha") {
    m.attention = AttentionKind::mha;
  } else if (attention == "gqa") {
    m.attention = AttentionKind::gqa;
  } else if (attention == "mla") {
    m.attention = AttentionKind::mla;
  } else {
    throw InputError(where + ".attention", "must be \"mha\", \"gqa\" or \"mla\" (got \"" + attention + "\")");
  }
  if (j.contains("head_dim")) {
    m.d_kv = int_field(j, "head_dim", where, 0, true);
  } else if (m.attention != AttentionKind::mla) {
    if (m.heads > 0 && m.d_model % m.heads != 0) {
      throw InputError(where + ".heads", std::to_string(m.heads) + " does not divide d_model=" +
                                             std::to_string(m.d_model) + " (or give head_dim)");
    }
    m.d_kv = m.heads > 0 ? m.d_model / m.heads : 0;
  }
  m.kv_heads = int_field(j, "kv_heads", where, m.attention == AttentionKind::gqa ? 0 : m.heads, m.attention == AttentionKind::gqa);
  if (j.contains("mla")) {
    if (m.attention != AttentionKind::mla) throw InputError(where + ".mla", "only with \"attention\": \"mla\"");
    const json& x = j.at("mla");
    const std::string w = where + ".mla";
    require_known_keys(x, {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"}, w);
    m.mla.q_lora_rank = int_field(x, "q_lora_rank", w, 0, false);
    m.mla.kv_lora_rank = int_field(x, "kv_lora_rank", w, 0, true);
    m.mla.qk_nope_head_dim = int_field(x, "qk_nope_head_dim", w, 0, true);
    m.mla.qk_rope_head_dim = int_field(x, "qk_rope_head_dim", w, 0, true);
    m.mla.v_head_dim = int_field(x, "v_head_dim", w, 0, true);
    if (!j.contains("head_dim")) m.d_kv = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim;
  } else if (m.attention == AttentionKind::mla) {
    throw InputError(where + ".mla", "is required with \"attention\": \"mla\"");
  }
  const std::string ffn = lower(string_field(j, "ffn", where, "swiglu"));
  if (ffn == "swiglu") {
    m.ffn = FfnKind::swiglu;
  } else if (ffn == "geglu") {
    m.ffn = FfnKind::geglu;
  } else if (ffn == "relu") {
    m.ffn = FfnKind::relu;
  } else {
    throw InputError(where + ".ffn", "must be \"swiglu\", \"geglu\" or \"relu\" (got \"" + ffn + "\")");
  }
  m.experts = int_field(j, "experts", where, 0, false);
  m.expert_d_ff = int_field(j, "expert_d_ff", where, 0, false);
  m.top_k = int_field(j, "top_k", where, m.experts > 0 ? 1 : 0, false);
  m.shared_experts = int_field(j, "shared_experts", where, 0, false);
  m.first_dense_layers = int_field(j, "first_dense_layers", where, 0, false);
  m.expert_every = int_field(j, "moe_every", where, m.experts > 0 ? 1 : 0, false);
  validate_model(m, where);
  return m;
}

}  // namespace

Model model_from_json(const json& j, const std::string& where) {
  if (j.is_object() && j.contains("family") && j.at("family").is_string() && lower(j.at("family").get<std::string>()) == "decoder") {
    return decoder_from_json(j, where);
  }
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
  j["active_params"] = p.active();
  // Per token, forward (all executed FLOPs: routed top_k and shared experts, router, causal
  // attention, LM head) and training (3x: backward = 2 x forward). T5 family: per encoder token of
  // the sequence's executed FLOPs.
  const double tokens = static_cast<double>(m.input_length);
  j["forward_flops_per_token"] = f.executed_flops_per_sequence() / tokens;
  j["training_flops_per_token"] = 3.0 * f.executed_flops_per_sequence() / tokens;
  if (m.decoder_only()) {
    j["layers"] = m.encoder_layers;
    j["seq_len"] = m.input_length;
    j["head_dim"] = m.d_kv;
    j["attention"] = to_string(m.attention);
    j["kv_heads"] = m.kv_head_count();
    j["expert_d_ff"] = m.expert_width();
    j["shared_experts"] = m.shared_experts;
    j["first_dense_layers"] = m.first_dense_layers;
    j["tied_embeddings"] = m.tied_embeddings;
  }
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
