#pragma once
// Calibration: time the Switch layer's kernels over a sweep of shapes and
// write a profile (format in profile.hpp).
//
// Timing protocol per shape: load the problem (untimed), run the whole layer
// twice (warm-up), then R repeats of the five kernels in order, each timed on
// its own (steady clock on the CPU, CUDA events on the GPU); R is chosen so
// that the repeats take about `seconds_per_shape` (at least `min_repeats`).
// Each kernel's sample is the median of its R times, with p10 and p90 for the
// spread. Capacity assignment is timed together with the router (OpKind
// router). Dense matrix products (OpKind matmul) and copies (OpKind
// elementwise) are swept too, so that the step builder's other ops are
// calibrated; attention and optimizer fall back to the measured roofline.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/cost_model.hpp"
#include "kernels/host_info.hpp"
#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

struct CalibrationOptions {
  bool quick = false;
  double seconds_per_shape = 0.5;
  int min_repeats = 5;
  int max_repeats = 200;
  std::uint64_t seed = 1;
  // Sleep before each timed kernel, then run it once untimed, then time it.
  // On a shared CPU, a thread that has just slept is scheduled ahead of busy
  // processes (CFS sleeper credit), so short kernels then run without
  // contention; 0 disables both (GPU).
  double pause_s = 0.0;
  // Called with one line per finished step (the CLI prints it on a terminal).
  std::function<void(const std::string&)> progress;
};

// One timed kernel of one shape.
struct KernelTiming {
  std::string kernel;  // "router", "dispatch", "expert_ffn", "combine", "matmul", "copy"
  OpShape op;
  Percentiles seconds;
  int repeats = 0;
};

// Shapes calibrate sweeps, and the held-out shapes validate runs (none of
// them is in the sweep; they lie between its points). "cpu" shapes fit a
// small machine; "cuda" shapes are sized for a large GPU.
[[nodiscard]] std::vector<SwitchLayerConfig> calibration_shapes(const std::string& backend, bool quick);
[[nodiscard]] std::vector<SwitchLayerConfig> validation_shapes(const std::string& backend, bool quick);

// Times the four cost-model ops of one Switch layer shape (switch_layer_ops).
[[nodiscard]] std::vector<KernelTiming> time_switch_layer(SwitchLayerBackend& backend, const SwitchLayerConfig& config,
                                                          const CalibrationOptions& options);

// Runs the whole sweep; returns a "measured" profile.
[[nodiscard]] nlohmann::ordered_json calibrate(SwitchLayerBackend& backend, const CalibrationOptions& options);

// A "roofline" profile from catalog ceilings: no samples. `device` holds the
// identity (kind, name) and `source` says where the figures come from.
[[nodiscard]] nlohmann::ordered_json roofline_profile(const DeviceCeilings& ceilings, const nlohmann::ordered_json& device,
                                                      const nlohmann::ordered_json& source);

// A profile sample (JSON) of one timing; `config` may be null.
[[nodiscard]] nlohmann::ordered_json sample_to_json(const KernelTiming& t, const nlohmann::ordered_json& config);

}  // namespace switchsim::kernels
