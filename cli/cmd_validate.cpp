// `switchsim validate --backend cpu|cuda --profile FILE [--quick] [--max-mape X] [--json] [--out F]`:
// runs held-out Switch-layer shapes (not in the profile), compares measured
// kernel times with the profile's predictions (cases, mape,
// median_abs_error), and checks drops: the real dispatch against the
// simulator's drop count and the binomial expectation (kernels/validation.hpp).
// Report-only by default; with --max-mape X (percent) it exits 1 when the MAPE
// exceeds X or a drop check mismatches, after writing the full result, so CI
// and users can gate on it (as `fidelity --max-mape` does).
//
// `validate --step --backend cpu --profile FILE [--quick] [--max-error X]`: a real training step
// of the tiny Switch model against its simulated step (`simulate` on the one-device mesh cpu-1
// with the profile; workloads/step_validation.hpp); exits 1 when the step-time error exceeds X
// percent.

#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/profile.hpp"
#include "kernels/switch_layer.hpp"
#include "kernels/validation.hpp"
#include "workloads/step_validation.hpp"

namespace switchsim::cli {
namespace {

// OpenBLAS threads: the flag when given (-1: not given), else the profile's
// `device.blas_threads`, else 1 (as calibrate does: kernels/calibration.hpp).
int blas_threads(int flag, const json& profile) {
  if (flag != -1) return flag;
  const json& device = profile["device"];
  if (device.contains("blas_threads") && device["blas_threads"].is_number_integer()) {
    return device["blas_threads"].get<int>();
  }
  return 1;
}

struct ValidateOptions {
  std::string backend;
  std::string profile;
  bool quick = false;
  double seconds_per_shape = 0.0;
  int blas_threads = -1;  // -1: the profile's device.blas_threads, else 1
  double max_mape_percent = -1.0;  // < 0: report only
  bool step = false;
  double max_error_percent = -1.0;  // --step: < 0: report only
  OutputOptions output;
};

std::string text_report(const json& r) {
  std::string text = fmt::format("validate: {} on {} against {}\n", r["backend"].get<std::string>(),
                                 r["device"].value("name", std::string("?")), r["model"].get<std::string>());
  text += fmt::format("  {:<11} {:>7} {:>6} {:>5} {:>13} {:>13} {:>8}\n", "kernel", "tokens", "d", "E", "predicted_s",
                      "measured_s", "error");
  for (const auto& c : r["cases"]) {
    text += fmt::format("  {:<11} {:>7} {:>6} {:>5} {:>13.4e} {:>13.4e} {:>+7.1f}%\n", c["kernel"].get<std::string>(),
                        c["shape"]["tokens"].get<long long>(), c["shape"]["d_model"].get<long long>(),
                        c["shape"]["experts"].get<long long>(), c["predicted_s"].get<double>(),
                        c["measured_s"].get<double>(), 100.0 * c["error"].get<double>());
  }
  text += fmt::format("  MAPE {:.1f}%, median |error| {:.1f}%\n", 100.0 * r["mape"].get<double>(),
                      100.0 * r["median_abs_error"].get<double>());
  text += "  drop check (kernel / simulator / expected):\n";
  for (const auto& d : r["drop_check"]) {
    text += fmt::format("    {:<8} cf {:<5} {:>6} / {:>6} / {:>9.1f}  {}\n", d["distribution"].get<std::string>(),
                        d["config"]["capacity_factor"].get<double>(), d["kernel_drops"].get<long long>(),
                        d["simulator_drops"].get<long long>(), d["expected_drops"].get<double>(),
                        d["match"].get<bool>() ? "match" : "MISMATCH");
  }
  return text;
}

std::string step_text_report(const json& r) {
  const json& m = r["model"];
  std::string text = fmt::format(
      "validate --step: {} on the CPU ({} enc + {} dec layers, d_model {}, {} experts, cf {:g}, {} + {} tokens, "
      "{} parameters) against {}\n",
      m["name"].get<std::string>(), m["encoder_layers"].get<long long>(), m["decoder_layers"].get<long long>(),
      m["d_model"].get<long long>(), m["experts"].get<long long>(), m["capacity_factor"].get<double>(),
      m["encoder_tokens"].get<long long>(), m["decoder_tokens"].get<long long>(), m["parameters"].get<long long>(),
      r["cost_model"].get<std::string>());
  text += fmt::format("  {:<12} {:>13} {:>13} {:>13} {:>8}\n", "", "predicted_s", "measured_s", "p10..p90", "error");
  auto row = [&](const std::string& label, double predicted, const json& measured, const json& error) {
    text += fmt::format("  {:<12} {:>13.4e} {:>13.4e} {:>6.1e}..{:<6.1e} {}\n", label, predicted,
                        measured["median_s"].get<double>(), measured["p10_s"].get<double>(),
                        measured["p90_s"].get<double>(),
                        error.is_number() ? fmt::format("{:+.1f}%", 100.0 * error.get<double>()) : std::string("-"));
  };
  const json& p = r["predicted"];
  const json& me = r["measured"];
  const json& e = r["errors"];
  row("step", p["step_s"].get<double>(), me["step"], e["step"]);
  row("step (cpu)", p["step_s"].get<double>(), me["step_cpu_time"], e["step_cpu_time"]);
  text += fmt::format("  {:<12} {:>13.4e} {:>13.4e} {:>14} {:+.1f}%\n", "step (ops)", p["step_s"].get<double>(),
                      me["step_op_medians_s"].get<double>(), "sum of medians",
                      100.0 * e["step_op_medians"].get<double>());
  for (const auto& [phase, v] : p["phases"].items()) row(phase, v.get<double>(), me["phases"][phase], e["phases"][phase]);
  text += "  per op category (whole step):\n";
  for (const auto& [cat, v] : me["categories"].items()) {
    const bool priced = p["categories"].contains(cat);
    row("  " + cat, priced ? p["categories"][cat]["seconds"].get<double>() : 0.0, v,
        priced ? e["categories"][cat] : json());
  }
  text += fmt::format("  drops: measured {:.1f}% (real routing), simulated {:.1f}% (uniform routing); padded "
                      "buffers, so the compute does not depend on them\n",
                      100.0 * me["drop_fraction"].get<double>(), 100.0 * p["drop_fraction"].get<double>());
  if (!r["not_priced"]["ops"].empty()) {
    text += fmt::format("  not priced by the simulator: {} ops (category unpriced)\n", r["not_priced"]["ops"].size());
  }
  return text;
}

int run_validate_step(const ValidateOptions& options, CLI::Option* max_error) {
  if (max_error->count() > 0 && !(options.max_error_percent >= 0.0 && std::isfinite(options.max_error_percent))) {
    throw InputError("--max-error", "must be a non-negative percentage");
  }
  if (options.backend != "cpu") {
    throw InputError("--backend", "validate --step runs on the cpu backend only (no CUDA training step yet)");
  }
  auto backend = kernels::make_backend(options.backend);
  const json profile = read_json_file(options.profile, "--profile");
  const auto model = kernels::cost_model_from_profile_json(profile, backend->device_kind(),
                                                           "profile:" + options.profile, "--profile");
  const int threads = blas_threads(options.blas_threads, profile);
  kernels::set_cpu_blas_threads(threads);
  workloads::StepValidationOptions so;
  if (options.quick) {
    so.warmup_steps = 1;
    so.timed_steps = 3;
  }
  json result = workloads::validate_step_cpu(*model, so);
  result["profile"] = options.profile;
  result["protocol"]["blas_threads"] = threads;
  if (options.max_error_percent >= 0.0) result["max_error_percent"] = options.max_error_percent;
  emit(options.output, with_command("validate", result), step_text_report(result));
  if (options.max_error_percent < 0.0) return 0;
  const double error_percent = 100.0 * std::abs(result["errors"]["step"].get<double>());
  if (error_percent > options.max_error_percent) {
    std::cerr << fmt::format("switchsim: validate: step-time error {:.1f}% exceeds --max-error {:g}%\n", error_percent,
                             options.max_error_percent);
    return 1;
  }
  return 0;
}

CommandAction add_validate_command(CLI::App& app) {
  auto options = std::make_shared<ValidateOptions>();
  app.description(
      "Compare a profile's predictions with measured runs of held-out shapes; check token drops. With --step: a "
      "real training step against the simulated one");
  app.add_option("--backend", options->backend, "cpu or cuda")->required();
  app.add_option("--profile", options->profile, "Profile JSON written by `switchsim calibrate`")->required();
  app.add_flag("--quick", options->quick, "One held-out shape, fewer repeats (with --step: 1 warm-up and 3 timed steps, not 2 and 9)");
  app.add_option("--seconds-per-shape", options->seconds_per_shape,
                 "Time spent repeating each shape (default 0.5 s, 0.2 s with --quick)");
  app.add_option("--blas-threads", options->blas_threads,
                 "cpu: OpenBLAS threads for the matrix products (default: the profile's device.blas_threads, "
                 "else 1; 0 = one per hardware thread)");
  CLI::Option* max_mape = app.add_option(
      "--max-mape", options->max_mape_percent,
      "Exit 1 when the kernels' MAPE (percent) exceeds this or a drop check mismatches (default: report only)");
  app.add_flag("--step", options->step,
               "Run a real training step of the tiny Switch model (switch-tiny-cpu) and compare it with the "
               "simulated step on the one-device mesh cpu-1 with the profile (cpu backend)");
  CLI::Option* max_error = app.add_option(
      "--max-error", options->max_error_percent,
      "With --step: exit 1 when the relative step-time error (percent) exceeds this (default: report only)");
  add_output_flags(app, options->output);
  return [options, max_mape, max_error]() -> int {
    if (options->step) {
      if (max_mape->count() > 0) throw InputError("--max-mape", "not with --step (use --max-error)");
      if (options->seconds_per_shape != 0.0) throw InputError("--seconds-per-shape", "not with --step");
      return run_validate_step(*options, max_error);
    }
    if (max_error->count() > 0) throw InputError("--max-error", "only with --step");
    // Checked before anything is measured.
    if (max_mape->count() > 0 && !(options->max_mape_percent >= 0.0 && std::isfinite(options->max_mape_percent))) {
      throw InputError("--max-mape", "must be a non-negative percentage");
    }
    auto backend = kernels::make_backend(options->backend);  // InputError / UnavailableError -> exit 2
    const json profile = read_json_file(options->profile, "--profile");
    const auto model = kernels::cost_model_from_profile_json(profile, backend->device_kind(),
                                                             "profile:" + options->profile, "--profile");
    if (options->seconds_per_shape < 0.0) throw InputError("--seconds-per-shape", "must not be negative");
    kernels::ValidationOptions vo;
    vo.timing.quick = options->quick;
    vo.timing.seconds_per_shape =
        options->seconds_per_shape > 0.0 ? options->seconds_per_shape : (options->quick ? 0.2 : 0.5);
    vo.timing.seed = 2;  // not the calibration seed
    if (backend->name() == "cpu") {  // as calibrate does (kernels/calibration.hpp)
      kernels::set_cpu_blas_threads(blas_threads(options->blas_threads, profile));
      kernels::use_shared_cpu_timing(vo.timing);
    }
    if (stderr_is_terminal()) vo.timing.progress = [](const std::string& l) { std::cerr << "validate: " << l << "\n"; };
    json result = kernels::validate(*backend, *model, profile, vo);
    result["profile"] = options->profile;
    if (options->max_mape_percent >= 0.0) result["max_mape_percent"] = options->max_mape_percent;
    emit(options->output, with_command("validate", result), text_report(result));
    if (options->max_mape_percent < 0.0) return 0;
    int status = 0;
    const double mape_percent = 100.0 * result["mape"].get<double>();
    if (mape_percent > options->max_mape_percent) {
      std::cerr << fmt::format("switchsim: validate: MAPE {:.1f}% exceeds --max-mape {:g}%\n", mape_percent,
                               options->max_mape_percent);
      status = 1;
    }
    for (const auto& d : result["drop_check"]) {
      if (!d["match"].get<bool>()) {
        std::cerr << "switchsim: validate: a drop check does not match the simulator's drop count\n";
        status = 1;
        break;
      }
    }
    return status;
  };
}

const bool registered = register_command({"validate", 91, &add_validate_command});

}  // namespace
}  // namespace switchsim::cli
