#include "reports/trace_check.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

namespace switchsim::reports {

namespace {

struct TrackState {
  TraceTrack track;
  bool have_last = false;
  double last_ts = 0.0;
  std::vector<double> open_ends;       // ends of enclosing complete events (a nesting stack)
  std::vector<double> b_stack;         // starts of open B events
  double covered_until = -1.0;         // busy-time union: end of the current top-level run
  double run_start = 0.0;
};

class Checker {
 public:
  explicit Checker(const TraceCheckOptions& options) : options_(options) {}

  void error(const std::string& message) {
    ++result_.error_count;
    if (result_.errors.size() < options_.max_errors) result_.errors.push_back(message);
  }

  void run(const json& trace) {
    const json* events = &trace;
    if (trace.is_object()) {
      const auto it = trace.find("traceEvents");
      if (it == trace.end() || !it->is_array()) {
        error("the trace object has no traceEvents array");
        return;
      }
      events = &*it;
    } else if (!trace.is_array()) {
      error("a trace is a JSON array of events or an object with traceEvents");
      return;
    }
    result_.events = events->size();
    for (std::size_t i = 0; i < events->size(); ++i) event(i, (*events)[i]);
    finish();
  }

  TraceCheckResult take() { return std::move(result_); }

 private:
  static bool integer(const json& e, const char* key, std::int64_t& out) {
    const auto it = e.find(key);
    if (it == e.end() || !it->is_number_integer()) return false;
    out = it->get<std::int64_t>();
    return true;
  }

  bool time_field(const json& e, const char* key, const std::string& where, double& out) {
    const auto it = e.find(key);
    if (it == e.end() || !it->is_number()) {
      error(where + ": `" + key + "` missing or not a number");
      return false;
    }
    out = it->get<double>();
    if (!std::isfinite(out) || out < 0.0) {
      error(where + ": `" + key + "` must be finite and >= 0");
      return false;
    }
    return true;
  }

  void extend_span(double start, double end) {
    if (!have_span_) {
      result_.start_us = start;
      result_.end_us = end;
      have_span_ = true;
    } else {
      result_.start_us = std::min(result_.start_us, start);
      result_.end_us = std::max(result_.end_us, end);
    }
  }

  void event(std::size_t i, const json& e) {
    std::string where = fmt::format("event {}", i);
    if (!e.is_object()) {
      error(where + ": not a JSON object");
      return;
    }
    const auto ph_it = e.find("ph");
    if (ph_it == e.end() || !ph_it->is_string() || ph_it->get<std::string>().size() != 1) {
      error(where + ": `ph` missing or not a one-letter string");
      return;
    }
    const char ph = ph_it->get<std::string>()[0];
    static const std::string kKnown = "XBEbenIiCMstfPOND";
    if (kKnown.find(ph) == std::string::npos) {
      error(where + ": unknown phase `" + std::string(1, ph) + "`");
      return;
    }
    const auto name_it = e.find("name");
    const bool has_name = name_it != e.end() && name_it->is_string();
    if (!has_name && ph != 'E') {
      error(where + ": `name` missing or not a string");
      return;
    }
    if (has_name) where += " '" + name_it->get<std::string>().substr(0, 60) + "'";
    std::int64_t pid = 0;
    std::int64_t tid = 0;
    if (!integer(e, "pid", pid)) {
      error(where + ": `pid` missing or not an integer");
      return;
    }
    const bool has_tid = integer(e, "tid", tid);
    if (!has_tid && ph != 'M' && ph != 'C' && ph != 'b' && ph != 'e' && ph != 'n') {
      error(where + ": `tid` missing or not an integer");
      return;
    }
    if (ph == 'M') {
      if (has_name && name_it->get<std::string>() == "thread_name" && has_tid) {
        const auto args = e.find("args");
        if (args != e.end() && args->is_object() && args->contains("name") && (*args)["name"].is_string()) {
          state(pid, tid).track.name = (*args)["name"].get<std::string>();
        }
      }
      return;
    }
    double ts = 0.0;
    if (!time_field(e, "ts", where, ts)) return;
    switch (ph) {
      case 'X': complete(where, state(pid, tid), e, ts); break;
      case 'B':
        state(pid, tid).b_stack.push_back(ts);
        extend_span(ts, ts);
        break;
      case 'E': {
        TrackState& s = state(pid, tid);
        if (s.b_stack.empty()) {
          error(where + fmt::format(": E without a matching B on track pid {} tid {}", pid, tid));
        } else {
          if (ts < s.b_stack.back()) error(where + fmt::format(": E at {} us ends before its B at {} us", ts, s.b_stack.back()));
          s.b_stack.pop_back();
        }
        extend_span(ts, ts);
        break;
      }
      case 'b':
      case 'e': {
        const auto id = e.find("id");
        const auto cat = e.find("cat");
        if (id == e.end()) {
          error(where + ": async event without `id`");
          break;
        }
        const auto key = std::make_tuple(pid, cat == e.end() ? std::string() : cat->dump(), id->dump(),
                                         has_name ? name_it->get<std::string>() : std::string());
        if (ph == 'b') {
          async_open_[key].push_back(ts);
        } else {
          auto it = async_open_.find(key);
          if (it == async_open_.end() || it->second.empty()) {
            error(where + ": async end `e` without a matching begin `b`");
          } else {
            if (ts < it->second.back()) error(where + fmt::format(": async end at {} us before its begin at {} us", ts, it->second.back()));
            it->second.pop_back();
          }
        }
        extend_span(ts, ts);
        break;
      }
      default: extend_span(ts, ts); break;
    }
  }

  void complete(const std::string& where, TrackState& s, const json& e, double ts) {
    double dur = 0.0;
    if (!time_field(e, "dur", where, dur)) return;
    const double end = ts + dur;
    ++result_.complete_events;
    ++s.track.complete_events;
    extend_span(ts, end);
    if (s.have_last && ts < s.last_ts) {
      error(where + fmt::format(": ts {} us is before the previous complete event's {} us on track pid {} tid {}", ts,
                                s.last_ts, s.track.pid, s.track.tid));
    }
    s.have_last = true;
    s.last_ts = std::max(s.last_ts, ts);
    // An event that starts where the previous one ends (up to rounding of ts + dur) follows it.
    while (!s.open_ends.empty() && s.open_ends.back() <= ts + tolerance_us(ts)) s.open_ends.pop_back();
    if (options_.require_nesting && !s.open_ends.empty() && end > s.open_ends.back() + tolerance_us(end)) {
      error(where + fmt::format(": [{}, {}] us overlaps an enclosing event ending at {} us on track pid {} tid {} "
                                "without nesting in it",
                                ts, end, s.open_ends.back(), s.track.pid, s.track.tid));
    }
    s.open_ends.push_back(end);
    // Busy time: union of intervals arriving in start order.
    if (s.covered_until < 0.0 || ts > s.covered_until) {
      if (s.covered_until >= 0.0) s.track.busy_us += s.covered_until - s.run_start;
      s.run_start = ts;
      s.covered_until = end;
    } else {
      s.covered_until = std::max(s.covered_until, end);
    }
  }

  double tolerance_us(double magnitude_us) const {
    return options_.absolute_tolerance_us + options_.relative_tolerance * std::fabs(magnitude_us);
  }

  TrackState& state(std::int64_t pid, std::int64_t tid) {
    auto [it, inserted] = tracks_.try_emplace({pid, tid});
    if (inserted) {
      it->second.track.pid = pid;
      it->second.track.tid = tid;
    }
    return it->second;
  }

  void finish() {
    const double span_us = result_.end_us - result_.start_us;
    for (auto& [key, s] : tracks_) {
      if (s.covered_until >= 0.0) s.track.busy_us += s.covered_until - s.run_start;
      if (!s.b_stack.empty()) error(fmt::format("track pid {} tid {}: {} B event(s) never ended", key.first, key.second, s.b_stack.size()));
      if (s.track.busy_us > span_us + tolerance_us(span_us)) {
        error(fmt::format("track pid {} tid {}: busy {} us, longer than the trace's span {} us", key.first, key.second,
                          s.track.busy_us, span_us));
      }
      if (s.track.complete_events > 0 || !s.track.name.empty()) result_.tracks.push_back(s.track);
    }
    for (const auto& [key, open] : async_open_) {
      if (!open.empty()) error(fmt::format("async event '{}' id {}: {} begin(s) never ended", std::get<3>(key), std::get<2>(key), open.size()));
    }
    if (options_.expected_total_s) {
      const double expected_us = *options_.expected_total_s * 1e6;
      if (!have_span_) {
        error(fmt::format("the trace has no timed events, but the reported total is {} s", *options_.expected_total_s));
      } else if (std::fabs(span_us - expected_us) > tolerance_us(expected_us)) {
        error(fmt::format("the trace spans {} us (from {} to {} us), but the reported total is {} us", span_us,
                          result_.start_us, result_.end_us, expected_us));
      }
    }
  }

  const TraceCheckOptions& options_;
  TraceCheckResult result_;
  bool have_span_ = false;
  std::map<std::pair<std::int64_t, std::int64_t>, TrackState> tracks_;
  std::map<std::tuple<std::int64_t, std::string, std::string, std::string>, std::vector<double>> async_open_;
};

}  // namespace

std::string TraceCheckResult::describe() const {
  std::string text;
  for (const auto& e : errors) text += e + "\n";
  if (error_count > errors.size()) text += fmt::format("... and {} more\n", error_count - errors.size());
  return text;
}

TraceCheckResult check_chrome_trace(const json& trace, const TraceCheckOptions& options) {
  Checker checker(options);
  checker.run(trace);
  return checker.take();
}

TraceCheckResult check_chrome_trace_file(const std::filesystem::path& path, const TraceCheckOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    TraceCheckResult r;
    r.errors.push_back("cannot open '" + path.string() + "'");
    r.error_count = 1;
    return r;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  json trace;
  try {
    trace = json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    TraceCheckResult r;
    r.errors.push_back("'" + path.string() + "' is not valid JSON (byte " + std::to_string(e.byte) + ")");
    r.error_count = 1;
    return r;
  }
  return check_chrome_trace(trace, options);
}

}  // namespace switchsim::reports
