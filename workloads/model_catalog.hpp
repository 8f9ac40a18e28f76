#pragma once
// The built-in model catalog (data/models.json) and models given as JSON files.
// A model file holds one object with the fields of a catalog entry (see
// data/models.json), or a catalog {"models": [...]} whose first entry is used.

#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

// Parses one model object; errors name `where.<field>`.
[[nodiscard]] Model model_from_json(const json& j, const std::string& where);

// Every built-in model, in catalog order.
[[nodiscard]] std::vector<Model> builtin_models();

// A built-in name (case-insensitive, "Switch-Base" == "switch-base") or a path
// to a JSON file. InputError(field, ...) when neither.
[[nodiscard]] Model load_model(const std::string& name_or_path, const std::string& field = "--model");

// {"name", "family", "params", "flops_per_sequence", ...} for `list models`.
[[nodiscard]] json model_summary_json(const Model& model);

}  // namespace switchsim::workloads
