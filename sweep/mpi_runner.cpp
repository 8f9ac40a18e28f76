#include "sweep/mpi_runner.hpp"

#include <cstdlib>

#include "common/errors.hpp"

#if SWITCHSIM_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#endif

namespace switchsim::sweep {

bool mpi_compiled() { return SWITCHSIM_HAVE_MPI != 0; }

bool mpi_launch_detected() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

#if SWITCHSIM_HAVE_MPI
namespace {

constexpr int kTagResult = 1;  // worker -> rank 0: a finished line (empty: first request)
constexpr int kTagWork = 2;    // rank 0 -> worker: the next point id, -1 = stop

// The ids left to hand out, shared by rank 0's poller and its own compute thread.
class Dispenser {
 public:
  explicit Dispenser(const std::vector<std::int64_t>& ids) : ids_(ids) {}
  std::int64_t next() {
    const std::size_t i = next_++;
    return i < ids_.size() ? ids_[i] : -1;
  }

 private:
  const std::vector<std::int64_t>& ids_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace

MpiSession::MpiSession() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

bool MpiSession::broadcast_ok(bool ok) const {
  int flag = ok ? 1 : 0;
  MPI_Bcast(&flag, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return flag != 0;
}

void run_mpi_coordinator(const MpiSession& mpi, const std::vector<Point>& points,
                         const std::vector<std::int64_t>& ids, Command command, const PointOptions& options,
                         const SweepDir& dir, const ProgressCallback& progress, std::int64_t skipped) {
  Dispenser dispenser(ids);
  std::mutex mutex;
  SweepProgress state;
  state.todo = static_cast<std::int64_t>(ids.size());
  state.skipped = skipped;
  const auto start = std::chrono::steady_clock::now();
  auto finished = [&](const json& line) {
    dir.record(line);
    const std::lock_guard<std::mutex> lock(mutex);
    state.count(line, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (progress) progress(state);
  };
  // A point that cannot be recorded (a full disk) stops every rank: the points
  // recorded so far stay for --resume.
  auto abort_all = [](const char* what) {
    std::fprintf(stderr, "switchsim: error: %s\n", what);
    MPI_Abort(MPI_COMM_WORLD, 2);
  };
  std::thread local([&]() {
    try {
      for (std::int64_t id = dispenser.next(); id >= 0; id = dispenser.next()) {
        finished(run_point(points[static_cast<std::size_t>(id)], command, options));
      }
    } catch (const std::exception& e) {
      abort_all(e.what());
    }
  });
  // Poll rather than block: Open MPI's blocking receive spins a core that the
  // local compute thread needs.
  // The pause between empty polls doubles from 20 us to 1 ms and drops back after a
  // message: a reply waits at most ~1 ms (1% of a 100 ms point), and an idle poller
  // wakes about 1000 times a second.
  int active = mpi.size() - 1;
  std::string buffer;
  std::chrono::microseconds pause{20};
  while (active > 0) {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kTagResult, MPI_COMM_WORLD, &flag, &status);
    if (flag == 0) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
      continue;
    }
    pause = std::chrono::microseconds(20);
    int count = 0;
    MPI_Get_count(&status, MPI_CHAR, &count);
    buffer.resize(static_cast<std::size_t>(count));
    MPI_Recv(buffer.data(), count, MPI_CHAR, status.MPI_SOURCE, kTagResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    // Answer first, record after: the worker computes its next point while this rank writes
    // (a blocking receive spins: a worker waiting through an fsync burns a core).
    std::int64_t id = dispenser.next();
    MPI_Send(&id, 1, MPI_INT64_T, status.MPI_SOURCE, kTagWork, MPI_COMM_WORLD);
    if (count > 0) {
      try {
        finished(json::parse(buffer));
      } catch (const std::exception& e) {
        abort_all(e.what());
      }
    }
    if (id < 0) --active;
  }
  local.join();
}

void run_mpi_worker(const std::vector<Point>& points, Command command, const PointOptions& options) {
  std::string line;  // empty: the first request
  for (;;) {
    MPI_Send(line.data(), static_cast<int>(line.size()), MPI_CHAR, 0, kTagResult, MPI_COMM_WORLD);
    std::int64_t id = -1;
    MPI_Recv(&id, 1, MPI_INT64_T, 0, kTagWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (id < 0) return;
    line = run_point(points[static_cast<std::size_t>(id)], command, options).dump();
  }
}

#else  // no MPI in this build

MpiSession::MpiSession() {
  throw InputError("mpirun", "this switchsim was built without MPI (install libopenmpi-dev and reconfigure)");
}
MpiSession::~MpiSession() = default;
bool MpiSession::broadcast_ok(bool ok) const { return ok; }
void run_mpi_coordinator(const MpiSession&, const std::vector<Point>&, const std::vector<std::int64_t>&, Command,
                         const PointOptions&, const SweepDir&, const ProgressCallback&, std::int64_t) {}
void run_mpi_worker(const std::vector<Point>&, Command, const PointOptions&) {}

#endif

}  // namespace switchsim::sweep
