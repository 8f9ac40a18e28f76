// Times the full recommendation search (planner::recommend).
//
//   bench_recommend [MODEL] [MESH] [REPEATS] [SAMPLES] [THREADS] [TOLERANCE] [--exhaustive]
//   defaults: switch-base tpuv3-4x4 3 4 0 (all cores) 0.01 (the network completion window;
//   0 = exact network model)
//
// Napkin math: Switch-Base on tpuv3-4x4 has 15 (dp, ep, mp) layouts, 48 mappings
// and 5 modes (4 capacity factors + dropless) = 240 candidates; at 4 seeds an
// exhaustive search runs 960 step simulations. Issue 5's budget is 5 s on the
// 2-core dev box, i.e. >= 48 candidates (192 steps) per second if nothing were pruned.
// Prints per repeat: wall seconds, evaluated, pruned, candidates evaluated per second,
// step simulations per second; then the median wall time.


#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/support/process_stats.hpp"
#include "planner/recommend.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"

using switchsim::bench::cpu_seconds;

int main(int argc, char** argv) {
  using namespace switchsim;
  std::vector<std::string> args(argv + 1, argv + argc);
  bool exhaustive = false;
  std::vector<std::string> pos;
  for (const std::string& a : args) {
    if (a == "--exhaustive") exhaustive = true;
    else pos.push_back(a);
  }
  const std::string model_name = pos.size() > 0 ? pos[0] : "switch-base";
  const std::string mesh_name = pos.size() > 1 ? pos[1] : "tpuv3-4x4";
  const int repeats = pos.size() > 2 ? std::atoi(pos[2].c_str()) : 3;
  const long samples = pos.size() > 3 ? std::atol(pos[3].c_str()) : 4;
  const int threads = pos.size() > 4 ? std::atoi(pos[4].c_str()) : 0;
  const double tolerance = pos.size() > 5 ? std::atof(pos[5].c_str()) : planner::kDefaultNetworkTolerance;
  try {
    const workloads::Model model = workloads::load_model(model_name);
    const auto t_mesh = std::chrono::steady_clock::now();
    const topology::Mesh mesh = topology::build_mesh(mesh_name);
    const double mesh_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_mesh).count();
    const auto cost = workloads::make_cost_model(mesh.device_kind, "");
    planner::SearchOptions o;
    o.samples = samples;
    o.threads = threads;
    o.prune = !exhaustive;
    o.network_tolerance = tolerance;
    std::printf("bench_recommend %s on %s (%d devices), %ld seeds, threads %d, network tolerance %g%s; mesh build "
                "%.3f s\n",
                model_name.c_str(), mesh_name.c_str(), mesh.topology.num_devices(), samples, threads, tolerance,
                exhaustive ? ", exhaustive" : "", mesh_s);
    std::vector<double> walls;
    for (int r = 0; r < repeats; ++r) {
      const double cpu0 = cpu_seconds();
      const planner::RecommendResult res = planner::recommend(model, mesh, o, *cost);
      const double cpu = cpu_seconds() - cpu0;
      walls.push_back(res.wall_s);
      const double n = static_cast<double>(res.evaluated.size());
      std::printf("  run %d: wall %.3f s, cpu %.3f s, candidates %lld, evaluated %zu, pruned %lld, rejected %zu, "
                  "%.1f candidates/s, %.1f steps/s; best %s\n",
                  r, res.wall_s, cpu, static_cast<long long>(res.candidates), res.evaluated.size(),
                  static_cast<long long>(res.pruned), res.rejected.size(), n / res.wall_s,
                  n * static_cast<double>(samples) / res.wall_s,
                  res.recommendations.empty() ? "(none)" : res.evaluated[res.recommendations.front().evaluation].candidate.label().c_str());
    }
    std::sort(walls.begin(), walls.end());
    std::printf("median wall %.3f s over %d run(s)\n", walls[walls.size() / 2], repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_recommend: %s\n", e.what());
    return 2;
  }
  return 0;
}
