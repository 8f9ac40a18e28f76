#include <catch2/catch.hpp>

#include "sim/chrome_trace.hpp"

using switchsim::sim::TraceWriter;

TEST_CASE("chrome trace: metadata names tracks, intervals are in microseconds", "[sim][trace]") {
  TraceWriter trace;
  const auto a = trace.add_track("gpu0", "devices");
  const auto b = trace.add_track("gpu1", "devices");
  const auto c = trace.add_track("compute", "gpu0");
  trace.add_complete(b, "network", "send", 1.5e-6, 2e-6, {{"bytes", 64}});
  trace.add_complete(c, "compute", "matmul", 0.0, 1.0);
  const auto j = trace.to_json();
  REQUIRE(j.at("displayTimeUnit") == "ns");
  const auto& ev = j.at("traceEvents");
  // 2 process_name + 3 x (thread_name + thread_sort_index) + 2 intervals = 10 events.
  REQUIRE(ev.size() == 10);
  int x_events = 0;
  for (const auto& e : ev) {
    if (e.at("ph") != "X") continue;
    ++x_events;
    if (e.at("name") == "send") {
      // Track b is the 2nd thread of the first group: pid 0, tid 1; 1.5e-6 s = 1.5 us.
      CHECK(e.at("pid") == 0);
      CHECK(e.at("tid") == b);
      CHECK(e.at("ts").get<double>() == Approx(1.5));
      CHECK(e.at("dur").get<double>() == Approx(2.0));
      CHECK(e.at("args").at("bytes") == 64);
    } else {
      // Track c is in the second group: pid 1; 1 s = 1e6 us.
      CHECK(e.at("pid") == 1);
      CHECK(e.at("dur").get<double>() == Approx(1e6));
    }
  }
  CHECK(x_events == 2);
  CHECK(a == 0);
}
