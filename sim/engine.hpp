#pragma once
// A general discrete-event engine: a clock and handlers scheduled at times.
// It knows nothing of networks or models; the step executor and tests drive it.
// Time is double seconds, ties run in scheduling order (event_queue.hpp).
//
// The flow-level collective simulation (transfer_simulation.hpp) uses the
// EventQueue directly with integer payloads instead of closures: it schedules
// millions of events and a std::function per event would dominate its cost.

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "sim/event_queue.hpp"

namespace switchsim::sim {

class Engine {
 public:
  using Handler = std::function<void(Engine&)>;

  [[nodiscard]] double now_s() const { return now_s_; }
  [[nodiscard]] std::int64_t events_processed() const { return events_processed_; }
  [[nodiscard]] bool idle() const { return queue_.empty(); }

  // Runs `handler` at absolute time `time_s` (>= now) / after `delay_s` (>= 0).
  void schedule_at(double time_s, Handler handler);
  void schedule_after(double delay_s, Handler handler) { schedule_at(now_s_ + delay_s, std::move(handler)); }

  // Processes events in (time, sequence) order until none is left or the next
  // one is later than `until_s`. Returns the number of events processed.
  std::int64_t run(double until_s = std::numeric_limits<double>::infinity());

 private:
  EventQueue queue_;
  std::vector<Handler> handlers_;       // indexed by payload
  std::vector<std::int64_t> free_slots_;  // reusable handler slots
  double now_s_ = 0.0;
  std::int64_t events_processed_ = 0;
};

}  // namespace switchsim::sim
