#pragma once
// `validate --step` (docs/kernels.md): a real training step of a small Switch Transformer on the
// CPU (kernels/cpu/switch_model_step_cpu.hpp) against the simulated step of the same model and
// batch on one device, priced by a measured profile.
//
// Simulated side: simulate_step (simulate.hpp) on the mesh cpu-1 (the catalog's profile-only
// `cpu` device, no links) for the T5-family model of the same config, layout dp=1, ep=1, mp=1, one
// micro-batch, --moe-impl gather, --precision fp32 (the CPU's activations), --optimizer adam,
// capacity mode with the config's factor: `switchsim simulate --mesh cpu-1 --profile P ...`. On
// one device the graph has no collectives (asserted) and every compute op runs on the one compute
// stream, so the step time is the sum of the ops' CostModel::predict times (asserted equal), which
// the per-phase, per-category and per-op comparison splits up.
//
// Measured side, load-robust diagnostics beside the wall time: the process's CPU time per step,
// and the sum over ops of each op's median over the timed steps (step_op_medians_s).
//
// Measured side: `warmup` untimed steps, then per timed step a `pause_s` sleep and one untimed
// step before it (the CPU calibrate's protocol per kernel, kernels/calibration.hpp, applied to
// the whole step), the step's wall time and each op's time. Per phase (forward, backward,
// optimizer) and per op category (switch_model_step_cpu.hpp): the sum over the step's ops,
// median / p10 / p90 over the timed steps.
//
// error = (predicted - measured) / measured, of the medians.

#include <cstdint>
#include <string>

#include "common/json_io.hpp"
#include "kernels/cost_model.hpp"
#include "kernels/cpu/switch_model_step_cpu.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

// The tiny model's name: the defaults of kernels::cpu::SwitchModelConfig, also written out as
// data/examples/switch-tiny-cpu.json (a test keeps the two equal).
inline constexpr const char* kTinyCpuModelName = "switch-tiny-cpu";

// The T5-family model (family "switch", relu experts in every layer) of `config`.
[[nodiscard]] Model model_of(const kernels::cpu::SwitchModelConfig& config, const std::string& name = kTinyCpuModelName);

// The op category of a simulated op name ("enc0.switch.expert_wi.dgrad" -> "expert_ffn");
// "other" for an op the real step has no counterpart of.
[[nodiscard]] std::string step_op_category(const std::string& op_name);

struct StepValidationOptions {
  kernels::cpu::SwitchModelConfig config;
  int warmup_steps = 2;
  int timed_steps = 9;
  double pause_s = 0.005;
  std::uint64_t seed = 1;
};

// The simulated step's prediction: {"step_s", "phases", "categories", "ops", "time_source"}.
// InputError("--profile") naming the op kind when `cost` is a measured profile without samples
// of a kind the step needs.
[[nodiscard]] json predict_step(const kernels::cpu::SwitchModelConfig& config, const kernels::CostModel& cost);

// Runs the real step and compares: {"config", "parameters", "protocol", "measured",
// "predicted", "errors", "not_priced", "not_run", "cost_model"}.
[[nodiscard]] json validate_step_cpu(const kernels::CostModel& cost, const StepValidationOptions& options);

}  // namespace switchsim::workloads
