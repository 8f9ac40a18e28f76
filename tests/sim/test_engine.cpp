#include <catch2/catch.hpp>

#include <vector>

#include "sim/engine.hpp"

using switchsim::sim::Engine;

TEST_CASE("engine: events run in (time, scheduling order)", "[sim][engine]") {
  Engine engine;
  std::vector<int> order;
  // Three events at t = 2 scheduled as 1, 2, 3 must run as 1, 2, 3; the event
  // at t = 1 runs first and schedules one more at t = 2, which runs last (4).
  engine.schedule_at(2.0, [&](Engine&) { order.push_back(1); });
  engine.schedule_at(2.0, [&](Engine&) { order.push_back(2); });
  engine.schedule_at(1.0, [&](Engine& e) {
    order.push_back(0);
    e.schedule_after(1.0, [&](Engine&) { order.push_back(4); });
  });
  engine.schedule_at(2.0, [&](Engine&) { order.push_back(3); });
  const auto n = engine.run();
  CHECK(n == 5);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(engine.now_s() == 2.0);
  CHECK(engine.idle());
}

TEST_CASE("engine: run(until) stops before later events", "[sim][engine]") {
  Engine engine;
  int ran = 0;
  engine.schedule_at(1.0, [&](Engine&) { ++ran; });
  engine.schedule_at(3.0, [&](Engine&) { ++ran; });
  CHECK(engine.run(2.0) == 1);
  CHECK(ran == 1);
  CHECK(!engine.idle());
  CHECK(engine.run() == 1);
  CHECK(engine.now_s() == 3.0);
}
