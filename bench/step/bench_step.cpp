// Step-simulation speed and memory (issue 8 targets):
//   one Switch-Base step on tpuv3-4x4 (32 cores), dp=32,ep=32   <= 20 ms wall
//   one Switch-C step on tpuv3-32x32 (2048 cores), dp=ep=2048   <= 10 s wall and <= 8 GiB (VmHWM)
// Napkin math: Switch-C is 30 Switch layers x 2048 groups of 512 tokens = ~19M routing
// draws, ~1300 grouped ops x 2048 members = ~2.7M (op, device) timings, and a handful of
// distinct collectives (2048-way all-to-all per distinct capacity, one 2048-way all-reduce)
// simulated once each thanks to the memo.
//
// Network models (issue 14): every case runs with the network model given as the 4th argument
// (shared, the default, or isolated); targets of the shared model: Switch-Base on tpuv3-4x4
// <= 0.3 s, on tpuv3-8x8 <= 3 s (base8: dp=128,ep=32: four expert groups whose all-to-alls
// contend), Switch-C on tpuv3-32x32 <= 60 s and <= 8 GiB.
//
// Usage: bench_step [base|base8|c|all|base-dropless|c-dropless] [repeats] [eps] [shared|isolated]: the dropless cases
// run with the network completion window eps (default 0.01, the planner's default); c-dropless
// prices its 2048-way all-to-alls with the per-link load model (the planner's default above 512). Prints one line per case: median wall seconds,
// min, the host time spent inside collective simulations, VmHWM.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/support/process_stats.hpp"
#include "sim/step_executor.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;

namespace {

double vm_hwm_gib() {
  const long kib = switchsim::bench::vm_hwm_kib();
  return kib < 0 ? -1.0 : static_cast<double>(kib) / (1024.0 * 1024.0);
}

void run_case(const char* label, const char* model_name, const char* mesh_name, const char* layout_text, int repeats,
              workloads::ExecutionMode mode = workloads::ExecutionMode::capacity, double eps = 0.0,
              std::int32_t load_model_above = 0,
              workloads::NetworkModel network_model = workloads::NetworkModel::shared) {
  const workloads::Model model = workloads::load_model(model_name);
  const auto t_mesh0 = std::chrono::steady_clock::now();
  const topology::Mesh mesh = topology::build_mesh(mesh_name);
  const double mesh_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_mesh0).count();
  const workloads::Layout layout = workloads::parse_layout(layout_text);
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  std::vector<double> walls;
  double collective_wall = 0.0;
  std::int64_t cache_events = 0;
  workloads::StepResult last;
  for (int i = 0; i < repeats; ++i) {
    sim::NetworkOptions network;
    network.completion_window = eps;
    network.load_model_above_devices = load_model_above;
    sim::CollectiveCache cache(mesh, network);  // fresh memo: every repeat pays for its collectives
    workloads::StepOptions o;
    o.cache = &cache;
    o.mode = mode;
    o.network_model = network_model;
    const auto t0 = std::chrono::steady_clock::now();
    last = workloads::simulate_step(model, mesh, layout, o, *cost);
    walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    collective_wall = cache.simulated_wall_s();
    cache_events = cache.events();
  }
  std::sort(walls.begin(), walls.end());
  std::printf("%-12s %-12s %-22s %s %s eps=%g load-model>%d step_time_s=%.6g ops=%d  wall median=%.4f s min=%.4f s (n=%d)  "
              "collectives=%.4f s (%lld simulations, %lld network events)  mesh build=%.3f s  VmHWM=%.3f GiB\n",
              label, mesh_name, layout_text, workloads::to_string(mode), workloads::to_string(network_model), eps,
              load_model_above, last.step_time_s, last.ops,
              walls[walls.size() / 2], walls.front(), repeats, collective_wall,
              static_cast<long long>(last.collective_simulations), static_cast<long long>(cache_events), mesh_s, vm_hwm_gib());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "all";
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 0;
  const double eps = argc > 3 ? std::atof(argv[3]) : 0.01;
  const workloads::NetworkModel net =
      argc > 4 ? workloads::parse_network_model(argv[4], "network model") : workloads::NetworkModel::shared;
  const auto capacity = workloads::ExecutionMode::capacity;
  if (which == "base" || which == "all") {
    run_case("switch-base", "switch-base", "tpuv3-4x4", "dp=32,ep=32", repeats ? repeats : 21, capacity, 0.0, 0, net);
  }
  if (which == "base8" || which == "all") {
    run_case("switch-base", "switch-base", "tpuv3-8x8", "dp=128,ep=32", repeats ? repeats : 5, capacity, 0.0, 0, net);
  }
  if (which == "c" || which == "all") {
    run_case("switch-c", "switch-c", "tpuv3-32x32", "dp=2048,ep=2048", repeats ? repeats : 3, capacity, 0.0, 0, net);
  }
  if (which == "c-approx") {  // 2048-way all-to-alls by the contention-aware load model
    run_case("switch-c", "switch-c", "tpuv3-32x32", "dp=2048,ep=512", repeats ? repeats : 1, capacity, 0.0, 64, net);
  }
  if (which == "base-dropless") {
    run_case("switch-base", "switch-base", "tpuv3-4x4", "dp=32,ep=32", repeats ? repeats : 5,
             workloads::ExecutionMode::dropless, eps, 0, net);
  }
  if (which == "c-dropless") {  // 2048-way all-to-alls by the per-link load model, as the planner does
    run_case("switch-c", "switch-c", "tpuv3-32x32", "dp=2048,ep=2048", repeats ? repeats : 1,
             workloads::ExecutionMode::dropless, eps, 512, net);
  }
  return 0;
}
