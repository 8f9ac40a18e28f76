#include "kernels/profile.hpp"

#include <array>
#include <cmath>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "common/known_keys.hpp"

namespace switchsim::kernels {

namespace {
constexpr std::array<OpKind, 8> kAllKinds = {OpKind::matmul,   OpKind::batched_matmul, OpKind::router,
                                             OpKind::dispatch, OpKind::combine,        OpKind::attention,
                                             OpKind::elementwise, OpKind::optimizer};
}  // namespace

OpKind op_kind_from_string(const std::string& text, const std::string& field) {
  for (OpKind k : kAllKinds) {
    if (text == to_string(k)) return k;
  }
  throw InputError(field, "unknown op kind '" + text + "'");
}

json ceilings_to_json(const DeviceCeilings& c) {
  json j;
  j["matrix_flops_per_s"] = c.matrix_flops_per_s;
  j["vector_flops_per_s"] = c.vector_flops_per_s;
  j["memory_Bps"] = c.memory_Bps;
  j["matrix_efficiency"] = c.matrix_efficiency;
  j["memory_efficiency"] = c.memory_efficiency;
  j["launch_overhead_s"] = c.launch_overhead_s;
  return j;
}

DeviceCeilings ceilings_from_json(const json& j, const std::string& device_kind, const std::string& where) {
  require_known_keys(j,
                     {"matrix_flops_per_s", "vector_flops_per_s", "memory_Bps", "matrix_efficiency",
                      "memory_efficiency", "launch_overhead_s"},
                     where);
  DeviceCeilings c;
  c.device_kind = device_kind;
  c.matrix_flops_per_s = require_positive(j, "matrix_flops_per_s", where);
  c.vector_flops_per_s = require_number(j, "vector_flops_per_s", where);
  c.memory_Bps = require_positive(j, "memory_Bps", where);
  c.matrix_efficiency = require_positive(j, "matrix_efficiency", where);
  c.memory_efficiency = require_positive(j, "memory_efficiency", where);
  c.launch_overhead_s = require_number(j, "launch_overhead_s", where);
  if (c.vector_flops_per_s < 0.0) throw InputError(where + ".vector_flops_per_s", "must not be negative");
  if (c.launch_overhead_s < 0.0) throw InputError(where + ".launch_overhead_s", "must not be negative");
  return c;
}

json op_shape_to_json(const OpShape& op) {
  json j;
  j["batch"] = op.batch;
  j["m"] = op.m;
  j["n"] = op.n;
  j["k"] = op.k;
  j["bytes"] = op.bytes;
  j["precision"] = to_string(op.precision);
  if (op.activation_elements > 0) j["activation_elements"] = op.activation_elements;
  return j;
}

std::unique_ptr<CostModel> cost_model_from_profile_json(const json& profile, const std::string& expected_device_kind,
                                                        const std::string& name, const std::string& field,
                                                        const MatrixGeometry* geometry) {
  if (!profile.is_object()) throw InputError(field, "a profile must be a JSON object");
  // What `calibrate` writes (kernels/calibration.cpp, and `command`, which every command's
  // JSON output carries: cli/output.hpp); `device`, `ceilings_measurement`, a sample's
  // `config` and `provenance` are descriptive records, not read.
  require_known_keys(profile,
                     {"schema_version", "kind", "command", "device", "backend", "measured_at", "source", "ceilings",
                      "ceilings_measurement", "samples", "notes", "provenance"},
                     field);
  const long long version = require_integer(profile, "schema_version", field);
  if (version != kProfileSchemaVersion) {
    throw InputError(field + ".schema_version", "is " + std::to_string(version) + ", this switchsim reads " +
                                                    std::to_string(kProfileSchemaVersion));
  }
  const std::string device_kind = require_string(require(profile, "device", field), "kind", field + ".device");
  if (!expected_device_kind.empty() && device_kind != expected_device_kind) {
    throw InputError(field + ".device.kind",
                     "profile is for '" + device_kind + "', but '" + expected_device_kind + "' was asked for");
  }
  const std::string kind = require_string(profile, "kind", field);
  const DeviceCeilings ceilings = ceilings_from_json(require(profile, "ceilings", field), device_kind, field + ".ceilings");
  if (kind == "roofline") return std::make_unique<RooflineCostModel>(ceilings);
  if (kind != "measured") throw InputError(field + ".kind", "must be \"measured\" or \"roofline\", not '" + kind + "'");

  const json& samples = require(profile, "samples", field);
  if (!samples.is_array()) throw InputError(field + ".samples", "must be an array");
  std::vector<CalibrationSample> points;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::string where = field + ".samples[" + std::to_string(i) + "]";
    const json& s = samples[i];
    require_known_keys(s, {"kernel", "op", "shape", "config", "flops", "bytes", "median_s", "p10_s", "p90_s", "repeats"},
                       where);
    if (s.contains("shape")) {
      require_known_keys(s["shape"], {"batch", "m", "n", "k", "bytes", "precision", "activation_elements"}, where + ".shape");
    }
    CalibrationSample p;
    p.kind = op_kind_from_string(require_string(s, "op", where), where + ".op");
    p.work = require_positive(s, is_memory_kind(p.kind) ? "bytes" : "flops", where);
    p.median_s = require_positive(s, "median_s", where);
    const double p10 = require_number(s, "p10_s", where);
    const double p90 = require_number(s, "p90_s", where);
    // (p90 - p10) spans 2 * 1.2816 standard deviations of a normal distribution.
    p.relative_spread = std::max(0.0, (p90 - p10) / (2.0 * 1.2816 * p.median_s));
    // Calls: shape.batch (profiles of schema 1 all record the shape; one call without it).
    if (s.contains("shape") && s["shape"].is_object() && s["shape"].contains("batch")) {
      const long long batch = require_integer(s["shape"], "batch", where + ".shape");
      if (batch < 1) throw InputError(where + ".shape.batch", "must be at least 1");
      p.calls = static_cast<double>(batch);
      if (s["shape"].contains("activation_elements")) {
        const long long elements = require_integer(s["shape"], "activation_elements", where + ".shape");
        if (elements < 0) throw InputError(where + ".shape.activation_elements", "must not be negative");
        p.activation_elements = static_cast<double>(elements);
      }
    }
    points.push_back(p);
  }
  return std::make_unique<CalibratedCostModel>(name, ceilings, std::move(points), geometry);
}

std::unique_ptr<CostModel> load_profile_cost_model(const std::filesystem::path& path,
                                                   const std::string& expected_device_kind,
                                                   const MatrixGeometry* geometry) {
  const json profile = read_json_file(path, "--profile");
  return cost_model_from_profile_json(profile, expected_device_kind, "profile:" + path.string(), "--profile",
                                      geometry);
}

}  // namespace switchsim::kernels
