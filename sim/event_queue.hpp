#pragma once
// The engine's clock and event queue.
//
// Simulated time is a double in seconds. Why not integer nanoseconds: flow
// completion times are bytes / rate with rates from max-min sharing, so they
// are not integers in any unit; rounding each to 1 ns would accumulate error
// over thousands of dependent steps and would break the closed-form tests
// (a 64 KiB message over a 100 GB/s link takes 655.36 ns). A double has 53
// bits: at t = 1 hour its resolution is about 0.5 ps, far below any latency
// modelled here.
//
// Determinism: events are ordered by (time, sequence number), where the
// sequence number is the order in which they were pushed. Two events at the
// same time therefore always run in insertion order, whatever the heap does.

#include <cstdint>
#include <queue>
#include <vector>

namespace switchsim::sim {

struct QueuedEvent {
  double time_s = 0.0;
  std::uint64_t seq = 0;
  std::int64_t payload = 0;  // meaning chosen by the owner of the queue
};

class EventQueue {
 public:
  // Returns the event's sequence number.
  std::uint64_t push(double time_s, std::int64_t payload) {
    const std::uint64_t seq = next_seq_++;
    heap_.push(QueuedEvent{time_s, seq, payload});
    return seq;
  }
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const { return heap_.size(); }
  [[nodiscard]] const QueuedEvent& top() const { return heap_.top(); }
  QueuedEvent pop() {
    QueuedEvent e = heap_.top();
    heap_.pop();
    return e;
  }

 private:
  struct Later {
    bool operator()(const QueuedEvent& a, const QueuedEvent& b) const {
      return a.time_s != b.time_s ? a.time_s > b.time_s : a.seq > b.seq;
    }
  };
  std::priority_queue<QueuedEvent, std::vector<QueuedEvent>, Later> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace switchsim::sim
