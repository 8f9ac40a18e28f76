// `switchsim sweep SPEC --out DIR [--threads N] [--resume] [--force] [--json]`:
// runs every point of a sweep spec (simulate, capacity or recommend points: sweep/spec.hpp,
// docs/sweep.md) on all cores,
// or under `mpirun -n N switchsim sweep ...` on N ranks (sweep/mpi_runner.hpp).
// Progress on stderr (points done / total, rate, ETA), none with --json.

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "common/errors.hpp"
#include "sweep/mpi_runner.hpp"
#include "sweep/runner.hpp"
#include "sweep/spec.hpp"

namespace switchsim::cli {
namespace {

struct Options {
  std::string spec;
  std::string out;
  int threads = 0;
  bool resume = false;
  bool force = false;
  bool json = false;
};

// "sweep: 12 of 50 points (1 failed), 3.1 points/s, ETA 12 s": at most one line a
// second, rewritten in place on a terminal.
class SweepProgressLine {
 public:
  explicit SweepProgressLine(bool enabled) : enabled_(enabled), terminal_(stderr_is_terminal()) {}
  void update(const sweep::SweepProgress& p) {
    if (!enabled_) return;
    const bool last = p.done == p.todo;
    if (!last && p.elapsed_s - printed_s_ < 1.0) return;
    printed_s_ = p.elapsed_s;
    const double rate = p.elapsed_s > 0.0 ? static_cast<double>(p.done) / p.elapsed_s : 0.0;
    const double eta = rate > 0.0 ? static_cast<double>(p.todo - p.done) / rate : 0.0;
    std::string text = fmt::format("sweep: {} of {} points", p.done + p.skipped, p.todo + p.skipped);
    if (p.skipped > 0) text += fmt::format(" ({} resumed)", p.skipped);
    if (p.failed > 0) text += fmt::format(", {} failed", p.failed);
    text += fmt::format(", {:.3g} points/s, {:.0f} s, ETA {:.0f} s", rate, p.elapsed_s, eta);
    std::fprintf(stderr, terminal_ ? "\r%s\033[K%s" : "%s%s", text.c_str(), (last || !terminal_) ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool terminal_;
  double printed_s_ = -1.0;
};

std::string help_text() {
  return std::string("Run a sweep (sweep.json: a base simulate, capacity or recommend request, axes, explicit points and "
                     "hardware what-ifs: link bandwidth/latency, peak_flops, hbm_bytes, hbm_bandwidth, nvlink_domain; "
                     "docs/sweep.md) into DIR/results.jsonl and DIR/results.csv. Runs on all cores; under "
                     "`mpirun -n N switchsim sweep ...` on N ranks. MPI: ") +
         (sweep::mpi_compiled() ? "compiled in." : "not compiled in (install libopenmpi-dev and reconfigure).");
}

int finish(const Options& o, const sweep::SweepDir& dir, const std::vector<sweep::Point>& points,
           sweep::Command command, std::int64_t resumed, int ranks) {
  const auto [ok, failed] = dir.merge(points, command);
  json j;
  j["schema_version"] = kSchemaVersion;
  j["command"] = "sweep";
  j["points"] = static_cast<std::int64_t>(points.size());
  j["ok"] = ok;
  j["failed"] = failed;
  j["resumed"] = resumed;
  j["ranks"] = ranks;
  j["results"] = (dir.path() / "results.jsonl").string();
  j["csv"] = (dir.path() / "results.csv").string();
  j["provenance"] = provenance();
  emit(OutputOptions{o.json, ""}, j,
       fmt::format("sweep: {} points ({} ok, {} failed{}) -> {}, {}", points.size(), ok, failed,
                   resumed > 0 ? fmt::format(", {} finished before --resume", resumed) : "",
                   j["results"].get<std::string>(), j["csv"].get<std::string>()));
  return 0;
}

CommandAction add_sweep_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  app.description(help_text());
  app.add_option("spec", opt->spec, "Sweep spec (JSON; data/examples/sweep_*.json)")->required();
  app.add_option("--out", opt->out, "Output folder (created; holds points/, results.jsonl, results.csv)")->required();
  app.add_option("--threads", opt->threads, "Points run at once in this process (default 0 = one per core; under "
                                            "MPI every rank runs one point at a time)");
  app.add_flag("--resume", opt->resume, "Finish the sweep in --out: skip the points already recorded there");
  app.add_flag("--force", opt->force, "Run more than 10000 points, and points above this machine's resource limits");
  app.add_flag("--json", opt->json, "Print the summary as JSON on stdout; no progress on stderr");
  return [opt]() -> int {
    if (opt->threads < 0) throw InputError("--threads", "must be 0 (one per core) or positive");
    std::unique_ptr<sweep::MpiSession> mpi;
    if (sweep::mpi_launch_detected()) mpi = std::make_unique<sweep::MpiSession>();
    const bool distributed = mpi && mpi->size() > 1;
    // Under a launcher every rank runs one point at a time (start one rank per core).
    const int threads = (mpi && opt->threads == 0) ? 1 : opt->threads;
    const bool coordinator = !mpi || mpi->rank() == 0;

    // Every rank reads the spec (the same file gives the same points); only rank 0 reports its errors.
    json doc;
    sweep::Spec spec;
    std::vector<sweep::Point> points;
    try {
      doc = read_json_file(opt->spec, "SPEC");
      spec = sweep::parse_spec(doc);
      points = sweep::expand(spec);
      sweep::check_points(spec, points, opt->force);
    } catch (const InputError&) {
      if (coordinator) throw;
      return 2;
    }
    const sweep::PointOptions point_options{opt->force};
    if (distributed && !coordinator) {
      if (!mpi->broadcast_ok(true)) return 2;
      sweep::run_mpi_worker(points, spec.command, point_options);
      return 0;
    }

    std::unique_ptr<sweep::SweepDir> dir;
    std::vector<std::int64_t> pending;
    try {
      dir = std::make_unique<sweep::SweepDir>(opt->out, doc, opt->resume);
      pending = dir->pending(points);
      dir->create();
    } catch (const InputError&) {
      if (distributed) (void)mpi->broadcast_ok(false);
      throw;
    }
    const auto resumed = static_cast<std::int64_t>(points.size() - pending.size());
    SweepProgressLine line(!opt->json);
    std::mutex print;
    auto progress = [&line, &print](const sweep::SweepProgress& p) {
      const std::lock_guard<std::mutex> lock(print);
      line.update(p);
    };
    if (distributed) {
      (void)mpi->broadcast_ok(true);
      sweep::run_mpi_coordinator(*mpi, points, pending, spec.command, point_options, *dir, progress, resumed);
    } else {
      sweep::run_threads(points, pending, spec.command, point_options, threads, *dir, progress, resumed);
    }
    return finish(*opt, *dir, points, spec.command, resumed, mpi ? mpi->size() : 1);
  };
}

const bool registered = register_command({"sweep", 46, &add_sweep_command});

}  // namespace
}  // namespace switchsim::cli
