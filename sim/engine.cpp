#include "sim/engine.hpp"

#include <cmath>

#include "common/errors.hpp"

namespace switchsim::sim {

void Engine::schedule_at(double time_s, Handler handler) {
  SWITCHSIM_ASSERT(std::isfinite(time_s), "event time must be finite");
  SWITCHSIM_ASSERT(time_s >= now_s_, "cannot schedule an event in the past");
  std::int64_t slot = 0;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    handlers_[static_cast<std::size_t>(slot)] = std::move(handler);
  } else {
    slot = static_cast<std::int64_t>(handlers_.size());
    handlers_.push_back(std::move(handler));
  }
  queue_.push(time_s, slot);
}

std::int64_t Engine::run(double until_s) {
  std::int64_t processed = 0;
  while (!queue_.empty() && queue_.top().time_s <= until_s) {
    const QueuedEvent e = queue_.pop();
    now_s_ = e.time_s;
    Handler handler = std::move(handlers_[static_cast<std::size_t>(e.payload)]);
    handlers_[static_cast<std::size_t>(e.payload)] = nullptr;
    free_slots_.push_back(e.payload);
    handler(*this);
    ++processed;
    ++events_processed_;
  }
  return processed;
}

}  // namespace switchsim::sim
