// Error and speed of the completion-window approximation (NetworkOptions::
// completion_window, sim/transfer_simulation.hpp) against the exact fluid model.
//
//   bench_window [MESH [SEEDS [TOKENS]]]   defaults: tpuv3-4x4 8 (tokens per source: 32768 on
//                                          <= 32 devices, 8192 above: Switch-Base's 2^20 tokens
//                                          spread over the devices)
// For each traffic pattern (uniform, zipf 1.0 and 1.5, dirichlet 1.0 and 0.3) and seed, a
// direct all-to-all over every device of the mesh with that random matrix (1536 B per token:
// d_model 768 in bf16), exact and with eps = 0.001, 0.01, 0.05: relative makespan error
// (approx - exact) / exact, events and wall time. Then ring and torus-2d all-reduces of
// 8 MiB and 256 MiB over the whole mesh. Prints per case and the worst error per eps.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "bench/support/random_all_to_alls.hpp"
#include "sim/collective.hpp"
#include "sim/traffic_patterns.hpp"
#include "topology/mesh_catalog.hpp"

int main(int argc, char** argv) {
  using namespace switchsim;
  using namespace switchsim::sim;
  const std::string mesh_name = argc > 1 ? argv[1] : "tpuv3-4x4";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 8;
  const topology::Mesh mesh = topology::build_mesh(mesh_name);
  const std::int32_t n = mesh.topology.num_devices();
  const std::int64_t tokens = argc > 3 ? std::atol(argv[3]) : (n <= 32 ? 32768 : 8192);
  const std::vector<double> windows = {0.001, 0.01, 0.05};
  const auto& patterns = bench::random_patterns();
  std::vector<double> worst(windows.size(), 0.0), worst_signed_low(windows.size(), 0.0),
      worst_signed_high(windows.size(), 0.0);
  std::vector<double> exact_wall_sum(1, 0.0), approx_wall_sum(windows.size(), 0.0);
  std::printf("bench_window on %s (%d devices), %d seeds, %lld tokens per source\n", mesh_name.c_str(), n, seeds,
              static_cast<long long>(tokens));
  std::printf("%-14s %4s %12s %8s %9s", "pattern", "seed", "exact_s", "events", "wall_s");
  for (double eps : windows) std::printf("  eps=%-5g err%%   events  wall_s", eps);
  std::printf("\n");
  auto run = [&](CollectiveRequest r, double eps, double& wall) {
    r.network.completion_window = eps;
    const auto t0 = std::chrono::steady_clock::now();
    CollectiveResult res = simulate_collective(mesh, r);
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
  };
  // Per-link load bound of an all-to-all request: max over links of bytes crossing it / capacity, plus
  // the largest path latency, a lower bound of any fluid schedule (printed as exact / bound). It is the
  // per-link load model of sim/collective.hpp, asked for at any size.
  double worst_ratio = 1.0;
  auto load_bound = [&](CollectiveRequest r) {
    r.network = NetworkOptions{};
    r.network.load_model_above_devices = 1;
    return simulate_collective(mesh, r).time_s;
  };
  auto report = [&](const char* name, int seed, const CollectiveRequest& r) {
    double w0 = 0.0;
    const CollectiveResult exact = run(r, 0.0, w0);
    exact_wall_sum[0] += w0;
    std::printf("%-14s %4d %12.6g %8lld %9.4f", name, seed, exact.time_s, static_cast<long long>(exact.events), w0);
    if (r.matrix) {
      const double ratio = exact.time_s / load_bound(r);
      worst_ratio = std::max(worst_ratio, ratio);
      std::printf(" load-bound x%.3f", ratio);
    }
    for (std::size_t k = 0; k < windows.size(); ++k) {
      double w = 0.0;
      const CollectiveResult a = run(r, windows[k], w);
      approx_wall_sum[k] += w;
      const double err = (a.time_s - exact.time_s) / exact.time_s;
      worst[k] = std::max(worst[k], std::abs(err));
      worst_signed_low[k] = std::min(worst_signed_low[k], err);
      worst_signed_high[k] = std::max(worst_signed_high[k], err);
      std::printf("  %15.4f %8lld %7.4f", 100.0 * err, static_cast<long long>(a.events), w);
    }
    std::printf("\n");
    std::fflush(stdout);
  };
  std::vector<topology::VertexId> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  for (const bench::PatternCase& p : patterns) {
    for (int s = 0; s < seeds; ++s) {
      CollectiveRequest r = bench::random_direct_all_to_all(n, p, tokens, s);
      report(p.name, s, r);
    }
  }
  for (const CollectiveAlgorithm alg : {CollectiveAlgorithm::ring, CollectiveAlgorithm::torus_2d}) {
    for (const double bytes : {8.0 * 1024 * 1024, 256.0 * 1024 * 1024}) {
      CollectiveRequest r;
      r.op = CollectiveOp::all_reduce;
      r.algorithm = alg;
      r.participants = all;
      r.bytes_per_device = bytes;
      const std::string name = std::string(to_string(alg)) + (bytes < 1e8 ? " 8MiB" : " 256MiB");
      report(name.c_str(), 0, r);
    }
  }
  std::printf("exact / per-link load bound: worst x%.3f over the all-to-alls\n", worst_ratio);
  for (std::size_t k = 0; k < windows.size(); ++k) {
    std::printf("eps %-6g worst |err| %.4f%% (range %+.4f%% .. %+.4f%%, %.3g x eps); wall %.3f s vs exact %.3f s (x%.1f)\n",
                windows[k], 100.0 * worst[k], 100.0 * worst_signed_low[k], 100.0 * worst_signed_high[k],
                worst[k] / windows[k], approx_wall_sum[k], exact_wall_sum[0],
                exact_wall_sum[0] / std::max(approx_wall_sum[k], 1e-12));
  }
  return 0;
}
