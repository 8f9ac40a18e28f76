#include "kernels/drop_model.hpp"

#include <cmath>
#include <random>

#include "common/errors.hpp"

namespace switchsim::kernels {

std::int64_t sequential_drop_count(const std::vector<std::int32_t>& expert, std::int64_t tokens, std::int64_t top_k,
                                   std::int64_t group_tokens, std::int64_t experts, std::int64_t capacity) {
  std::int64_t dropped = 0;
  for (std::int64_t g0 = 0; g0 < tokens; g0 += group_tokens) {
    std::vector<std::int64_t> count(static_cast<std::size_t>(experts), 0);
    for (std::int64_t j = 0; j < top_k; ++j) {
      for (std::int64_t t = g0; t < g0 + group_tokens; ++t) {
        const auto e = static_cast<std::size_t>(expert[static_cast<std::size_t>(t * top_k + j)]);
        if (count[e]++ >= capacity) ++dropped;
      }
    }
  }
  return dropped;
}

DropCounter default_drop_counter() {
  return [](const std::vector<std::int32_t>& expert, const SwitchLayerConfig& c) {
    return sequential_drop_count(expert, c.tokens, c.top_k, c.group_tokens(), c.experts, c.capacity());
  };
}

double expected_binomial_excess(std::int64_t n, double p, std::int64_t capacity) {
  // sum_{x > C} (x - C) P(X = x), with log-space pmf to stay finite for large n.
  double total = 0.0;
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return static_cast<double>(std::max<std::int64_t>(0, n - capacity));
  const double lp = std::log(p), lq = std::log1p(-p);
  for (std::int64_t x = capacity + 1; x <= n; ++x) {
    const double dx = static_cast<double>(x);
    const double log_pmf = std::lgamma(static_cast<double>(n) + 1.0) - std::lgamma(dx + 1.0) -
                           std::lgamma(static_cast<double>(n - x) + 1.0) + dx * lp +
                           static_cast<double>(n - x) * lq;
    const double term = (dx - static_cast<double>(capacity)) * std::exp(log_pmf);
    total += term;
    if (dx > static_cast<double>(n) * p + 10.0 && term < 1e-300) break;  // past the tail
  }
  return total;
}

double expected_drops(const SwitchLayerConfig& c, const std::vector<double>& expert_probability) {
  double per_group = 0.0;
  for (double p : expert_probability) per_group += expected_binomial_excess(c.group_tokens(), p, c.capacity());
  return per_group * static_cast<double>(c.groups());
}

std::vector<double> zipf_probabilities(std::int64_t experts, double exponent) {
  std::vector<double> p(static_cast<std::size_t>(experts));
  double sum = 0.0;
  for (std::int64_t i = 0; i < experts; ++i) {
    p[static_cast<std::size_t>(i)] = 1.0 / std::pow(static_cast<double>(i + 1), exponent);
    sum += p[static_cast<std::size_t>(i)];
  }
  for (auto& v : p) v /= sum;
  return p;
}

RouterOutput synthetic_routing(const SwitchLayerConfig& c, const std::vector<double>& expert_probability,
                               std::uint64_t seed) {
  if (c.top_k != 1) throw InputError("top_k", "synthetic routing is top-1");
  if (static_cast<std::int64_t>(expert_probability.size()) != c.experts) {
    throw InputError("expert_probability", "needs one probability per expert");
  }
  std::mt19937_64 rng(seed);
  std::discrete_distribution<std::int32_t> pick(expert_probability.begin(), expert_probability.end());
  RouterOutput r;
  const auto T = static_cast<std::size_t>(c.tokens);
  r.expert.resize(T);
  r.gate.assign(T, 1.0f);
  r.fraction_routed.assign(static_cast<std::size_t>(c.experts), 0.0);
  for (auto& e : r.expert) {
    e = pick(rng);
    r.fraction_routed[static_cast<std::size_t>(e)] += 1.0 / static_cast<double>(T);
  }
  r.mean_probability = expert_probability;
  double dot = 0.0;
  for (std::size_t i = 0; i < expert_probability.size(); ++i) dot += r.fraction_routed[i] * r.mean_probability[i];
  r.aux_loss = c.aux_loss_alpha * static_cast<double>(c.experts) * dot;
  return r;
}

}  // namespace switchsim::kernels
