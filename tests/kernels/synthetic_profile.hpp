#pragma once
// A synthetic measured CPU profile for tests that need one (validate --step): every op kind of a
// training step is "measured" with two samples on one straight line, time = work x a per-kind rate,
// so the prediction of any op inside [1, 1e15] is exactly work x rate (log-log interpolation of a
// line through the origin is the line). Not a measurement: the numbers are chosen, not timed.

#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "kernels/profile.hpp"

namespace switchsim::testing {

// Seconds per FLOP (compute kinds) or per byte (memory kinds) of the synthetic profile.
inline constexpr double kSyntheticSecondsPerFlop = 1e-10;  // 10 GFLOP/s
inline constexpr double kSyntheticSecondsPerByte = 1e-10;  // 10 GB/s

// Every kind the step needs, minus those in `without`.
inline json synthetic_cpu_profile(const std::vector<std::string>& without = {}) {
  json samples = json::array();
  const char* compute[] = {"matmul", "batched_matmul", "router", "attention"};
  const char* memory[] = {"dispatch", "combine", "elementwise", "optimizer"};
  auto skip = [&](const std::string& k) {
    for (const auto& w : without)
      if (w == k) return true;
    return false;
  };
  for (const double work : {1.0, 1e15}) {
    for (const char* k : compute) {
      if (skip(k)) continue;
      const double t = work * kSyntheticSecondsPerFlop;
      samples.push_back(json{{"kernel", k}, {"op", k}, {"flops", work}, {"bytes", 0}, {"median_s", t},
                             {"p10_s", t}, {"p90_s", t}, {"shape", json{{"batch", 1}}}});
    }
    for (const char* k : memory) {
      if (skip(k)) continue;
      const double t = work * kSyntheticSecondsPerByte;
      samples.push_back(json{{"kernel", k}, {"op", k}, {"flops", 0}, {"bytes", work}, {"median_s", t},
                             {"p10_s", t}, {"p90_s", t}, {"shape", json{{"batch", 1}}}});
    }
  }
  return json{{"schema_version", kernels::kProfileSchemaVersion},
              {"kind", "measured"},
              {"device", json{{"kind", "cpu"}, {"name", "synthetic test profile"}, {"blas_threads", 1}}},
              {"ceilings", json{{"matrix_flops_per_s", 1e10},
                                {"vector_flops_per_s", 1e10},
                                {"memory_Bps", 1e10},
                                {"matrix_efficiency", 1.0},
                                {"memory_efficiency", 1.0},
                                {"launch_overhead_s", 0.0}}},
              {"samples", samples}};
}

}  // namespace switchsim::testing
