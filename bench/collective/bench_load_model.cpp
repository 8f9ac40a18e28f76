// Error and speed of the per-link load model (NetworkOptions::load_model_above_devices,
// sim/collective.hpp) against the flow simulation it replaces in `recommend`.
//
//   bench_load_model [MESH [SEEDS [TOKENS [EPS]]]]   defaults: tpuv3-8x8 2 512 0.01
// For each traffic pattern (uniform, zipf 1.0 and 1.5, dirichlet 1.0 and 0.3) and seed, a
// direct all-to-all over every device of the mesh with a random matrix of TOKENS tokens per
// source (1536 B each: d_model 768 in bf16; 512 tokens over 2048 devices is a Switch-C
// dropless row, 8192 a dense one), priced twice: by the flow simulation with completion
// window EPS (0 = exact fluid max-min; the planner's flow setting is 0.01) and by the load
// model. Prints both times, (model - flow) / flow, and the wall time of each; then the worst
// error and the total walls.

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
#include "topology/mesh_catalog.hpp"

int main(int argc, char** argv) {
  using namespace switchsim;
  using namespace switchsim::sim;
  const std::string mesh_name = argc > 1 ? argv[1] : "tpuv3-8x8";
  const int seeds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 2;
  const std::int64_t tokens = argc > 3 ? std::atol(argv[3]) : 512;
  const double eps = argc > 4 ? std::atof(argv[4]) : 0.01;
  const topology::Mesh mesh = topology::build_mesh(mesh_name);
  const std::int32_t n = mesh.topology.num_devices();
  const auto& patterns = bench::random_patterns();
  std::printf("bench_load_model on %s (%d devices), %d seeds, %lld tokens per source, flow eps %g\n",
              mesh_name.c_str(), n, seeds, static_cast<long long>(tokens), eps);
  std::printf("%-14s %4s %9s %12s %12s %8s %9s %9s\n", "pattern", "seed", "nonzeros", "flow_s", "model_s", "err%",
              "flow_wall", "model_wall");
  double worst_low = 0.0, worst_high = 0.0, flow_wall = 0.0, model_wall = 0.0;
  for (const bench::PatternCase& p : patterns) {
    for (int s = 0; s < seeds; ++s) {
      CollectiveRequest r = bench::random_direct_all_to_all(n, p, tokens, s);
      auto timed = [&](std::int32_t load_model_above, double& wall) {
        r.network = NetworkOptions{};
        r.network.completion_window = eps;
        r.network.load_model_above_devices = load_model_above;
        const auto t0 = std::chrono::steady_clock::now();
        const double t = simulate_collective(mesh, r).time_s;
        wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return t;
      };
      double fw = 0.0, mw = 0.0;
      const double flow = timed(0, fw);
      const double model = timed(1, mw);
      const double err = (model - flow) / flow;
      worst_low = std::min(worst_low, err);
      worst_high = std::max(worst_high, err);
      flow_wall += fw;
      model_wall += mw;
      std::printf("%-14s %4d %9lld %12.6g %12.6g %8.3f %9.3f %9.4f\n", p.name, s,
                  static_cast<long long>(r.matrix->nonzeros()), flow, model, 100.0 * err, fw, mw);
      std::fflush(stdout);
    }
  }
  std::printf("model vs flow: error %.3f%% .. %+.3f%%; wall flow %.2f s, model %.3f s (%.0fx)\n", 100.0 * worst_low,
              100.0 * worst_high, flow_wall, model_wall, model_wall > 0.0 ? flow_wall / model_wall : 0.0);
  return 0;
}
