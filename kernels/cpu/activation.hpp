#pragma once
// Elementwise activations of the CPU expert FFN, over whole (E, S, d_ff)
// buffers. activation.cpp is compiled with -fno-trapping-math so that GCC
// vectorizes these loops (it keeps floating-point compares as branches
// otherwise); nothing in switchsim reads floating-point exception flags.
//
// gelu (tanh form): gelu(v) = 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))),
// with tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2 min(|u|, 9))
// (tanh(9) = 1 - 3e-8 rounds to 1.0f), and exp(y), -87 <= y <= 0, as
// 2^n e^r with n = round(y / ln 2), r = y - n ln 2 (two-part ln 2, |r| <= ln2/2)
// and e^r by its degree-6 Taylor polynomial (relative error <= 0.347^7/7! =
// 1.2e-7). Absolute error of tanh <= 2e-7: glibc's tanhf gives the same
// results to ~1 ulp, but is a call per element that does not vectorize
// (~20 ns per element here against ~1 ns).
//
// silu (SwiGLU's activation): silu(v) = v sigmoid(v), with
// sigmoid(v) = 1 / (1 + e) for v >= 0 and e / (1 + e) for v < 0, e = exp(-min(|v|, 87))
// (the same exp; never overflows), and sigmoid(v) = 0 for v <= -87. For |v| >= 87, sigmoid(v)
// is 1 within 1e-38 or below 1.7e-38, so silu(v) = v, or -0 where the true value is below
// |v| 1.7e-38 (1.5e-36 at v = -87, and exp(-v) makes it vanish further out). Relative error of
// sigmoid: exp's ~2e-7 times e / (1 + e) <= 1/2, plus the division: <= ~3e-7.

#include <cstdint>

namespace switchsim::kernels::cpu {

// tanh-form GELU of one value (the formula above).
[[nodiscard]] float gelu_tanh_fast(float v);
// SiLU of one value (the formula above).
[[nodiscard]] float silu_fast(float v);

// v[i] = exp(v[i]) for v[i] <= 0 (the router's softmax, after subtracting
// each row's maximum): the exp above with y clamped to >= -87 (exp(-87) =
// 1.6e-38, the smallest normal float's neighbourhood); relative error ~2e-7
// down to -80, ~1e-5 below (results near the smallest normal float lose bits).
void exp_nonpositive_inplace(float* v, std::int64_t n);

// max_j v[j] and sum_j v[j] for n >= 1, each in 8 independent partial results so that the
// compiler vectorizes them (one accumulator is a serial dependency chain of n compares or adds,
// ~4 cycles per element; the step's softmax cross-entropy over a 512-word vocabulary spent more
// time in those two loops than in its exponentials).
[[nodiscard]] float max_of(const float* v, std::int64_t n);
[[nodiscard]] float sum_of(const float* v, std::int64_t n);

// ReLU's backward: dh[i] = a[i] > 0 ? da[i] : 0, a = relu(h) of the forward. Here (compiled
// with -fno-trapping-math) the select is a vector blend; written inline where a branch was
// kept, it mispredicted on half the elements (random signs) and cost the step's expert backward
// more than its four matrix products' difference from the forward.
void relu_backward(const float* a, const float* da, float* dh, std::int64_t n);

// h[i] = max(h[i], 0) for i in [0, n).
void relu_inplace(float* h, std::int64_t n);
// h[i] = gelu(h[i]) * gate[i] for i in [0, n).
void geglu_inplace(float* h, const float* gate, std::int64_t n);
// h[i] = silu(h[i]) * gate[i] for i in [0, n) (SwiGLU).
void swiglu_inplace(float* h, const float* gate, std::int64_t n);

}  // namespace switchsim::kernels::cpu
