#pragma once
// Progress lines on stderr for long simulations (`simulate`, `capacity`,
// `collective`; `recommend` prints its own search line, cmd_recommend.cpp).
//
// --progress prints them, --no-progress never; by default they appear only
// when stderr is a terminal. Nothing is printed for the first
// kQuietSeconds of a simulation (most end before then); after that, about
// one line a second: rewritten in place on a terminal, one line each otherwise.
//   simulate: 1520 of 3591 ops, simulated 412.3 ms, 5 s
//   simulate: flow simulation 7 s, 39821 network updates, 6.2e+06 flows active, ...

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "sim/flow_network.hpp"
#include "sim/step_progress.hpp"

namespace switchsim::cli {

inline constexpr double kQuietSeconds = 3.0;

struct ProgressFlags {
  bool progress = false;
  bool no_progress = false;
};

// Declares --progress and --no-progress on `app`.
void add_progress_flags(CLI::App& app, ProgressFlags& flags);

// Whether to print progress (InputError when both flags are given).
[[nodiscard]] bool progress_wanted(const ProgressFlags& flags);

// One progress line on stderr for `command` (state shared by a step's and its
// flow simulations' callbacks, so that they rewrite the same terminal line).
class ProgressLine {
 public:
  explicit ProgressLine(std::string command);
  ~ProgressLine() { end(); }
  // Ends a line left open on a terminal (before printing the result).
  void end();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  void step(const sim::StepProgress& p);
  void network(const sim::NetworkProgress& p);
  // Several steps in a row (a capacity sweep): lines say "step k of N".
  void set_steps(std::int64_t steps) { steps_ = steps; }
  // The callbacks to put in workloads::StepOptions (progress, network.progress);
  // they refer to this line, which must outlive the simulation.
  [[nodiscard]] sim::StepProgressCallback step_callback() {
    return [this](const sim::StepProgress& p) { step(p); };
  }
  [[nodiscard]] sim::NetworkProgressCallback network_callback() {
    return [this](const sim::NetworkProgress& p) { network(p); };
  }

 private:
  void print(const std::string& text, bool end);
  std::string command_;
  std::int64_t steps_ = 1;
  std::int64_t step_ = 0;  // steps finished
  bool terminal_ = false;
  bool open_ = false;  // a terminal line not ended yet
};

}  // namespace switchsim::cli
