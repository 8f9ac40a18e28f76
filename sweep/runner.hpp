#pragma once
// Runs a sweep's points into an output folder, resumably (docs/sweep.md):
//
//   DIR/spec.json          the spec as read and the tool's provenance (written first)
//   DIR/points/<id>.json   one file per finished point, written atomically as it
//                          finishes (a kill loses only the points in flight)
//   DIR/results.jsonl      every point's line, sorted by id (merged at the end)
//   DIR/results.csv        the headline figures, one row per point (capacity: per factor)
//
// The points run on a pool of threads that take the next point as they free up
// (points differ in cost by orders of magnitude: no static split). Each line
// depends only on its point, so the results are identical for any thread count
// (or MPI rank count, mpi_runner.hpp).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "common/json_io.hpp"
#include "sweep/run_point.hpp"
#include "sweep/spec.hpp"

namespace switchsim::sweep {

struct SweepProgress {
  std::int64_t done = 0;     // finished this run (ok or failed)
  std::int64_t failed = 0;   // of which failed
  std::int64_t todo = 0;     // to run this run
  std::int64_t skipped = 0;  // finished before (--resume)
  double elapsed_s = 0.0;
  // Counts one finished point (its JSON line: failed when it has "error") at `elapsed_s`.
  void count(const nlohmann::ordered_json& line, double elapsed) {
    ++done;
    if (line.contains("error")) ++failed;
    elapsed_s = elapsed;
  }
};
using ProgressCallback = std::function<void(const SweepProgress&)>;

// The output folder of one sweep.
class SweepDir {
 public:
  // Checks the folder before anything is written: without `resume` it must not
  // hold a sweep (InputError "--out"); with `resume` it must hold this same spec
  // (InputError "--resume"). Writes nothing.
  SweepDir(std::filesystem::path dir, json spec_doc, bool resume);

  // The ids of `points` without a finished file (all of them on a fresh folder);
  // a finished file whose inputs differ from its point's is an InputError("--resume").
  [[nodiscard]] std::vector<std::int64_t> pending(const std::vector<Point>& points) const;
  // Creates the folder and writes spec.json (first thing written).
  void create() const;
  // Writes DIR/points/<id>.json atomically. Thread-safe (one file per id).
  void record(const json& line) const;
  // Reads every point's file and writes results.jsonl and results.csv atomically.
  // Returns {ok, failed} counts.
  std::pair<std::int64_t, std::int64_t> merge(const std::vector<Point>& points, Command command) const;

  [[nodiscard]] const std::filesystem::path& path() const { return dir_; }

 private:
  [[nodiscard]] std::filesystem::path point_file(std::int64_t id) const;
  std::filesystem::path dir_;
  json spec_doc_;
};

// Runs points[ids] on `threads` threads (0: one per core), recording each line
// through `dir.record` as it finishes. `progress` (optional) is called from the
// worker threads, serialized, after each point.
void run_threads(const std::vector<Point>& points, const std::vector<std::int64_t>& ids, Command command,
                 const PointOptions& options, int threads, const SweepDir& dir, const ProgressCallback& progress,
                 std::int64_t skipped);

// The CSV of the merged lines (exposed for tests): id, what_if, each input key
// whose value varies, status, the headline figures, error.
[[nodiscard]] std::string results_csv(const std::vector<json>& lines, Command command);

}  // namespace switchsim::sweep
