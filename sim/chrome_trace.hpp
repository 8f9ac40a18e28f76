#pragma once
// Chrome / Perfetto trace writer shared by the collective and step simulations.
//
// Output format (Chrome "Trace Event Format", opens in ui.perfetto.dev and
// chrome://tracing):
//   {"traceEvents": [ ... ], "displayTimeUnit": "ns"}
// with one `ph:"X"` (complete) event per interval, `ts`/`dur` in microseconds
// (the format's unit; simulated seconds * 1e6), and `ph:"M"` metadata events
// naming processes (`process_name`) and threads (`thread_name`). A *track* is
// one (process, thread) pair: a group (process) holds several tracks (threads),
// e.g. group "devices" with one track per device, or group "gpu3" with tracks
// "compute" and "network".

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace switchsim::sim {

using TrackId = std::int32_t;

class TraceWriter {
 public:
  // Adds a track named `name` inside group `group` (created on first use).
  // Tracks appear in the order they were added.
  TrackId add_track(const std::string& name, const std::string& group = "switchsim");

  // One interval on `track`: [start_s, start_s + dur_s) in simulated seconds.
  // `args` (a JSON object or null) is shown when the event is selected.
  void add_complete(TrackId track, const std::string& category, const std::string& name, double start_s,
                    double dur_s, json args = nullptr);

  // A counter track (`ph:"C"` events: a value that holds until the next sample),
  // e.g. a link's utilisation; shown as a graph in the group's process.
  TrackId add_counter_track(const std::string& name, const std::string& group = "switchsim");
  void add_counter(TrackId track, double time_s, double value);

  [[nodiscard]] std::int64_t num_events() const { return static_cast<std::int64_t>(events_.size()); }
  [[nodiscard]] std::int32_t num_tracks() const { return static_cast<std::int32_t>(tracks_.size()); }

  // The whole trace as JSON (metadata events first, then intervals in the
  // order they were added).
  [[nodiscard]] json to_json() const;
  // Writes the trace atomically (InputError(field, ...) when it cannot).
  void write(const std::filesystem::path& path) const;

 private:
  struct Track {
    std::string name;
    std::int32_t pid = 0;
    std::int32_t tid = 0;
    bool counter = false;
  };
  struct CounterSample {
    TrackId track = 0;
    double time_s = 0.0;
    double value = 0.0;
  };
  std::vector<CounterSample> counters_;
  struct Event {
    TrackId track = 0;
    std::string category;
    std::string name;
    double start_s = 0.0;
    double dur_s = 0.0;
    json args;
  };
  std::vector<std::string> groups_;  // index = pid
  std::vector<Track> tracks_;
  std::vector<Event> events_;
};

}  // namespace switchsim::sim
