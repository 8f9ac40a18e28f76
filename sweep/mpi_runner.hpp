#pragma once
// `switchsim sweep` under `mpirun -n N` (or srun): rank 0 coordinates, every
// rank runs points (docs/sweep.md).
//
// Rank 0 hands out point ids one at a time to whichever rank asks (dynamic load
// balancing: a rank that finished a cheap point gets the next one at once);
// a worker sends back each finished point's JSON line with its request for the
// next; rank 0 answers, then records it (DIR/points/<id>.json, atomically).
// Rank 0 also runs points on a thread of its own (its main thread only polls
// MPI, MPI_THREAD_FUNNELED), so N ranks give N computing processes.
// Only rank 0 touches DIR, so the folder need not be shared between nodes.
// Each rank resolves its own meshes and memos; nothing but ids and result lines
// crosses MPI.
//
// Compiled in when CMake's FindMPI finds an MPI library (SWITCHSIM_HAVE_MPI);
// without it, mpi_compiled() is false and a launch under mpirun is refused.

#include <cstdint>
#include <functional>
#include <vector>

#include "sweep/runner.hpp"

namespace switchsim::sweep {

// Whether this build has MPI.
[[nodiscard]] bool mpi_compiled();
// Whether this process was started by an MPI launcher (mpirun/srun: OMPI_COMM_WORLD_SIZE,
// PMI_SIZE or PMIX_RANK in the environment), whatever the build.
[[nodiscard]] bool mpi_launch_detected();

// MPI_Init_thread on construction, MPI_Finalize on destruction (MPI builds only).
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  // Rank 0 tells every rank whether it may go on (a bad output folder stops them all).
  [[nodiscard]] bool broadcast_ok(bool ok) const;

 private:
  int rank_ = 0;
  int size_ = 1;
};

// Rank 0: coordinates, records into `dir` and runs points on one thread of its own.
void run_mpi_coordinator(const MpiSession& mpi, const std::vector<Point>& points,
                         const std::vector<std::int64_t>& ids, Command command, const PointOptions& options,
                         const SweepDir& dir, const ProgressCallback& progress, std::int64_t skipped);
// Other ranks: run the points rank 0 hands out until it says stop.
void run_mpi_worker(const std::vector<Point>& points, Command command, const PointOptions& options);

}  // namespace switchsim::sweep
