// The CPU expert FFN's vectorized activations (kernels/cpu/activation.hpp)
// against the tanh-form GELU computed in double precision.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"

using namespace switchsim::kernels;

namespace {
double gelu_reference(double v) { return 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
}  // namespace

TEST_CASE("fast GELU agrees with the double-precision formula", "[kernels][switch]") {
  // tanh's absolute error is <= 2e-7 (activation.hpp), so gelu's is <= 0.5 |v| * 2e-7
  // plus float rounding of v^3 and the products (a few ulp of max(1, |v|)):
  // bound 3e-7 * max(1, |v|).
  double worst = 0.0;
  for (int i = -20000; i <= 20000; ++i) {
    const float v = static_cast<float>(i) * 1e-3f;
    const double err = std::abs(static_cast<double>(cpu::gelu_tanh_fast(v)) - gelu_reference(v));
    worst = std::max(worst, err / std::max(1.0, std::abs(static_cast<double>(v))));
  }
  CHECK(worst < 3e-7);
  // Exact limits: gelu(0) = 0, gelu(v) = v for large v (tanh -> 1), 0 for very negative v.
  CHECK(cpu::gelu_tanh_fast(0.0f) == 0.0f);
  CHECK(cpu::gelu_tanh_fast(30.0f) == 30.0f);
  CHECK(cpu::gelu_tanh_fast(-30.0f) == 0.0f);
  // The standard-library reference in switch_layer_cpu.hpp agrees too.
  CHECK(cpu::gelu_tanh_fast(1.5f) == Approx(cpu::gelu_tanh(1.5f)).epsilon(1e-6));
}

TEST_CASE("relu and geglu over a buffer", "[kernels][switch]") {
  // 1001 elements: not a multiple of the vector width, so the scalar tail runs too.
  std::vector<float> h(1001), gate(1001);
  for (std::size_t i = 0; i < h.size(); ++i) {
    h[i] = static_cast<float>(static_cast<int>(i) - 500) * 0.01f;  // -5 .. 5
    gate[i] = 0.5f + static_cast<float>(i % 7);
  }
  std::vector<float> r = h;
  cpu::relu_inplace(r.data(), static_cast<std::int64_t>(r.size()));
  std::vector<float> g = h;
  cpu::geglu_inplace(g.data(), gate.data(), static_cast<std::int64_t>(g.size()));
  for (std::size_t i = 0; i < h.size(); ++i) {
    REQUIRE(r[i] == (h[i] > 0.0f ? h[i] : 0.0f));
    REQUIRE(g[i] == cpu::gelu_tanh_fast(h[i]) * gate[i]);
  }
}

TEST_CASE("vectorized exp of non-positive values (the router's softmax)", "[kernels][switch]") {
  // Relative error: Taylor remainder 1.2e-7 plus a few float roundings (activation.hpp): bound 4e-7,
  // down to -80 (exp(-80) = 1.8e-35); below that, 2^n * p can fall under the smallest normal
  // float (1.2e-38) and lose bits: checked separately to 1e-4.
  std::vector<float> v;
  for (int i = 0; i <= 80000; ++i) v.push_back(-static_cast<float>(i) * 1e-3f);
  std::vector<float> e = v;
  cpu::exp_nonpositive_inplace(e.data(), static_cast<std::int64_t>(e.size()));
  double worst = 0.0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(e[i]) / std::exp(static_cast<double>(v[i])) - 1.0));
  }
  CHECK(worst < 4e-7);
  CHECK(e[0] == 1.0f);  // exp(0) = 1 exactly: n = 0, r = 0, p = 1
  std::vector<float> deep;
  for (int i = 0; i <= 7000; ++i) deep.push_back(-80.0f - static_cast<float>(i) * 1e-3f);
  std::vector<float> ed = deep;
  cpu::exp_nonpositive_inplace(ed.data(), static_cast<std::int64_t>(ed.size()));
  for (std::size_t i = 0; i < deep.size(); ++i) {
    REQUIRE(std::abs(static_cast<double>(ed[i]) / std::exp(static_cast<double>(deep[i])) - 1.0) < 1e-4);
  }
  // Below -87 the argument is clamped: a tiny positive normal value, never NaN or garbage.
  std::vector<float> low = {-100.0f, -1e30f};
  cpu::exp_nonpositive_inplace(low.data(), 2);
  CHECK(low[0] > 0.0f);
  CHECK(low[0] < 1e-37f);
  CHECK(low[1] == low[0]);
}

TEST_CASE("max_of, sum_of and relu_backward, with lengths that are not multiples of 8", "[kernels][switch]") {
  for (const std::int64_t n : {1, 7, 8, 9, 23, 512}) {
    std::vector<float> v(static_cast<std::size_t>(n)), da(v.size()), dh(v.size(), 99.0f);
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      v[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 0.3));
      da[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
      sum += v[static_cast<std::size_t>(i)];
    }
    v[static_cast<std::size_t>(n - 1)] = 5.0f;  // the maximum in the tail
    sum += 5.0 - std::sin(0.7 * static_cast<double>(n - 1) + 0.3);
    CHECK(cpu::max_of(v.data(), n) == 5.0f);
    CHECK(cpu::sum_of(v.data(), n) == Approx(sum).margin(1e-5));
    cpu::relu_backward(v.data(), da.data(), dh.data(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto u = static_cast<std::size_t>(i);
      CHECK(dh[u] == (v[u] > 0.0f ? da[u] : 0.0f));
    }
  }
  const std::vector<float> neg{-3.0f, -1.0f, -2.0f};
  CHECK(cpu::max_of(neg.data(), 3) == -1.0f);
}
