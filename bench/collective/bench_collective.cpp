// Collective simulation speed and memory (issue 3 targets):
//   tpuv3-32x32 symmetric all-to-all, 8 MiB per device, 2048 cores, ~4.2M flows: <= 5 s, <= 4 GiB
//   tpuv3-4x4 (32 cores): <= 20 ms;  dgx-h100-128 (1024 GPUs): <= 5 s.
// Napkin maths: direct all-to-all = n(n-1) transfers; on the 32x32 torus a
// DOR path has ~16 ICI hops + 2 on-chip links, so ~75M flow-link incidences
// (300 MB as int32) that every max-min solve walks twice.
//
// Usage: bench_collective [MESH [RUNS [ALGORITHM [OP]]]]  (default: all three targets).
// Prints per run wall and CPU seconds, and the median; events/s and flows/s
// from the median wall time; peak RSS (VmHWM) of the process so far.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/support/process_stats.hpp"
#include "sim/collective.hpp"
#include "topology/mesh_catalog.hpp"

namespace {

using switchsim::bench::cpu_seconds;
using switchsim::bench::median;
using switchsim::bench::vm_hwm_kib;


void run(const std::string& mesh_name, int runs, const std::string& algorithm, const std::string& op) {
  using namespace switchsim;
  const auto mesh = topology::build_mesh(mesh_name);
  sim::CollectiveRequest req;
  req.op = sim::parse_collective_op(op);
  req.algorithm = sim::parse_collective_algorithm(algorithm);
  req.bytes_per_device = 8.0 * 1048576;
  std::vector<double> wall, cpu;
  sim::CollectiveResult r;
  for (int i = 0; i < runs; ++i) {
    const double c0 = cpu_seconds();
    r = sim::simulate_collective(mesh, req);
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(r.wall_s);
    std::printf("  run %d: wall %.4f s, cpu %.4f s\n", i + 1, r.wall_s, cpu.back());
  }
  const double w = median(wall);
  std::printf(
      "%s %s %s 8MiB: devices %d, simulated %.6g us, flows %lld, events %lld, rate updates %lld\n"
      "  median wall %.4f s, median cpu %.4f s, %.3g events/s, %.3g flows/s, VmHWM %.1f MiB\n",
      mesh_name.c_str(), op.c_str(), sim::to_string(r.algorithm), r.devices, r.time_s * 1e6,
      static_cast<long long>(r.flows), static_cast<long long>(r.events), static_cast<long long>(r.rate_updates), w,
      median(cpu), static_cast<double>(r.events) / w, static_cast<double>(r.flows) / w,
      static_cast<double>(vm_hwm_kib()) / 1024.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    run(argv[1], argc > 2 ? std::stoi(argv[2]) : 3, argc > 3 ? argv[3] : "auto", argc > 4 ? argv[4] : "all-to-all");
    return 0;
  }
  run("tpuv3-4x4", 21, "auto", "all-to-all");
  run("dgx-h100-128", 3, "auto", "all-to-all");
  run("tpuv3-32x32", 3, "auto", "all-to-all");
  return 0;
}
