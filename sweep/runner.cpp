#include "sweep/runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"

namespace switchsim::sweep {
namespace fs = std::filesystem;
namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A finished point's line, or null when the file is absent or unreadable (then it runs again).
json read_line(const fs::path& p) {
  if (!fs::exists(p)) return nullptr;
  try {
    json j = json::parse(read_text(p));
    if (j.is_object() && j.contains("id") && j.contains("inputs")) return j;
  } catch (const json::exception&) {
  }
  return nullptr;
}

std::string csv_field(std::string s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_field(v.get<std::string>());
  return csv_field(v.dump());
}

// The CSV figures of a recommend result: its best recommendation's, the layout as text.
json recommend_headline(const json& result) {
  json h = json::object();
  const json& recs = result.value("recommendations", json::array());
  if (recs.empty()) {
    h["fits_memory"] = false;
    return h;
  }
  const json& r = recs.front();
  for (const char* k : {"step_time_s", "tokens_per_s", "mfu", "mode", "capacity_factor", "zero", "drop_fraction",
                        "memory_per_device_bytes"}) {
    h[k] = r.value(k, json());
  }
  h["layout"] = r.value("layout", json::object()).value("text", std::string());
  h["fits_memory"] = r.value("memory", json::object()).value("fits", true);
  return h;
}

}  // namespace

SweepDir::SweepDir(fs::path dir, json spec_doc, bool resume) : dir_(std::move(dir)), spec_doc_(std::move(spec_doc)) {
  if (dir_.empty()) throw InputError("--out", "must name a folder");
  const bool holds = fs::exists(dir_ / "spec.json") || fs::exists(dir_ / "points");
  if (fs::exists(dir_) && !fs::is_directory(dir_)) throw InputError("--out", "'" + dir_.string() + "' is not a folder");
  if (!resume) {
    if (holds) {
      throw InputError("--out", "'" + dir_.string() + "' holds a sweep already: --resume to finish it, or another folder");
    }
    return;
  }
  if (!holds) throw InputError("--resume", "'" + dir_.string() + "' holds no sweep to resume");
  json recorded;
  try {
    recorded = json::parse(read_text(dir_ / "spec.json"));
  } catch (const json::exception&) {
    throw InputError("--resume", "'" + (dir_ / "spec.json").string() + "' is not valid JSON");
  }
  if (!recorded.is_object() || !recorded.contains("spec") || recorded["spec"] != spec_doc_) {
    throw InputError("--resume", "'" + dir_.string() + "' was made by a different spec");
  }
}

fs::path SweepDir::point_file(std::int64_t id) const { return dir_ / "points" / fmt::format("{:08d}.json", id); }

std::vector<std::int64_t> SweepDir::pending(const std::vector<Point>& points) const {
  std::vector<std::int64_t> ids;
  for (const Point& p : points) {
    const json line = read_line(point_file(p.id));
    if (line.is_null()) {
      ids.push_back(p.id);
    } else if (line["inputs"] != p.inputs || line["id"] != p.id) {
      throw InputError("--resume", fmt::format("'{}' holds other inputs than point {} of the spec",
                                               point_file(p.id).string(), p.id));
    }
  }
  return ids;
}

void SweepDir::create() const {
  std::error_code ec;
  fs::create_directories(dir_ / "points", ec);
  if (ec) throw InputError("--out", "cannot create '" + (dir_ / "points").string() + "': " + ec.message());
  if (!fs::exists(dir_ / "spec.json")) {
    json j;
    j["schema_version"] = kSchemaVersion;
    j["command"] = "sweep";
    j["spec"] = spec_doc_;
    j["provenance"] = provenance();
    write_file_atomically(dir_ / "spec.json", dump_json(j));
  }
}

void SweepDir::record(const json& line) const {
  write_file_atomically(point_file(line.at("id").get<std::int64_t>()), line.dump() + "\n");
}

std::pair<std::int64_t, std::int64_t> SweepDir::merge(const std::vector<Point>& points, Command command) const {
  std::vector<json> lines;
  lines.reserve(points.size());
  std::string jsonl;
  std::int64_t failed = 0;
  for (const Point& p : points) {
    json line = read_line(point_file(p.id));
    SWITCHSIM_ASSERT(!line.is_null(), "merge before every point finished");
    if (line.contains("error")) ++failed;
    jsonl += line.dump();
    jsonl += '\n';
    lines.push_back(std::move(line));
  }
  write_file_atomically(dir_ / "results.jsonl", jsonl);
  write_file_atomically(dir_ / "results.csv", results_csv(lines, command));
  return {static_cast<std::int64_t>(lines.size()) - failed, failed};
}

void run_threads(const std::vector<Point>& points, const std::vector<std::int64_t>& ids, Command command,
                 const PointOptions& options, int threads, const SweepDir& dir, const ProgressCallback& progress,
                 std::int64_t skipped) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), std::max<std::size_t>(ids.size(), 1)));
  const auto start = std::chrono::steady_clock::now();
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  SweepProgress state;
  state.todo = static_cast<std::int64_t>(ids.size());
  state.skipped = skipped;
  std::exception_ptr failure;  // the first failure to record a point (a full disk): the sweep stops
  auto work = [&]() {
    try {
      for (std::size_t i = next++; i < ids.size(); i = next++) {
        const json line = run_point(points[static_cast<std::size_t>(ids[i])], command, options);
        dir.record(line);
        const std::lock_guard<std::mutex> lock(mutex);
        state.count(line, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (progress) progress(state);
      }
    } catch (...) {
      next = ids.size();  // the other threads stop after their point
      const std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

std::string results_csv(const std::vector<json>& lines, Command command) {
  // The input keys whose value is not the same on every point (in first-seen order).
  std::vector<std::string> varied;
  if (!lines.empty()) {
    std::vector<std::string> keys;
    for (const json& l : lines) {
      for (const auto& [key, value] : l["inputs"].items()) {
        if (key != "what_if" && std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
      }
    }
    for (const std::string& key : keys) {
      const json first = lines.front()["inputs"].value(key, json());
      for (const json& l : lines) {
        if (l["inputs"].value(key, json()) != first) {
          varied.push_back(key);
          break;
        }
      }
    }
  }
  const std::vector<std::string> headline =
      command == Command::recommend
          ? std::vector<std::string>{"step_time_s", "tokens_per_s", "mfu",           "layout",
                                     "mode",        "capacity_factor", "zero",       "drop_fraction",
                                     "memory_per_device_bytes", "fits_memory"}
          : std::vector<std::string>{"step_time_s", "tokens_per_s", "mfu", "drop_fraction",
                                     "memory_per_device_bytes", "fits_memory"};
  std::string out = "id,what_if";
  for (const std::string& k : varied) {
    out += ',';
    out += csv_field(k);
  }
  out += ",status";
  if (command == Command::capacity) out += ",row_capacity_factor";
  for (const std::string& h : headline) {
    out += ',';
    out += h;
  }
  out += ",error\n";
  for (const json& l : lines) {
    std::string prefix = l["id"].dump();
    prefix += ',';
    prefix += csv_field(l["inputs"]["what_if"].value("name", std::string()));
    for (const std::string& k : varied) {
      prefix += ',';
      prefix += csv_value(l["inputs"].value(k, json()));
    }
    if (l.contains("error")) {
      const json& e = l["error"];
      std::string msg = e.value("field", std::string());
      if (!msg.empty()) msg += ": ";
      msg += e.value("message", std::string());
      out += prefix;
      out += ",error";
      if (command == Command::capacity) out += ",";
      for (std::size_t i = 0; i < headline.size(); ++i) out += ",";
      out += ',';
      out += csv_field(msg);
      out += '\n';
      continue;
    }
    std::vector<const json*> rows;
    json best;  // recommend: the best layout's figures (none: nothing fits, fits_memory false)
    if (command == Command::capacity) {
      for (const json& r : l["result"]["rows"]) rows.push_back(&r);
    } else if (command == Command::recommend) {
      best = recommend_headline(l["result"]);
      rows.push_back(&best);
    } else {
      rows.push_back(&l["result"]);
    }
    for (const json* r : rows) {
      out += prefix;
      out += ",ok";
      if (command == Command::capacity) {
        out += ',';
        out += csv_value(r->value("capacity_factor", json()));
      }
      for (const std::string& h : headline) {
        out += ',';
        out += csv_value(r->value(h, json()));
      }
      out += ",\n";
    }
  }
  return out;
}

}  // namespace switchsim::sweep
