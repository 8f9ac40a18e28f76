#include <catch2/catch.hpp>

#include "reports/trace_check.hpp"

using namespace switchsim;
using namespace switchsim::reports;

namespace {

// Two devices, each with a compute track (tid 0) and a communication track
// (tid 1), as `simulate --trace` writes them. Device 0 computes 0..100 us,
// sends 100..150 us, computes 150..250 us; device 1 computes 0..120 us, sends
// 120..150, computes 150..240. The step spans 0..250 us = 250e-6 s.
json good_trace() {
  return json::parse(R"({"traceEvents": [
    {"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "device 0"}},
    {"ph": "M", "name": "thread_name", "pid": 0, "tid": 0, "args": {"name": "compute"}},
    {"ph": "X", "name": "forward", "pid": 0, "tid": 0, "ts": 0, "dur": 100},
    {"ph": "X", "name": "attention", "pid": 0, "tid": 0, "ts": 0, "dur": 40},
    {"ph": "X", "name": "ffn", "pid": 0, "tid": 0, "ts": 40, "dur": 60},
    {"ph": "X", "name": "all-to-all", "pid": 0, "tid": 1, "ts": 100, "dur": 50},
    {"ph": "X", "name": "backward", "pid": 0, "tid": 0, "ts": 150, "dur": 100},
    {"ph": "X", "name": "forward", "pid": 1, "tid": 0, "ts": 0, "dur": 120},
    {"ph": "X", "name": "all-to-all", "pid": 1, "tid": 1, "ts": 120, "dur": 30},
    {"ph": "X", "name": "backward", "pid": 1, "tid": 0, "ts": 150, "dur": 90},
    {"ph": "B", "name": "optimizer", "pid": 1, "tid": 2, "ts": 240},
    {"ph": "E", "pid": 1, "tid": 2, "ts": 245},
    {"ph": "b", "name": "flow 0->1", "cat": "net", "id": 7, "pid": 0, "ts": 100},
    {"ph": "e", "name": "flow 0->1", "cat": "net", "id": 7, "pid": 0, "ts": 150}
  ], "displayTimeUnit": "ns"})");
}

json event_list(const std::string& events) { return json::parse("[" + events + "]"); }

bool mentions(const TraceCheckResult& r, const std::string& text) {
  for (const auto& e : r.errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a well-formed trace passes, with its span and per-track busy time", "[reports][trace]") {
  TraceCheckOptions options;
  options.expected_total_s = 250e-6;
  const TraceCheckResult r = check_chrome_trace(good_trace(), options);
  INFO(r.describe());
  CHECK(r.ok());
  CHECK(r.events == 14);
  CHECK(r.complete_events == 8);
  CHECK(r.span_s() == Approx(250e-6));
  // Tracks (pid, tid): (0,0) (0,1) (1,0) (1,1); the B/E track (1,2) has no complete event.
  REQUIRE(r.tracks.size() == 4);
  CHECK(r.tracks[0].name == "compute");
  // Device 0 compute: [0,100] with nested children, then [150,250]: busy 200 us.
  CHECK(r.tracks[0].busy_us == Approx(200.0));
  // Device 1 compute: [0,120] + [150,240] = 210 us.
  CHECK(r.tracks[2].busy_us == Approx(210.0));
}

TEST_CASE("a span that differs from the reported total is an error", "[reports][trace]") {
  TraceCheckOptions options;
  options.expected_total_s = 260e-6;  // the trace spans 250 us
  const TraceCheckResult r = check_chrome_trace(good_trace(), options);
  CHECK(!r.ok());
  CHECK(mentions(r, "spans 250 us"));
  options.expected_total_s = 250e-6 * (1.0 + 1e-7);  // within the 1e-6 relative tolerance
  CHECK(check_chrome_trace(good_trace(), options).ok());
}

TEST_CASE("complete events out of order on one track are an error", "[reports][trace]") {
  const auto r = check_chrome_trace(event_list(R"(
    {"ph": "X", "name": "b", "pid": 0, "tid": 0, "ts": 50, "dur": 10},
    {"ph": "X", "name": "a", "pid": 0, "tid": 0, "ts": 10, "dur": 10},
    {"ph": "X", "name": "c", "pid": 0, "tid": 1, "ts": 0, "dur": 10})"));
  CHECK(!r.ok());
  CHECK(r.error_count == 1);  // tid 1 is its own track and starts earlier legitimately
  CHECK(mentions(r, "before the previous complete event"));
}

TEST_CASE("partially overlapping events on one track are an error, nested ones are fine", "[reports][trace]") {
  const auto nested = check_chrome_trace(event_list(R"(
    {"ph": "X", "name": "outer", "pid": 0, "tid": 0, "ts": 0, "dur": 100},
    {"ph": "X", "name": "inner", "pid": 0, "tid": 0, "ts": 10, "dur": 90})"));
  CHECK(nested.ok());
  const auto overlap = check_chrome_trace(event_list(R"(
    {"ph": "X", "name": "one", "pid": 0, "tid": 0, "ts": 0, "dur": 100},
    {"ph": "X", "name": "two", "pid": 0, "tid": 0, "ts": 50, "dur": 100})"));
  CHECK(!overlap.ok());
  CHECK(mentions(overlap, "without nesting"));
}

TEST_CASE("malformed events are reported one by one", "[reports][trace]") {
  const auto r = check_chrome_trace(event_list(R"(
    {"ph": "X", "name": "no dur", "pid": 0, "tid": 0, "ts": 0},
    {"ph": "X", "name": "negative", "pid": 0, "tid": 0, "ts": -5, "dur": 1},
    {"ph": "Q", "name": "unknown phase", "pid": 0, "tid": 0, "ts": 0},
    {"ph": "X", "pid": 0, "tid": 0, "ts": 0, "dur": 1},
    {"ph": "X", "name": "string pid", "pid": "0", "tid": 0, "ts": 0, "dur": 1},
    {"ph": "E", "pid": 0, "tid": 5, "ts": 3},
    {"ph": "B", "name": "never ends", "pid": 0, "tid": 6, "ts": 3},
    {"ph": "e", "name": "async", "cat": "net", "id": 1, "pid": 0, "ts": 3},
    42)"));
  CHECK(r.error_count == 9);
  CHECK(mentions(r, "`dur` missing"));
  CHECK(mentions(r, "`ts` must be finite and >= 0"));
  CHECK(mentions(r, "unknown phase `Q`"));
  CHECK(mentions(r, "`name` missing"));
  CHECK(mentions(r, "`pid` missing or not an integer"));
  CHECK(mentions(r, "E without a matching B"));
  CHECK(mentions(r, "never ended"));
  CHECK(mentions(r, "without a matching begin"));
  CHECK(mentions(r, "event 8: not a JSON object"));
}

TEST_CASE("a document that is not a trace, or has no timed events for a total, fails", "[reports][trace]") {
  CHECK(!check_chrome_trace(json::parse(R"({"events": []})")).ok());
  CHECK(!check_chrome_trace(json::parse("3")).ok());
  TraceCheckOptions options;
  options.expected_total_s = 1.0;
  CHECK(!check_chrome_trace(json::array(), options).ok());
  CHECK(check_chrome_trace(json::array()).ok());  // empty and nothing claimed: fine
  const auto missing = check_chrome_trace_file("/nonexistent/trace.json");
  CHECK(!missing.ok());
  CHECK(mentions(missing, "cannot open"));
}

TEST_CASE("error messages stop at max_errors but every error is counted", "[reports][trace]") {
  json events = json::array();
  for (int i = 0; i < 50; ++i) events.push_back(json{{"ph", "X"}, {"name", "x"}, {"pid", 0}, {"tid", 0}, {"ts", 100 - i}, {"dur", 0}});
  const auto r = check_chrome_trace(events);
  CHECK(r.error_count == 49);  // every event after the first goes back in time
  CHECK(r.errors.size() == 20);
  CHECK(r.describe().find("... and 29 more") != std::string::npos);
}
