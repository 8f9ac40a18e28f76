// `switchsim calibrate --backend cpu|cuda [--quick] --out FILE [--json]`:
// times the Switch layer's kernels over a sweep of shapes on this machine and
// writes a measured profile (kernels/profile.hpp, kernels/calibration.hpp).
// `switchsim calibrate --backend roofline --device KIND --out FILE`: writes
// the roofline profile of a catalog device (data/devices.json), labelled
// "kind": "roofline", with the catalog's sources; data/profiles/ holds these.
// The profile is written atomically at the end: an error or Ctrl-C leaves no
// file. Progress goes to stderr when it is a terminal.

#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "common/errors.hpp"
#include "kernels/calibration.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/profile.hpp"
#include "kernels/switch_layer.hpp"
#include "topology/device_catalog.hpp"

namespace switchsim::cli {
namespace {

struct CalibrateOptions {
  std::string backend;
  std::string device;
  bool quick = false;
  double seconds_per_shape = 0.0;
  int blas_threads = 1;
  OutputOptions output;
};

std::string catalog_source(const json& entry, const std::string& field) {
  if (entry.contains("chip") && entry["chip"].contains(field) && entry["chip"][field].contains("source")) {
    return entry["chip"][field]["source"].get<std::string>();
  }
  return "data/devices.json";
}

json roofline_for_device(const std::string& kind) {
  const topology::DeviceSpec& spec = topology::device_spec(kind);
  kernels::DeviceCeilings c;
  c.device_kind = spec.kind;
  c.matrix_flops_per_s = spec.peak_bf16_flops;
  c.vector_flops_per_s = spec.peak_fp32_flops;
  c.memory_Bps = spec.memory_Bps;
  // matrix_efficiency, memory_efficiency, launch_overhead_s: DeviceCeilings defaults.
  json device;
  device["kind"] = spec.kind;
  device["name"] = spec.description;
  device["memory_bytes"] = spec.memory_bytes;
  json source;
  source["catalog"] = "data/devices.json";
  source["matrix_flops_per_s"] = catalog_source(spec.catalog_entry, "peak_bf16_flops");
  source["vector_flops_per_s"] = catalog_source(spec.catalog_entry, "peak_fp32_flops");
  source["memory_Bps"] = catalog_source(spec.catalog_entry, "memory_Bps");
  if (spec.cores_per_chip > 1) {
    source["per_device"] = fmt::format("chip figures divided by {} devices per chip", spec.cores_per_chip);
  }
  source["efficiencies"] = fmt::format(
      "assumed, not measured: matrix {:.2f}, memory {:.2f}, launch overhead {:.0e} s (kernels/cost_model.hpp "
      "DeviceCeilings defaults)",
      c.matrix_efficiency, c.memory_efficiency, c.launch_overhead_s);
  return kernels::roofline_profile(c, device, source);
}

std::string summary(const json& profile, const std::string& out) {
  const json& c = profile["ceilings"];
  std::string text = fmt::format("{} profile for '{}' ({}): {} samples\n", profile["kind"].get<std::string>(),
                                 profile["device"]["kind"].get<std::string>(),
                                 profile["device"].value("name", std::string("?")), profile["samples"].size());
  text += fmt::format("  matrix {:.3g} FLOP/s, memory {:.3g} B/s, launch overhead {:.3g} s\n",
                      c["matrix_flops_per_s"].get<double>(), c["memory_Bps"].get<double>(),
                      c["launch_overhead_s"].get<double>());
  if (!out.empty()) text += "  written to " + out + "\n";
  return text;
}

CommandAction add_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateOptions>();
  app.description("Measure the Switch layer's kernels on this machine and write a profile (or a catalog roofline)");
  app.add_option("--backend", options->backend, "cpu, cuda, or roofline (with --device)")->required();
  app.add_option("--device", options->device,
                 "roofline: catalog device kind (tpuv3, tpuv4, a100, h100, h200); cuda: override the detected kind");
  app.add_flag("--quick", options->quick, "Fewer and smaller shapes, fewer repeats");
  app.add_option("--seconds-per-shape", options->seconds_per_shape,
                 "Time spent repeating each shape (default 0.5 s, 0.2 s with --quick)");
  app.add_option("--blas-threads", options->blas_threads,
                 "cpu: OpenBLAS threads for the matrix products (default 1, steadier on a shared machine; "
                 "0 = one per hardware thread); recorded in the profile as device.blas_threads");
  add_output_flags(app, options->output);
  return [options] {
    if (options->output.out.empty()) throw InputError("--out", "is required: the profile file to write");
    json profile;
    if (options->backend == "roofline") {
      if (options->device.empty()) throw InputError("--device", "is required with --backend roofline");
      profile = roofline_for_device(options->device);
    } else {
      auto backend = kernels::make_backend(options->backend);  // InputError / UnavailableError -> exit 2
      kernels::CalibrationOptions co;
      co.quick = options->quick;
      co.seconds_per_shape = options->seconds_per_shape > 0.0 ? options->seconds_per_shape : (co.quick ? 0.2 : 0.5);
      if (options->seconds_per_shape < 0.0) throw InputError("--seconds-per-shape", "must not be negative");
      // CPU: the shared-machine timing validate uses too (kernels/calibration.hpp).
      if (backend->name() == "cpu") {
        kernels::set_cpu_blas_threads(options->blas_threads);
        kernels::use_shared_cpu_timing(co);
      }
      if (stderr_is_terminal()) co.progress = [](const std::string& line) { std::cerr << "calibrate: " << line << "\n"; };
      profile = kernels::calibrate(*backend, co);
      if (!options->device.empty()) profile["device"]["kind"] = options->device;
    }
    emit(options->output, with_command("calibrate", profile), summary(profile, options->output.out));
    return 0;
  };
}

const bool registered = register_command({"calibrate", 90, &add_calibrate_command});

}  // namespace
}  // namespace switchsim::cli
