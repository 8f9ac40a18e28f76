// Exact simulation on a graph without symmetry the router can use (issue 14
// item 6): a 16 MiB all-to-all on an n x n torus given as a mesh file
// (shortest-path ECMP, up to 8 sub-flows per pair, so many distinct rates and
// completion times), timed with the selective and the full max-min re-solve
// (sim/flow_network.hpp). Targets: 16x16 <= 5 s, 32x32 <= 30 s.
//
// Usage: bench_mesh_file [--dir D] [--runs R] [--full-max N] [N ...]
//   N: torus sides (default 8 12 16 32); the mesh files are written to D
//   (default /tmp) as torus-file-NxN.json and loaded like `--mesh FILE`.
//   --full-max: run the full re-solve only for sides <= N (default 12; the full
//   solve costs one max-min over every active flow per event).
// Prints per run wall and CPU seconds, the median, the makespan, flows,
// events, rate updates, flows handed to the solver per update, peak RSS, and
// the relative difference of the two makespans.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench/support/process_stats.hpp"
#include "bench/support/torus_mesh_file.hpp"
#include "sim/collective.hpp"
#include "topology/mesh_catalog.hpp"

namespace {

using switchsim::bench::cpu_seconds;
using switchsim::bench::median;
using switchsim::bench::vm_hwm_kib;


double run(const switchsim::topology::Mesh& mesh, const std::string& label, switchsim::sim::SolveMode mode, int runs) {
  using namespace switchsim;
  sim::CollectiveRequest req;
  req.op = sim::CollectiveOp::all_to_all;
  req.algorithm = sim::CollectiveAlgorithm::automatic;
  req.bytes_per_device = 16.0 * 1048576;
  req.network.solve = mode;
  sim::NetworkProgress last;
  double active_sum = 0.0;  // over updates
  req.network.progress = [&](const sim::NetworkProgress& p) {
    last = p;
    active_sum += static_cast<double>(p.active_flows);
  };
  req.network.progress_interval_s = 0.0;  // every update: the last one gives the totals
  std::vector<double> wall, cpu;
  sim::CollectiveResult r;
  for (int i = 0; i < runs; ++i) {
    active_sum = 0.0;
    const double c0 = cpu_seconds();
    r = sim::simulate_collective(mesh, req);
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(r.wall_s);
    std::printf("  %s %s run %d: wall %.3f s, cpu %.3f s\n", label.c_str(), mode == sim::SolveMode::full ? "full" : "selective",
                i + 1, r.wall_s, cpu.back());
    std::fflush(stdout);
  }
  std::printf(
      "%s %s: devices %d, makespan %.9g us, flows %lld, events %lld, rate updates %lld, flows re-solved per update %.4g "
      "(of %.4g active on average)\n  median wall %.3f s, median cpu %.3f s, VmHWM %.1f MiB\n",
      label.c_str(), mode == sim::SolveMode::full ? "full" : "selective", r.devices, r.time_s * 1e6,
      static_cast<long long>(r.flows), static_cast<long long>(r.events), static_cast<long long>(r.rate_updates),
      static_cast<double>(last.flows_resolved) / static_cast<double>(std::max<std::int64_t>(1, r.rate_updates)),
      active_sum / static_cast<double>(std::max<std::int64_t>(1, r.rate_updates)),
      median(wall), median(cpu), static_cast<double>(vm_hwm_kib()) / 1024.0);
  std::fflush(stdout);
  return r.time_s;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace switchsim;
  std::string dir = "/tmp";
  int runs = 1;
  int full_max = 12;
  std::vector<int> sides;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::stoi(argv[++i]);
    } else if (a == "--full-max" && i + 1 < argc) {
      full_max = std::stoi(argv[++i]);
    } else {
      sides.push_back(std::stoi(a));
    }
  }
  if (sides.empty()) sides = {8, 12, 16, 32};
  for (const int n : sides) {
    const std::string path = dir + "/torus-file-" + std::to_string(n) + "x" + std::to_string(n) + ".json";
    {
      std::ofstream out(path);
      out << bench::torus_mesh_json(n).dump() << "\n";
    }
    const auto mesh = topology::build_mesh(path);
    const std::string label = "torus-file-" + std::to_string(n) + "x" + std::to_string(n);
    const double selective = run(mesh, label, sim::SolveMode::selective, runs);
    if (n <= full_max) {
      const double full = run(mesh, label, sim::SolveMode::full, runs);
      std::printf("%s: makespans selective vs full differ by %.3g (relative)\n", label.c_str(),
                  std::abs(selective - full) / full);
    }
  }
  return 0;
}
