#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "sim/trace_lanes.hpp"

using switchsim::sim::LanePacker;

TEST_CASE("lanes: overlapping intervals get separate lanes, a freed lane is reused", "[sim][trace]") {
  LanePacker p;
  // [0,2) and [1,3) overlap -> lanes 0 and 1; [2,4) starts when lane 0 ends -> lane 0;
  // [2.5,3) overlaps [1,3) and [2,4) -> lane 2 (lane 1 ends at 3 > 2.5).
  CHECK(p.place(0.0, 2.0) == 0);
  CHECK(p.place(1.0, 3.0) == 1);
  CHECK(p.place(2.0, 4.0) == 0);
  CHECK(p.place(2.5, 3.0) == 2);
  CHECK(p.place(3.0, 5.0) == 1);
  CHECK(p.lanes() == 3);
}

TEST_CASE("lanes: as many lanes as the maximum overlap, none overlapping inside a lane", "[sim][trace]") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> start(0.0, 100.0), length(0.0, 10.0);
  std::vector<std::pair<double, double>> iv(500);
  for (auto& [s, e] : iv) {
    s = start(rng);
    e = s + length(rng);
  }
  std::sort(iv.begin(), iv.end());
  // Oracle: the maximum number of intervals open at one start time (an interval
  // ending exactly at a start does not count), a lower bound on any lane count.
  int max_open = 0;
  for (const auto& [s, e] : iv) {
    int open = 0;
    for (const auto& [s2, e2] : iv) open += (s2 <= s && e2 > s) ? 1 : 0;
    max_open = std::max(max_open, open);
  }
  LanePacker p;
  std::vector<std::vector<std::pair<double, double>>> lanes;
  for (const auto& [s, e] : iv) {
    const auto lane = static_cast<std::size_t>(p.place(s, e));
    if (lanes.size() <= lane) lanes.resize(lane + 1);
    if (!lanes[lane].empty()) CHECK(lanes[lane].back().second <= s);
    lanes[lane].emplace_back(s, e);
  }
  CHECK(p.lanes() == max_open);
  CHECK(max_open > 1);
}
