#pragma once
// Calibration profiles: JSON files in data/profiles/ (written by `switchsim
// calibrate`). Layout (schema_version 1):
//
//   { "schema_version": 1,
//     "kind": "measured" | "roofline",
//     "device": { "kind": "h200" | "cpu" | ..., "name": ..., ...identity
//                 (cpu: "threads", "blas_threads" the matrix products ran on) },
//     "backend": "cpu" | "cuda" | "roofline",
//     "measured_at": "2026-11-28T14:00:00Z" (measured) | null (roofline),
//     "source": "..." (roofline: where the ceilings come from),
//     "ceilings": { "matrix_flops_per_s", "vector_flops_per_s", "memory_Bps",
//                   "matrix_efficiency", "memory_efficiency", "launch_overhead_s" },
//     "samples": [ { "kernel": "expert_ffn", "op": "batched_matmul",
//                    "shape": {"batch","m","n","k","bytes","precision",
//                              "activation_elements" (GEGLU expert FFN only)},
//                    "config": {...SwitchLayerConfig...} (optional),
//                    "flops", "bytes", "median_s", "p10_s", "p90_s", "repeats" } ],
//     "provenance": {...} }
//
// A measured profile's ceilings are what calibrate measured (large matrix
// product, large copy), so their efficiencies are 1.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/calibrated_cost_model.hpp"
#include "kernels/cost_model.hpp"
#include "kernels/shape_aware_cost_model.hpp"

namespace switchsim::kernels {

inline constexpr int kProfileSchemaVersion = 1;

// Parses an OpKind name ("batched_matmul"); InputError(field, ...) if unknown.
[[nodiscard]] OpKind op_kind_from_string(const std::string& text, const std::string& field);

[[nodiscard]] nlohmann::ordered_json ceilings_to_json(const DeviceCeilings& ceilings);
[[nodiscard]] DeviceCeilings ceilings_from_json(const nlohmann::ordered_json& j, const std::string& device_kind,
                                                const std::string& where);
[[nodiscard]] nlohmann::ordered_json op_shape_to_json(const OpShape& op);

// Builds the cost model a profile describes: a RooflineCostModel for
// "kind": "roofline", a CalibratedCostModel for "kind": "measured" (its
// fallback outside the measured shapes is shape-aware when `geometry`, the
// device's matrix units, is given).
// `field` names the flag or key that named the profile (in error messages).
// Throws InputError for a wrong schema_version, a device.kind other than
// `expected_device_kind` (skipped when it is empty), or malformed content.
[[nodiscard]] std::unique_ptr<CostModel> cost_model_from_profile_json(const nlohmann::ordered_json& profile,
                                                                     const std::string& expected_device_kind,
                                                                     const std::string& name,
                                                                     const std::string& field = "--profile",
                                                                     const MatrixGeometry* geometry = nullptr);

// Reads `path` and calls cost_model_from_profile_json. The step simulation uses this.
[[nodiscard]] std::unique_ptr<CostModel> load_profile_cost_model(const std::filesystem::path& path,
                                                               const std::string& expected_device_kind,
                                                               const MatrixGeometry* geometry = nullptr);

}  // namespace switchsim::kernels
