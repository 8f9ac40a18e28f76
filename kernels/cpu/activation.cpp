#include "kernels/cpu/activation.hpp"

#include <bit>
#include <cmath>

namespace switchsim::kernels::cpu {

namespace {

// exp(y) for -87 <= y <= 0 (see activation.hpp): n >= -126, so 2^n is a normal float.
inline float exp_small_negative(float y) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRound = 12582912.0f;        // 1.5 * 2^23: adding and subtracting it rounds to an integer
  constexpr float kLn2Hi = 0.693359375f;       // few mantissa bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;    // ln 2 - kLn2Hi
  const float n = (y * kLog2e + kRound) - kRound;
  const float r = (y - n * kLn2Hi) - n * kLn2Lo;
  const float p =
      1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f + r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
  const auto exponent_bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(exponent_bits);
}

inline float tanh_fast(float u) {
  const float magnitude = std::abs(u);
  const float a = magnitude < 9.0f ? magnitude : 9.0f;
  const float e = exp_small_negative(-2.0f * a);
  return std::copysign((1.0f - e) / (1.0f + e), u);
}

// GELU, tanh form: 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))).
inline float gelu_tanh(float v) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * v * (1.0f + tanh_fast(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
}

// SiLU: v sigmoid(v), sigmoid from e = exp(-min(|v|, 87)) <= 1 (activation.hpp): every arm
// computed, then selected, so that the loop vectorizes. Below -87 the sigmoid is taken as 0 (the
// clamped e would leave |v| * 1.6e-38, which is ~5 at v = -3e38).
inline float silu(float v) {
  const float magnitude = std::abs(v);
  const float a = magnitude < 87.0f ? magnitude : 87.0f;
  const float e = exp_small_negative(-a);
  const float numerator = v >= 0.0f ? 1.0f : (magnitude < 87.0f ? e : 0.0f);
  return v * (numerator / (1.0f + e));
}

}  // namespace

float gelu_tanh_fast(float v) { return gelu_tanh(v); }
float silu_fast(float v) { return silu(v); }

void exp_nonpositive_inplace(float* v, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float y = v[i] > -87.0f ? v[i] : -87.0f;
    v[i] = exp_small_negative(y);
  }
}

float max_of(const float* v, std::int64_t n) {
  float acc[8];
  for (float& a : acc) a = v[0];
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) acc[u] = acc[u] > v[j + u] ? acc[u] : v[j + u];
  float m = acc[0];
  for (int u = 1; u < 8; ++u) m = m > acc[u] ? m : acc[u];
  for (; j < n; ++j) m = m > v[j] ? m : v[j];
  return m;
}

float sum_of(const float* v, std::int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) acc[u] += v[j + u];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < n; ++j) s += v[j];
  return s;
}

void relu_backward(const float* a, const float* da, float* dh, std::int64_t n) {
  // Both operands loaded unconditionally: GCC does not vectorize a select whose one arm is a load
  // it would have to speculate.
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = da[i];
    dh[i] = a[i] > 0.0f ? g : 0.0f;
  }
}

void relu_inplace(float* h, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
}

void geglu_inplace(float* h, const float* gate, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) h[i] = gelu_tanh(h[i]) * gate[i];
}

void swiglu_inplace(float* h, const float* gate, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) h[i] = silu(h[i]) * gate[i];
}

}  // namespace switchsim::kernels::cpu
