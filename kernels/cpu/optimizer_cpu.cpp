#include "kernels/cpu/optimizer_cpu.hpp"

#include <cmath>

#include "common/errors.hpp"
#include "kernels/cpu/parallel.hpp"

namespace switchsim::kernels::cpu {

void adam_update(const AdamSettings& s, const std::vector<float>& grad, std::vector<float>& weight,
                 std::vector<float>& m, std::vector<float>& v) {
  if (weight.size() != grad.size() || m.size() != grad.size() || v.size() != grad.size()) {
    throw InputError("optimizer", "gradient, weights and moments must have the same size");
  }
  if (s.step < 1) throw InputError("optimizer", "step must be >= 1");
  const float c1 = 1.0f / (1.0f - std::pow(s.beta1, static_cast<float>(s.step)));
  const float c2 = 1.0f / (1.0f - std::pow(s.beta2, static_cast<float>(s.step)));
  const auto n = static_cast<std::int64_t>(grad.size());
  // Threads for >= 256 Ki parameters each (7 MiB of traffic): a memory pass.
  parallel_for(n, 1 << 18, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const auto u = static_cast<std::size_t>(i);
      const float g = grad[u];
      m[u] = s.beta1 * m[u] + (1.0f - s.beta1) * g;
      v[u] = s.beta2 * v[u] + (1.0f - s.beta2) * g * g;
      weight[u] -= s.lr * (m[u] * c1) / (std::sqrt(v[u] * c2) + s.eps);
    }
  });
}

}  // namespace switchsim::kernels::cpu
