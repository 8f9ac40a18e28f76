#include "topology/device_catalog.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/data_path.hpp"
#include "common/errors.hpp"

namespace switchsim::topology {

const LinkKindSpec& DeviceSpec::link_kind(LinkKind link) const {
  const auto& entry = link_kinds[static_cast<std::size_t>(link)];
  if (!entry) {
    throw InputError("device_kind", fmt::format("device '{}' has no '{}' links in the catalog", kind,
                                                to_string(link)));
  }
  return *entry;
}

namespace {

double figure(const json& obj, const std::string& key, const std::string& where, std::string* source = nullptr) {
  const json& f = require(obj, key, where);
  const double v = require_number(f, "value", where + "." + key);
  if (v < 0.0) throw InputError(where + "." + key + ".value", "must be >= 0");
  const std::string s = require_string(f, "source", where + "." + key);
  if (s.empty()) throw InputError(where + "." + key + ".source", "must not be empty");
  if (source != nullptr) *source = s;
  return v;
}

// A positive whole number of a chip figure ("mxu_dim", "sm_count", ...).
int count_figure(const json& chip, const std::string& key, const std::string& where) {
  const double v = figure(chip, key, where);
  if (!(v >= 1.0) || v != std::floor(v) || v > 1e6) {
    throw InputError(where + "." + key + ".value", "must be a positive whole number");
  }
  return static_cast<int>(v);
}

// The matrix-unit geometry and fixed costs of "chip" (device_catalog.hpp).
void parse_matrix_units(const json& chip, const std::string& where, DeviceSpec& s) {
  const bool systolic = chip.contains("mxu_dim");
  const bool tiles = chip.contains("sm_count");
  if (chip.contains("profile_only")) {
    const std::string pw = where + ".profile_only";
    const json& f = chip["profile_only"];
    if (!f.is_object() || !f.contains("value") || !f["value"].is_boolean() || !f["value"].get<bool>()) {
      throw InputError(pw + ".value", "must be true (leave it out for a device with matrix-unit figures)");
    }
    if (require_string(f, "source", pw).empty()) throw InputError(pw + ".source", "must not be empty");
    if (systolic || tiles) {
      throw InputError(pw, "a profile-only device has no matrix-unit figures (mxu_dim, sm_count)");
    }
    s.matrix_units = DeviceSpec::MatrixUnits::none;
  } else if (systolic == tiles) {
    throw InputError(where + (systolic ? ".sm_count" : ".mxu_dim"),
                     systolic ? "a device has either systolic arrays (mxu_dim) or GPU SMs (sm_count), not both"
                              : "one of mxu_dim (TPU systolic arrays) or sm_count (GPU SMs) is required");
  }
  if (s.matrix_units == DeviceSpec::MatrixUnits::none) {
    // nothing: no geometry
  } else if (systolic) {
    s.matrix_units = DeviceSpec::MatrixUnits::systolic;
    s.mxu_dim = count_figure(chip, "mxu_dim", where);
    s.mxus_per_core = count_figure(chip, "mxus_per_core", where);
    s.mxu_row_step = count_figure(chip, "mxu_row_step", where);
    const int cores = s.tensorcores_per_chip / s.cores_per_chip;
    if (cores < 1 || s.tensorcores_per_chip % s.cores_per_chip != 0) {
      throw InputError(where + ".mxus_per_core", "tensorcores_per_chip must be a multiple of devices_per_chip");
    }
    s.mxus_per_device = s.mxus_per_core * cores;
  } else {
    s.matrix_units = DeviceSpec::MatrixUnits::gpu_tiles;
    s.sm_count = count_figure(chip, "sm_count", where);
    s.gemm_tile_m = count_figure(chip, "gemm_tile_m", where);
    s.gemm_tile_n = count_figure(chip, "gemm_tile_n", where);
    s.gemm_tile_k = count_figure(chip, "gemm_tile_k", where);
  }
  s.large_gemm_efficiency = figure(chip, "large_gemm_efficiency", where);
  if (!(s.large_gemm_efficiency > 0.0 && s.large_gemm_efficiency <= 1.0)) {
    throw InputError(where + ".large_gemm_efficiency.value", "must be in (0, 1]");
  }
  s.launch_overhead_s = figure(chip, "launch_overhead_s", where);
}

}  // namespace

std::vector<DeviceSpec> parse_device_catalog(const json& doc) {
  const json& list = require(doc, "devices", "devices.json");
  if (!list.is_array()) throw InputError("devices.json.devices", "must be an array");
  std::vector<DeviceSpec> specs;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = fmt::format("devices.json.devices[{}]", i);
    const json& e = list[i];
    DeviceSpec s;
    s.kind = require_string(e, "kind", where);
    s.description = require_string(e, "description", where);
    s.cores_per_chip = static_cast<int>(require_integer(e, "devices_per_chip", where));
    s.tensorcores_per_chip = static_cast<int>(require_integer(e, "tensorcores_per_chip", where));
    if (s.cores_per_chip < 1) throw InputError(where + ".devices_per_chip", "must be >= 1");
    const json& chip = require(e, "chip", where);
    s.chip_peak_bf16_flops = figure(chip, "peak_bf16_flops", where + ".chip");
    s.chip_peak_fp32_flops = figure(chip, "peak_fp32_flops", where + ".chip");
    // Optional low-precision peaks: absent = no such matrix path (device_catalog.hpp).
    if (chip.contains("peak_fp8_flops")) {
      s.chip_peak_fp8_flops = figure(chip, "peak_fp8_flops", where + ".chip");
      if (!(s.chip_peak_fp8_flops > s.chip_peak_bf16_flops)) {
        throw InputError(where + ".chip.peak_fp8_flops.value",
                         "must exceed peak_bf16_flops (leave it out for a device without a faster FP8 path)");
      }
    }
    if (chip.contains("peak_int8_ops")) s.chip_peak_int8_ops = figure(chip, "peak_int8_ops", where + ".chip");
    s.chip_memory_bytes = figure(chip, "memory_bytes", where + ".chip");
    s.chip_memory_Bps = figure(chip, "memory_Bps", where + ".chip");
    if (s.tensorcores_per_chip < 1) throw InputError(where + ".tensorcores_per_chip", "must be >= 1");
    parse_matrix_units(chip, where + ".chip", s);
    const double per = s.cores_per_chip;
    s.peak_bf16_flops = s.chip_peak_bf16_flops / per;
    s.peak_fp32_flops = s.chip_peak_fp32_flops / per;
    s.peak_fp8_flops = s.chip_peak_fp8_flops / per;
    s.peak_int8_ops = s.chip_peak_int8_ops / per;
    s.memory_bytes = s.chip_memory_bytes / per;
    s.memory_Bps = s.chip_memory_Bps / per;
    const json& links = require(e, "links", where);
    if (!links.is_object()) throw InputError(where + ".links", "must be an object");
    for (const auto& [name, l] : links.items()) {
      const std::string lw = where + ".links." + name;
      LinkKind kind{};
      if (!parse_link_kind(name, kind)) throw InputError(lw, "unknown link kind");
      LinkKindSpec ls;
      ls.links_per_chip = static_cast<int>(require_integer(l, "links_per_chip", lw));
      ls.figures.bandwidth_Bps = figure(l, "bandwidth_Bps", lw, &ls.bandwidth_source);
      ls.figures.latency_s = figure(l, "latency_s", lw, &ls.latency_source);
      ls.figures.efficiency = figure(l, "efficiency", lw, &ls.efficiency_source);
      if (!(ls.figures.bandwidth_Bps > 0.0)) throw InputError(lw + ".bandwidth_Bps", "must be positive");
      if (!(ls.figures.efficiency > 0.0 && ls.figures.efficiency <= 1.0)) {
        throw InputError(lw + ".efficiency", "must be in (0, 1]");
      }
      s.link_kinds[static_cast<std::size_t>(kind)] = ls;
    }
    if (e.contains("nvswitch")) {
      const std::string nw = where + ".nvswitch";
      const json& reduction = require(require(e, "nvswitch", where), "in_switch_reduction", nw);
      const json& value = require(reduction, "value", nw + ".in_switch_reduction");
      if (!value.is_boolean()) throw InputError(nw + ".in_switch_reduction.value", "must be true or false");
      s.nvswitch_reduction = value.get<bool>();
      s.nvswitch_reduction_source = require_string(reduction, "source", nw + ".in_switch_reduction");
      const json& sw = require(e, "nvswitch", where);
      if (sw.contains("nvls_efficiency")) {
        s.nvls_efficiency = figure(sw, "nvls_efficiency", nw, &s.nvls_efficiency_source);
        if (!(s.nvls_efficiency > 0.0 && s.nvls_efficiency <= 1.0)) {
          throw InputError(nw + ".nvls_efficiency", "must be in (0, 1]");
        }
      }
    }
    s.catalog_entry = e;
    for (const DeviceSpec& other : specs) {
      if (other.kind == s.kind) throw InputError(where + ".kind", "duplicate kind '" + s.kind + "'");
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

namespace {

const std::vector<DeviceSpec>& catalog() {
  static const std::vector<DeviceSpec> specs =
      parse_device_catalog(read_json_file(data_file("devices.json"), "devices.json"));
  return specs;
}

}  // namespace

const DeviceSpec& device_spec(const std::string& kind) {
  for (const DeviceSpec& s : catalog()) {
    if (s.kind == kind) return s;
  }
  throw InputError("device_kind", fmt::format("unknown device '{}' (known: {})", kind, fmt::join(device_kinds(), ", ")));
}

std::vector<std::string> device_kinds() {
  std::vector<std::string> kinds;
  for (const DeviceSpec& s : catalog()) kinds.push_back(s.kind);
  return kinds;
}

}  // namespace switchsim::topology
