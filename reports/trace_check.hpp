#pragma once
// Checks a Chrome trace (the JSON that chrome://tracing and ui.perfetto.dev
// open), as `simulate --trace` and `collective --trace` write it.
//
// Accepted forms: a JSON array of events, or an object whose `traceEvents` is
// one. Times `ts` and `dur` are microseconds (the format's unit whatever
// `displayTimeUnit` says). A track is one (pid, tid) pair.
//
// Checks, each failure one message in `errors`:
//  - well-formed events: an object with a known `ph`; `name` a string (E may
//    omit it); integer `pid` and `tid`; finite `ts` >= 0 (not needed on M
//    metadata); X events carry a finite `dur` >= 0; B/E pairs match per track
//    and an E never ends before its B; async b/e pairs match by (pid, cat, id, name);
//  - monotonic timestamps per track: the complete (X) events of one track
//    appear in the file in non-decreasing `ts`, and two of them either nest
//    (the later ends no later than the earlier) or do not overlap, as the
//    viewers require of slices on one track;
//  - durations that add up: the trace's span, from the earliest start to the
//    latest end of any timed event, equals `expected_total_s` (the step or
//    collective time the result JSON reports) within the tolerance, and no
//    track is busy (union of its complete events) longer than the span.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace switchsim::reports {

struct TraceCheckOptions {
  std::optional<double> expected_total_s;
  double relative_tolerance = 1e-6;
  double absolute_tolerance_us = 1e-3;  // 1 ns: traces print microseconds with fractions
  std::size_t max_errors = 20;          // further errors are counted, not described
  // Complete events of one track must nest or not overlap. Switch off only to
  // check the rest of a trace whose tracks are known to hold concurrent slices.
  bool require_nesting = true;
};

struct TraceTrack {
  std::int64_t pid = 0;
  std::int64_t tid = 0;
  std::string name;  // from thread_name metadata, when present
  std::size_t complete_events = 0;
  double busy_us = 0.0;  // union of the track's complete events
};

struct TraceCheckResult {
  std::vector<std::string> errors;
  std::size_t error_count = 0;  // including those beyond max_errors
  std::size_t events = 0;
  std::size_t complete_events = 0;
  double start_us = 0.0;  // earliest ts of a timed event
  double end_us = 0.0;    // latest ts (+ dur) of a timed event
  std::vector<TraceTrack> tracks;  // ordered by (pid, tid)
  [[nodiscard]] bool ok() const noexcept { return error_count == 0; }
  [[nodiscard]] double span_s() const noexcept { return (end_us - start_us) * 1e-6; }
  // All errors on one line each, with "... and N more" when some were left out.
  [[nodiscard]] std::string describe() const;
};

[[nodiscard]] TraceCheckResult check_chrome_trace(const json& trace, const TraceCheckOptions& options = {});

// Reads and checks a trace file; an unreadable or malformed file is reported
// in `errors` like any other defect (no exception).
[[nodiscard]] TraceCheckResult check_chrome_trace_file(const std::filesystem::path& path,
                                                       const TraceCheckOptions& options = {});

}  // namespace switchsim::reports
