#include "workloads/rng.hpp"

#include <numbers>

#include "common/errors.hpp"

namespace switchsim::workloads {

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - uniform01();  // (0, 1]
  const double u2 = uniform01();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

double Rng::gamma(double shape) {
  SWITCHSIM_ASSERT(shape > 0.0, "gamma shape must be positive");
  if (shape < 1.0) {
    const double g = gamma(shape + 1.0);
    const double u = 1.0 - uniform01();
    return g * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - uniform01();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::vector<double> Rng::dirichlet(const std::vector<double>& alpha) {
  std::vector<double> out(alpha.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < alpha.size(); ++i) {
    out[i] = gamma(alpha[i]);
    sum += out[i];
  }
  if (!(sum > 0.0)) {
    // Every gamma underflowed (tiny alpha): all mass on one draw, uniformly chosen.
    std::fill(out.begin(), out.end(), 0.0);
    out[below(out.size())] = 1.0;
    return out;
  }
  for (double& x : out) x /= sum;
  return out;
}

AliasTable::AliasTable(const std::vector<double>& weights) {
  const std::size_t n = weights.size();
  SWITCHSIM_ASSERT(n > 0, "alias table needs at least one weight");
  double total = 0.0;
  for (double w : weights) total += w;
  SWITCHSIM_ASSERT(total > 0.0, "alias table weights must not all be zero");
  prob_.assign(n, 0.0);
  alias_.assign(n, 0);
  std::vector<double> scaled(n);
  std::vector<std::int64_t> small;
  std::vector<std::int64_t> large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::int64_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::int64_t s = small.back();
    small.pop_back();
    const std::int64_t l = large.back();
    prob_[static_cast<std::size_t>(s)] = scaled[static_cast<std::size_t>(s)];
    alias_[static_cast<std::size_t>(s)] = l;
    scaled[static_cast<std::size_t>(l)] -= 1.0 - scaled[static_cast<std::size_t>(s)];
    if (scaled[static_cast<std::size_t>(l)] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (std::int64_t i : large) prob_[static_cast<std::size_t>(i)] = 1.0;
  for (std::int64_t i : small) prob_[static_cast<std::size_t>(i)] = 1.0;
}

std::int64_t AliasTable::sample(Rng& rng) const {
  const std::uint32_t i = rng.below32(static_cast<std::uint32_t>(prob_.size()));
  const double coin = static_cast<double>(rng.bits(32)) * 0x1.0p-32;
  return coin < prob_[i] ? static_cast<std::int64_t>(i) : alias_[i];
}

}  // namespace switchsim::workloads
