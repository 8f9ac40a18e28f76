#include "sim/chrome_trace.hpp"

#include <algorithm>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"

namespace switchsim::sim {

TrackId TraceWriter::add_track(const std::string& name, const std::string& group) {
  auto it = std::find(groups_.begin(), groups_.end(), group);
  const auto pid = static_cast<std::int32_t>(it - groups_.begin());
  if (it == groups_.end()) groups_.push_back(group);
  const auto id = static_cast<TrackId>(tracks_.size());
  tracks_.push_back(Track{name, pid, id});
  return id;
}

TrackId TraceWriter::add_counter_track(const std::string& name, const std::string& group) {
  const TrackId id = add_track(name, group);
  tracks_[static_cast<std::size_t>(id)].counter = true;
  return id;
}

void TraceWriter::add_counter(TrackId track, double time_s, double value) {
  SWITCHSIM_ASSERT(track >= 0 && track < num_tracks() && tracks_[static_cast<std::size_t>(track)].counter,
                   "unknown counter track");
  counters_.push_back(CounterSample{track, time_s, value});
}

void TraceWriter::add_complete(TrackId track, const std::string& category, const std::string& name,
                               double start_s, double dur_s, json args) {
  SWITCHSIM_ASSERT(track >= 0 && track < num_tracks(), "unknown trace track");
  events_.push_back(Event{track, category, name, start_s, std::max(0.0, dur_s), std::move(args)});
}

json TraceWriter::to_json() const {
  json events = json::array();
  for (std::size_t pid = 0; pid < groups_.size(); ++pid) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"tid", 0},
                      {"args", {{"name", groups_[pid]}}}});
  }
  for (const Track& t : tracks_) {
    if (t.counter) continue;  // a counter is named by its events
    events.push_back(
        {{"ph", "M"}, {"name", "thread_name"}, {"pid", t.pid}, {"tid", t.tid}, {"args", {{"name", t.name}}}});
    events.push_back({{"ph", "M"},
                      {"name", "thread_sort_index"},
                      {"pid", t.pid},
                      {"tid", t.tid},
                      {"args", {{"sort_index", t.tid}}}});
  }
  for (const Event& e : events_) {
    const Track& t = tracks_[static_cast<std::size_t>(e.track)];
    json j = {{"ph", "X"},        {"cat", e.category}, {"name", e.name}, {"pid", t.pid},
              {"tid", t.tid},     {"ts", e.start_s * 1e6}, {"dur", e.dur_s * 1e6}};
    if (!e.args.is_null()) j["args"] = e.args;
    events.push_back(std::move(j));
  }
  for (const CounterSample& c : counters_) {
    const Track& t = tracks_[static_cast<std::size_t>(c.track)];
    events.push_back({{"ph", "C"}, {"name", t.name}, {"pid", t.pid}, {"ts", c.time_s * 1e6},
                      {"args", {{"value", c.value}}}});
  }
  return json{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ns"}};
}

void TraceWriter::write(const std::filesystem::path& path) const {
  write_file_atomically(path, to_json().dump() + "\n");
}

}  // namespace switchsim::sim
