// `switchsim list KIND [--json] [--out F]`: the built-in catalogs.
//
// Each kind is one entry of `kinds()` below: a name, a JSON builder and a text
// builder. To add a kind (e.g. `models`), write its two functions and add one
// line to the table.

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/topology_report.hpp"
#include "workloads/model_catalog.hpp"

namespace switchsim::cli {
namespace {

struct ListKind {
  std::string name;
  json (*items)();           // the "items" array of the JSON result
  std::string (*text)();     // the human-readable listing
};

// ---- devices ---------------------------------------------------------------
json device_items() {
  json items = json::array();
  for (const auto& kind : topology::device_kinds()) items.push_back(topology::device_json(topology::device_spec(kind)));
  return items;
}

std::string device_text() {
  std::string out = fmt::format("{:<7} {:>5} {:>14} {:>13} {:>14} {:>10} {:>11}  links (per direction)\n", "device",
                                "cores", "bf16 TFLOP/s", "fp8 TFLOP/s", "fp32 TFLOP/s", "mem GiB", "mem GB/s");
  for (const auto& kind : topology::device_kinds()) {
    const auto& d = topology::device_spec(kind);
    if (d.profile_only()) {  // placeholders in the catalog: priced only by a measured profile
      out += fmt::format("{:<7} {:>5} {:>14} {:>13} {:>14} {:>10} {:>11}  none (priced only by a measured profile: "
                         "--profile)\n",
                         kind, d.cores_per_chip, "-", "-", "-", "-", "-");
      continue;
    }
    std::vector<std::string> links;
    for (int i = 0; i < topology::kNumLinkKinds; ++i) {
      const auto k = static_cast<topology::LinkKind>(i);
      if (d.has_link(k)) links.push_back(fmt::format("{} {:g} GB/s", topology::to_string(k), d.link(k).bandwidth_Bps / 1e9));
    }
    const std::string fp8 = d.supports_fp8() ? fmt::format("{:.1f}", d.peak_fp8_flops / 1e12) : "-";
    out += fmt::format("{:<7} {:>5} {:>14.1f} {:>13} {:>14.1f} {:>10.1f} {:>11.0f}  {}\n", kind, d.cores_per_chip,
                       d.peak_bf16_flops / 1e12, fp8, d.peak_fp32_flops / 1e12, d.memory_bytes / 1073741824.0,
                       d.memory_Bps / 1e9, fmt::join(links, ", "));
  }
  out += "(per device; a TPU v3 chip holds 2 devices; fp8 '-': no FP8 matrix path, --precision fp8 refused. Sources: "
         "`switchsim list devices --json`.)\n";
  return out;
}

// ---- meshes ----------------------------------------------------------------
json mesh_items() {
  json items = json::array();
  for (const auto& name : topology::catalog_mesh_names()) {
    const topology::Mesh mesh = topology::build_mesh(name);
    items.push_back({{"name", name},
                     {"device_kind", mesh.device_kind},
                     {"family", topology::to_string(mesh.structure.family)},
                     {"devices", mesh.topology.num_devices()}});
  }
  return items;
}

std::string mesh_text() {
  std::string out = fmt::format("{:<18} {:<7} {:<12} {:>8}\n", "mesh", "device", "family", "devices");
  for (const auto& item : mesh_items()) {
    out += fmt::format("{:<18} {:<7} {:<12} {:>8}\n", item["name"].get<std::string>(),
                       item["device_kind"].get<std::string>(), item["family"].get<std::string>(),
                       item["devices"].get<int>());
  }
  out += fmt::format("Names follow the grammar {}; any mesh JSON file path works too.\n",
                     fmt::join(topology::mesh_name_grammar(), ", "));
  return out;
}

// ---- models ----------------------------------------------------------------
json model_items() {
  json items = json::array();
  for (const auto& m : workloads::builtin_models()) items.push_back(workloads::model_summary_json(m));
  return items;
}

std::string model_text() {
  std::string out = fmt::format("{:<15} {:>9} {:>9} {:>13} {:>6} {:>6} {:>6} {:>7} {:>7} {:>5}\n", "model", "params",
                                "active", "GFLOPs/seq", "d_model", "d_ff", "heads", "layers", "experts", "top-k");
  for (const auto& m : workloads::builtin_models()) {
    const json j = workloads::model_summary_json(m);
    const std::string layers = m.decoder_only() ? fmt::format("{}", m.encoder_layers)
                                                : fmt::format("{}+{}", m.encoder_layers, m.decoder_layers);
    out += fmt::format("{:<15} {:>8.4g}B {:>8.4g}B {:>13.4g} {:>6} {:>6} {:>6} {:>7} {:>7} {:>5}\n", m.name,
                       j["params"].get<double>() / 1e9, j["active_params"].get<double>() / 1e9,
                       j["flops_per_sequence"].get<double>() / 1e9, m.d_model, m.d_ff, m.heads, layers, m.experts,
                       m.top_k);
  }
  out += "(forward FLOPs per sequence: t5/switch/moe of 512 input and 114 target tokens, Table 9 convention; decoder "
         "models of their seq_len tokens, causal attention, LM head and router not included; docs/workloads.md)\n";
  return out;
}

const std::vector<ListKind>& kinds() {
  static const std::vector<ListKind> table = {
      {"devices", &device_items, &device_text},
      {"meshes", &mesh_items, &mesh_text},
      {"models", &model_items, &model_text},
  };
  return table;
}

struct ListOptions {
  std::string kind;
  OutputOptions output;
};

CommandAction add_list_command(CLI::App& app) {
  auto options = std::make_shared<ListOptions>();
  std::vector<std::string> names;
  for (const auto& k : kinds()) names.push_back(k.name);
  app.description("List a built-in catalog");
  app.add_option("kind", options->kind, "What to list")->required()->check(CLI::IsMember(names));
  add_output_flags(app, options->output);
  return [options] {
    for (const auto& k : kinds()) {
      if (k.name != options->kind) continue;
      json result;
      result["schema_version"] = kSchemaVersion;
      result["kind"] = k.name;
      result["items"] = k.items();
      if (k.name == "meshes") result["grammar"] = topology::mesh_name_grammar();
      result["provenance"] = provenance();
      emit(options->output, result, k.text());
      return 0;
    }
    return 2;
  };
}

const bool registered = register_command({"list", 10, &add_list_command});

}  // namespace
}  // namespace switchsim::cli
