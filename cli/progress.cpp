#include "cli/progress.hpp"

#include <iostream>

#include <fmt/format.h>

#include "cli/output.hpp"
#include "common/errors.hpp"

namespace switchsim::cli {

void add_progress_flags(CLI::App& app, ProgressFlags& flags) {
  app.add_flag("--progress", flags.progress,
               "Progress lines on stderr for simulations longer than a few seconds (default: only when stderr is "
               "a terminal)");
  app.add_flag("--no-progress", flags.no_progress, "No progress lines, even on a terminal");
}

bool progress_wanted(const ProgressFlags& flags) {
  if (flags.progress && flags.no_progress) throw InputError("--progress", "cannot be combined with --no-progress");
  return flags.progress || (!flags.no_progress && stderr_is_terminal());
}

ProgressLine::ProgressLine(std::string command) : command_(std::move(command)), terminal_(stderr_is_terminal()) {}

void ProgressLine::end() {
  if (open_) std::cerr << "\n" << std::flush;
  open_ = false;
}

void ProgressLine::step(const sim::StepProgress& p) {
  const std::int64_t k = step_;
  if (p.finished) ++step_;
  if (p.wall_s < kQuietSeconds) return;
  print(fmt::format("{}{} of {} ops, simulated {:.4g} ms, {:.0f} s{}",
                    steps_ > 1 ? fmt::format("step {} of {}: ", k + 1, steps_) : "", p.ops_done, p.ops,
                    p.now_s * 1e3, p.wall_s, p.finished ? " (step done)" : ""),
        p.finished);
}

void ProgressLine::network(const sim::NetworkProgress& p) {
  if (p.wall_s < kQuietSeconds) return;
  print(fmt::format("flow simulation {:.0f} s, {} network updates, {} flows active, {} of {} finished, "
                    "simulated {:.6g} us",
                    p.wall_s, p.rate_updates, p.active_flows, p.flows_finished, p.flows_added, p.now_s * 1e6),
        false);
}

void ProgressLine::print(const std::string& text, bool end) {
  const std::string line = command_ + ": " + text;
  if (terminal_) {
    std::cerr << "\r" << line << "\x1b[K" << (end ? "\n" : "") << std::flush;
    open_ = !end;
  } else {
    std::cerr << line << "\n" << std::flush;
  }
}

}  // namespace switchsim::cli
