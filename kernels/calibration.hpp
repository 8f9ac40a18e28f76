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
  // Passes over the Switch-layer shapes whose runs are pooled (time_switch_layers).
  int rounds = 1;
  // Called with one line per finished step (the CLI prints it on a terminal).
  std::function<void(const std::string&)> progress;
};

// The timing `calibrate` and `validate` use on the CPU backend of a shared
// machine: sleep 5 ms before each timed kernel (pause_s), at most 50 repeats,
// and three pooled passes over the shapes (rounds) so that a slow stretch of
// the machine does not own one shape. Both must time alike for the held-out
// error to mean anything.
inline void use_shared_cpu_timing(CalibrationOptions& o) {
  o.pause_s = 0.005;
  o.max_repeats = 50;
  o.rounds = 3;
}

// One timed kernel of one shape.
struct KernelTiming {
  std::string kernel;  // "router", "dispatch", "expert_ffn", "combine", "matmul", "copy"
  OpShape op;
  Percentiles seconds;
  int repeats = 0;
  std::vector<double> samples_s;  // every timed run (seconds is their summary)
};

// Shapes calibrate sweeps, and the held-out shapes validate runs (none of
// them is in the sweep; they lie between its points). "cpu" shapes fit a
// small machine; "cuda" shapes are sized for a large GPU.
[[nodiscard]] std::vector<SwitchLayerConfig> calibration_shapes(const std::string& backend, bool quick);
[[nodiscard]] std::vector<SwitchLayerConfig> validation_shapes(const std::string& backend, bool quick);

// Times the four cost-model ops of one Switch layer shape (switch_layer_ops).
[[nodiscard]] std::vector<KernelTiming> time_switch_layer(SwitchLayerBackend& backend, const SwitchLayerConfig& config,
                                                          const CalibrationOptions& options);

// Times every shape of `shapes` in options.rounds passes over the whole list, each
// with 1/rounds of options.seconds_per_shape (and of the repeat bounds), and summarises each kernel over
// the pooled runs of all passes. On a shared or virtual machine the speed
// drifts for hundreds of milliseconds at a time (other processes, steal); a
// single pass puts such a stretch on one shape's every kernel, while pooled
// passes let the median come from the unaffected ones. Result: per shape, the
// timings of time_switch_layer.
[[nodiscard]] std::vector<std::vector<KernelTiming>> time_switch_layers(SwitchLayerBackend& backend,
                                                                        const std::vector<SwitchLayerConfig>& shapes,
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
