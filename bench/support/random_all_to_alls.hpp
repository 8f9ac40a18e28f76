#pragma once
// The random all-to-all cases the network benchmarks share (bench_window,
// bench_load_model): five traffic patterns of sim/traffic_patterns.hpp, each a
// direct all-to-all over every device with 1536 B per token (d_model 768 in bf16).

#include <cstdint>
#include <numeric>
#include <vector>

#include "sim/collective.hpp"
#include "sim/traffic_patterns.hpp"

namespace switchsim::bench {

struct PatternCase {
  const char* name;
  sim::TrafficPattern kind;
  double parameter;
};

inline const std::vector<PatternCase>& random_patterns() {
  static const std::vector<PatternCase> patterns = {{"uniform", sim::TrafficPattern::uniform, 0.0},
                                                    {"zipf:1.0", sim::TrafficPattern::zipf, 1.0},
                                                    {"zipf:1.5", sim::TrafficPattern::zipf, 1.5},
                                                    {"dirichlet:1.0", sim::TrafficPattern::dirichlet, 1.0},
                                                    {"dirichlet:0.3", sim::TrafficPattern::dirichlet, 0.3}};
  return patterns;
}

// Seed s of pattern p over devices 0..n-1, `tokens` per source (matrix seed 1000 + s).
inline sim::CollectiveRequest random_direct_all_to_all(std::int32_t n, const PatternCase& p, std::int64_t tokens,
                                                       int s) {
  sim::CollectiveRequest r;
  r.op = sim::CollectiveOp::all_to_all;
  r.algorithm = sim::CollectiveAlgorithm::direct;
  r.participants.resize(static_cast<std::size_t>(n));
  std::iota(r.participants.begin(), r.participants.end(), 0);
  r.matrix = sim::random_all_to_all(n, p.kind, p.parameter, tokens, 1536.0, static_cast<std::uint64_t>(1000 + s));
  return r;
}

}  // namespace switchsim::bench
