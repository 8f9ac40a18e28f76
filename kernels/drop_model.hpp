#pragma once
// Token drops, counted independently of the kernels, and their expectation.
//
// sequential_drop_count is a plain transcription of the paper's pseudo-code
// (per group: position = cumulative count of the expert's earlier choices, in
// rank-major token order; dropped when position >= capacity). It stands in for
// the simulator's drop model, which the workloads layer owns; `validate` calls
// it through DropCounter so that the workloads model can be swapped in.
//
// Expectation for top-1 routing where each token picks expert i with
// probability p_i independently: per group, X_i ~ Binomial(G, p_i) and
//   E[drops per group] = sum_i E[max(0, X_i - C)]
//                      = sum_i sum_{x > C} (x - C) P(X_i = x);
// for uniform routing (p_i = 1/E) this is E * E[max(0, X - C)], X ~ Bin(G, 1/E).

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

// expert (T, k); groups of `group_tokens`; capacity per expert and group.
[[nodiscard]] std::int64_t sequential_drop_count(const std::vector<std::int32_t>& expert, std::int64_t tokens,
                                                 std::int64_t top_k, std::int64_t group_tokens,
                                                 std::int64_t experts, std::int64_t capacity);

// (expert (T, k), config) -> dropped (token, choice) pairs.
using DropCounter = std::function<std::int64_t(const std::vector<std::int32_t>& expert, const SwitchLayerConfig&)>;
[[nodiscard]] DropCounter default_drop_counter();

// E[max(0, X - C)], X ~ Binomial(n, p).
[[nodiscard]] double expected_binomial_excess(std::int64_t n, double p, std::int64_t capacity);
// Expected drops over all groups for top-1 routing with expert probabilities p.
[[nodiscard]] double expected_drops(const SwitchLayerConfig& c, const std::vector<double>& expert_probability);

// Synthetic top-1 router outputs for drop checks: every token independently
// picks expert i with probability p_i, gate 1. Uniform: p_i = 1/E; Zipf with
// exponent s: p_i proportional to 1/(i+1)^s.
[[nodiscard]] std::vector<double> zipf_probabilities(std::int64_t experts, double exponent);
[[nodiscard]] RouterOutput synthetic_routing(const SwitchLayerConfig& c, const std::vector<double>& expert_probability,
                                             std::uint64_t seed);

}  // namespace switchsim::kernels
