#pragma once
// Progress of one step's simulation, for a line on stderr during long runs
// (`simulate`, `capacity`: workloads::StepOptions::progress). Both step
// executors report through a StepProgressReporter: after an op has ended on
// every member, at most once per interval of wall time, and once at the end.
// The flows of one long collective simulation report separately
// (sim::NetworkOptions::progress, flow_network.hpp).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>

namespace switchsim::sim {

struct StepProgress {
  std::int64_t ops_done = 0;  // ops ended on every member
  std::int64_t ops = 0;       // ops in the step
  double now_s = 0.0;         // simulated time of the last op that ended
  double wall_s = 0.0;        // since the simulation started
  bool finished = false;      // the last report of the step
};
using StepProgressCallback = std::function<void(const StepProgress&)>;

class StepProgressReporter {
 public:
  StepProgressReporter(const StepProgressCallback& callback, std::int64_t ops, double interval_s)
      : callback_(callback), interval_s_(interval_s) {
    progress_.ops = ops;
  }
  // One more op ended at simulated time now_s.
  void op_done(double now_s) {
    ++progress_.ops_done;
    progress_.now_s = std::max(progress_.now_s, now_s);
    if (!callback_) return;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_).count() < interval_s_) return;
    last_ = now;
    report(now);
  }
  // The step is over (reported whatever the interval).
  void finish() {
    if (!callback_) return;
    progress_.finished = true;
    report(std::chrono::steady_clock::now());
  }

 private:
  void report(std::chrono::steady_clock::time_point now) {
    progress_.wall_s = std::chrono::duration<double>(now - started_).count();
    callback_(progress_);
  }
  const StepProgressCallback& callback_;
  double interval_s_ = 1.0;
  StepProgress progress_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = started_;
};

}  // namespace switchsim::sim
