#pragma once
// Lanes for concurrent intervals of one trace row. Chrome/Perfetto draw the
// complete events of one track only when they nest or do not overlap; a
// device's concurrent sends do neither, so they are spread over lanes (each
// lane its own track, "device D lane L").
//
// Greedy interval colouring: feed the intervals in non-decreasing start order;
// each goes on the first lane whose last interval ended at or before its start,
// or on a new lane when none has. In start order this uses the fewest lanes
// possible: a new lane k is opened only when k intervals are all open at that
// start time (the maximum overlap, a lower bound on any colouring).

#include <cstdint>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::sim {

class LanePacker {
 public:
  // The lane of [start_s, end_s); start_s must not be below the previous call's start.
  [[nodiscard]] std::int32_t place(double start_s, double end_s) {
    SWITCHSIM_ASSERT(start_s >= last_start_s_, "LanePacker: intervals must come in start order");
    SWITCHSIM_ASSERT(end_s >= start_s, "LanePacker: interval ends before it starts");
    last_start_s_ = start_s;
    for (std::size_t lane = 0; lane < lane_end_s_.size(); ++lane) {
      if (lane_end_s_[lane] <= start_s) {
        lane_end_s_[lane] = end_s;
        return static_cast<std::int32_t>(lane);
      }
    }
    lane_end_s_.push_back(end_s);
    return static_cast<std::int32_t>(lane_end_s_.size() - 1);
  }
  [[nodiscard]] std::int32_t lanes() const { return static_cast<std::int32_t>(lane_end_s_.size()); }

 private:
  std::vector<double> lane_end_s_;  // per lane: end of its last interval
  double last_start_s_ = -1e300;
};

}  // namespace switchsim::sim
