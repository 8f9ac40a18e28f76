#pragma once
// Synthetic non-uniform all-to-all byte matrices (tests and benchmarks of the
// network model, e.g. the completion-window error in docs/network.md).
//
// Each of n sources routes `tokens_per_source` tokens to destinations drawn
// independently from its destination distribution p_i; entry (i, j) is the
// count times `bytes_per_token` (the dropless all-to-all of a Switch layer with
// one expert per device). Distributions:
//   uniform          p_i(j) = 1/n                       (multinomial noise only)
//   zipf, s          p_i(j) proportional to 1 / rank_i(j)^s, one random rank
//                    permutation per source (hot destinations differ by source)
//   dirichlet, a     p_i ~ Dirichlet(a, ..., a)          (a < 1: very skewed rows)
// Deterministic for a seed on one standard library (std::mt19937_64 and the
// <random> distributions).

#include <cstdint>

#include "sim/collective.hpp"

namespace switchsim::sim {

enum class TrafficPattern : std::uint8_t { uniform, zipf, dirichlet };

[[nodiscard]] ByteMatrix random_all_to_all(std::int32_t n, TrafficPattern pattern, double parameter,
                                           std::int64_t tokens_per_source, double bytes_per_token,
                                           std::uint64_t seed);

}  // namespace switchsim::sim
