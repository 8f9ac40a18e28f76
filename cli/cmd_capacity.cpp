// `switchsim capacity --model M --mesh M --layout L --factors 0.5,1.0,1.25,1.5,2.0 [--samples N]
//  [step flags as for simulate] [--progress | --no-progress] [--json] [--out F]`:
// the capacity-factor trade-off: one row per factor, mean and spread over N routing seeds.
// Progress (cli/progress.hpp): steps longer than a few seconds print "step k of N" lines on stderr.

#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "common/errors.hpp"
#include "common/resource_limits.hpp"
#include "workloads/resource_estimate.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

namespace switchsim::cli {

void add_step_request_flags(CLI::App& app, workloads::StepRequest& q);  // cmd_simulate.cpp

namespace {

struct Options {
  workloads::StepRequest request;
  std::string factors = "0.5,1.0,1.25,1.5,2.0";
  std::int64_t samples = 3;
  bool force = false;
  ProgressFlags progress;
  OutputOptions output;
};

CommandAction add_capacity_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  app.description("Capacity-factor trade-off: step time, tokens/s and drop fraction per factor");
  add_step_request_flags(app, opt->request);
  CLI::Option* factors_flag = app.add_option(
      "--factors", opt->factors, "Comma-separated capacity factors (default 0.5,1.0,1.25,1.5,2.0; not with --mode dropless)");
  app.add_option("--samples", opt->samples, "Routing seeds per factor (default 3)");
  app.add_flag("--force", opt->force, "Run even when the sweep's time estimate exceeds this machine's limits");
  add_progress_flags(app, opt->progress);
  add_output_flags(app, opt->output);
  return [opt, factors_flag]() -> int {
    const std::vector<double> factors = workloads::parse_factors(opt->factors, "--factors");

    if (opt->samples <= 0) throw InputError("--samples", "must be positive");
    const bool progress = progress_wanted(opt->progress);
    // The largest factor needs the most memory: micro-batches chosen for it fit every row.
    opt->request.capacity_factor = *std::max_element(factors.begin(), factors.end());
    workloads::ResolvedStep step = workloads::resolve_step_request(opt->request);
    if (step.options.mode == workloads::ExecutionMode::dropless && factors_flag->count() > 0) {
      throw InputError("--factors", "dropless mode has no capacity factor to sweep: leave out --factors (one dropless "
                                    "row), or use --mode capacity");
    }
    check_resources("--mesh", workloads::estimate_step_resources(step.model, step.layout, step.options), opt->force);
    ProgressLine line("capacity");
    if (progress) {
      // The timing step below (unless --force), then factors x samples steps.
      line.set_steps((opt->force ? 0 : 1) + static_cast<std::int64_t>(factors.size()) * opt->samples);
      step.options.progress = line.step_callback();
      step.options.network.progress = line.network_callback();
    }
    if (!opt->force) {
      // Refuse a sweep that would take hours up front (common/resource_limits.hpp):
      // time one step, then estimate factors x samples steps.
      const auto t0 = std::chrono::steady_clock::now();
      (void)workloads::simulate_step(step.model, *step.mesh, step.layout, step.options, *step.cost);
      const double step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double steps = static_cast<double>(factors.size()) * static_cast<double>(opt->samples);
      check_resources("--samples",
                      {fmt::format("a sweep of {} steps ({} factors x {} samples, {:.3g} s per step)", steps,
                                   factors.size(), opt->samples, step_s),
                       0.0, steps * step_s, {}},
                      false);
    }
    const auto rows = workloads::capacity_sweep(step.model, *step.mesh, step.layout, step.options, factors,
                                                opt->samples, *step.cost);
    line.end();
    emit(opt->output, with_command("capacity", workloads::to_json(rows)), workloads::to_text(rows));
    return 0;
  };
}

const bool registered = register_command({"capacity", 41, &add_capacity_command});

}  // namespace
}  // namespace switchsim::cli
