#include "sim/traffic_patterns.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::sim {

ByteMatrix random_all_to_all(std::int32_t n, TrafficPattern pattern, double parameter, std::int64_t tokens_per_source,
                             double bytes_per_token, std::uint64_t seed) {
  SWITCHSIM_ASSERT(n > 0 && tokens_per_source >= 0 && bytes_per_token > 0.0, "bad traffic pattern request");
  std::mt19937_64 rng(seed);
  std::vector<double> dense(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), 0.0);
  std::vector<double> p(static_cast<std::size_t>(n));
  std::vector<std::int32_t> rank(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) {
    switch (pattern) {
      case TrafficPattern::uniform: std::fill(p.begin(), p.end(), 1.0); break;
      case TrafficPattern::zipf: {
        std::iota(rank.begin(), rank.end(), 1);
        std::shuffle(rank.begin(), rank.end(), rng);
        for (std::size_t j = 0; j < p.size(); ++j) p[j] = 1.0 / std::pow(static_cast<double>(rank[j]), parameter);
        break;
      }
      case TrafficPattern::dirichlet: {
        std::gamma_distribution<double> gamma(parameter, 1.0);
        for (double& x : p) x = gamma(rng);
        break;
      }
    }
    std::discrete_distribution<std::int32_t> pick(p.begin(), p.end());
    double* row = dense.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(n);
    for (std::int64_t t = 0; t < tokens_per_source; ++t) row[pick(rng)] += bytes_per_token;
  }
  return ByteMatrix::from_dense(n, dense);
}

}  // namespace switchsim::sim
