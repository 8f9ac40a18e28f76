// The CPU expert FFN's vectorized activations (kernels/cpu/activation.hpp)
// against the tanh-form GELU and the SiLU computed in double precision.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"

using namespace switchsim::kernels;

namespace {
double gelu_reference(double v) { return 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
// silu(v) = v / (1 + e^-v), straight from the definition (std::exp in double; e^-v overflows to
// inf below v = -709, where v / inf = 0 is the correct limit).
double silu_reference(double v) { return v / (1.0 + std::exp(-v)); }
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

TEST_CASE("fast SiLU agrees with the double-precision formula", "[kernels][switch]") {
  // sigmoid's relative error <= ~3e-7 (activation.hpp: exp's Taylor remainder 1.2e-7, weighted by
  // e / (1 + e) <= 1/2, plus two float roundings), then one more rounding in v * sigmoid: relative
  // error of silu <= 5e-7, checked on [-20, 20] step 1e-3 (silu(-20) = -4e-8: a relative bound
  // still, because both factors are computed to relative accuracy).
  double worst = 0.0;
  for (int i = -20000; i <= 20000; ++i) {
    const float v = static_cast<float>(i) * 1e-3f;
    if (i == 0) continue;
    const double ref = silu_reference(v);
    worst = std::max(worst, std::abs(static_cast<double>(cpu::silu_fast(v)) / ref - 1.0));
  }
  CHECK(worst < 5e-7);
  // Exact values and limits: silu(0) = 0 * 1/2 = 0; silu(v) = v where e^-v rounds away against 1
  // (v >= 17: e^-17 = 4e-8 < 2^-24); sigmoid is 0 from -87 down (silu(-100) is -3.7e-42 in
  // double, silu(-3e38) underflows to -0): zero, never NaN (no inf * 0) and not |v| times the
  // clamped exp (which would be ~5 at -3e38). Just above -87 it is still the formula's tiny value.
  CHECK(cpu::silu_fast(0.0f) == 0.0f);
  CHECK(cpu::silu_fast(30.0f) == 30.0f);
  CHECK(cpu::silu_fast(1e30f) == 1e30f);
  CHECK(cpu::silu_fast(-100.0f) == 0.0f);
  CHECK(cpu::silu_fast(-3e38f) == 0.0f);
  CHECK(cpu::silu_fast(-86.0f) < 0.0f);
  CHECK(cpu::silu_fast(-86.0f) == Approx(silu_reference(-86.0)).epsilon(1e-4));
  // sigmoid(1) = 1 / (1 + e^-1): a value away from every limit, against the closed form.
  CHECK(cpu::silu_fast(1.0f) == Approx(1.0 / (1.0 + std::exp(-1.0))).epsilon(5e-7));
  CHECK(cpu::silu_fast(-1.0f) == Approx(-std::exp(-1.0) / (1.0 + std::exp(-1.0))).epsilon(5e-7));
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

TEST_CASE("swiglu over a buffer: silu(h) * gate, tail included", "[kernels][switch]") {
  std::vector<float> h(1001), gate(1001);
  for (std::size_t i = 0; i < h.size(); ++i) {
    h[i] = static_cast<float>(static_cast<int>(i) - 500) * 0.02f;  // -10 .. 10
    gate[i] = -1.5f + static_cast<float>(i % 5);
  }
  std::vector<float> s = h;
  cpu::swiglu_inplace(s.data(), gate.data(), static_cast<std::int64_t>(s.size()));
  for (std::size_t i = 0; i < h.size(); ++i) {
    REQUIRE(s[i] == cpu::silu_fast(h[i]) * gate[i]);
    // and against the definition in double: relative 5e-7 of silu plus one rounding of the product.
    REQUIRE(s[i] == Approx(silu_reference(h[i]) * gate[i]).epsilon(1e-6).margin(1e-30));
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
