#include "kernels/cpu/switch_layer_backward_cpu.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/errors.hpp"
#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/blas_index.hpp"
#include "kernels/cpu/parallel.hpp"

namespace switchsim::kernels::cpu {

namespace {

// The tanh-form GELU and its derivative (formulas in the header), in float64 then rounded: the
// backward is not the bottleneck of anything measured here, its accuracy is what is tested.
void gelu_and_derivative(float h, float& gelu, float& derivative) {
  constexpr double c = 0.7978845608028654, b = 0.044715;
  const double v = h;
  const double th = std::tanh(c * (v + b * v * v * v));
  gelu = static_cast<float>(0.5 * v * (1.0 + th));
  derivative = static_cast<float>(0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * c * (1.0 + 3.0 * b * v * v));
}

// SiLU and its derivative, in float64 then rounded (as the GELU above):
//   silu(h) = h s,  s = sigmoid(h) = 1 / (1 + e^-h)
//   silu'(h) = s + h s (1 - s) = s (1 + h (1 - s))      (sigmoid' = s (1 - s))
// s from e^-|h| <= 1 (never overflows): s = 1 / (1 + e^-|h|) for h >= 0, e^-|h| / (1 + e^-|h|) below.
void silu_and_derivative(float h, float& silu, float& derivative) {
  const double v = h;
  const double e = std::exp(-std::abs(v));
  const double sig = (v >= 0.0 ? 1.0 : e) / (1.0 + e);
  silu = static_cast<float>(v * sig);
  derivative = static_cast<float>(sig * (1.0 + v * (1.0 - sig)));
}

// sum_i a_i b_i in float, in 8 independent partial sums so that the compiler vectorizes it (a
// single accumulator, as a float64 one was, is a serial chain of ~4 cycles per element: at
// d = 64 that made combine_backward twice the time of its memory traffic).
float dot8(const float* a, const float* b, std::int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) acc[u] += a[i + u] * b[i + u];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

void combine_backward(const SwitchLayerConfig& c, const std::vector<float>& gate, const std::vector<std::int32_t>& expert,
                      const CapacityAssignment& a, const std::vector<float>& expert_out, const std::vector<float>& dy,
                      SwitchLayerBackwardScratch& s) {
  const std::int64_t T = c.tokens, d = c.d_model, k = c.top_k;
  s.d_out.assign(sz(c.buffer_rows() * d), 0.0f);  // padding rows: no gradient
  s.d_gate.assign(sz(T * k), 0.0f);
  // Each buffer row belongs to one (token, choice): the tokens' writes never overlap.
  parallel_for(T, std::max<std::int64_t>(64, 262144 / (d * k)), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      const float* dy_t = dy.data() + t * d;
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int32_t slot = a.slot[sz(t * k + j)];
        if (slot < 0) continue;  // dropped: the output did not depend on it
        const std::int64_t r = a.row(expert[sz(t * k + j)], slot);
        const float g = gate[sz(t * k + j)];
        float* d_o = s.d_out.data() + r * d;
        const float* o = expert_out.data() + r * d;
        for (std::int64_t i = 0; i < d; ++i) d_o[i] = g * dy_t[i];
        s.d_gate[sz(t * k + j)] = dot8(dy_t, o, d);
      }
    }
  });
}

void expert_backward(const SwitchLayerConfig& c, const SwitchLayerWeights& w, const CapacityAssignment& a,
                     const std::vector<float>& in, SwitchLayerBackwardScratch& s, SwitchLayerGrads& g,
                     const std::vector<float>* relu_hidden) {
  const std::int64_t E = c.experts, rows = c.buffer_rows(), d = c.d_model, f = c.d_ff;
  const bool gated = c.gated();  // geglu, swiglu: u = in Wg multiplies the activation
  if (relu_hidden != nullptr && (gated || relu_hidden->size() != sz(rows * f))) {
    throw InputError("relu_hidden", "only for a ReLU layer, of buffer_rows x d_ff values");
  }
  s.h.resize(sz(rows * f));
  s.da.resize(sz(rows * f));
  s.act.resize(sz(rows * f));
  if (gated) s.u.resize(sz(rows * f));
  // Every expert's block is written whole by the products below (beta = 0), so only what no block
  // covers is zeroed: the weight gradients of an expert without rows, and buffer rows past the last
  // block (none in capacity mode, where the blocks tile the E x S rows). Zeroing everything first
  // was a pass over 2 E d f weights per step that the simulated step does not have.
  s.d_in.resize(sz(rows * d));
  const std::int64_t covered = a.expert_offsets[sz(E)];
  std::fill(s.d_in.begin() + covered * d, s.d_in.end(), 0.0f);
  g.d_wi.resize(sz(E * d * f));
  g.d_wo.resize(sz(E * f * d));
  if (gated) g.d_wi_gate.resize(sz(E * d * f));
  for (std::int64_t e = 0; e < E; ++e) {
    const std::int64_t off = a.expert_offsets[sz(e)], n = a.expert_offsets[sz(e + 1)] - off;
    if (n == 0) {  // no rows: zero weight gradients
      std::fill_n(g.d_wi.begin() + e * d * f, d * f, 0.0f);
      std::fill_n(g.d_wo.begin() + e * f * d, f * d, 0.0f);
      if (gated) std::fill_n(g.d_wi_gate.begin() + e * d * f, d * f, 0.0f);
      continue;
    }
    const float* in_e = in.data() + off * d;
    const float* d_out_e = s.d_out.data() + off * d;
    float* h = s.h.data() + off * f;
    float* u = gated ? s.u.data() + off * f : nullptr;
    float* da = s.da.data() + off * f;
    float* act = s.act.data() + off * f;
    const float* wi = w.wi.data() + e * d * f;
    const float* wo = w.wo.data() + e * f * d;
    // Recompute h = in Wi (and u = in Wg), unless the forward's relu(h) is given; d a = d o Wo^T.
    const float* h_fwd = relu_hidden != nullptr ? relu_hidden->data() + off * f : h;
    if (relu_hidden == nullptr) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(n), blas_int(f), blas_int(d), 1.0f, in_e,
                  blas_int(d), wi, blas_int(f), 0.0f, h, blas_int(f));
    }
    if (gated) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(n), blas_int(f), blas_int(d), 1.0f, in_e,
                  blas_int(d), w.wi_gate.data() + e * d * f, blas_int(f), 0.0f, u, blas_int(f));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(n), blas_int(f), blas_int(d), 1.0f, d_out_e,
                blas_int(d), wo, blas_int(d), 0.0f, da, blas_int(f));
    // a, and d h (into h) and d u (into u). The forward's relu(h), when given, is a itself.
    const float* a_fwd = relu_hidden != nullptr ? h_fwd : act;
    // Gated (a = phi(h) u, phi = gelu or silu): d h = d a u phi'(h), d u = d a phi(h).
    if (gated) {
      const bool swiglu = c.activation == Activation::swiglu;
      for (std::int64_t i = 0; i < n * f; ++i) {
        float phi = 0.0f, dphi = 0.0f;
        if (swiglu) {
          silu_and_derivative(h[i], phi, dphi);
        } else {
          gelu_and_derivative(h[i], phi, dphi);
        }
        act[i] = phi * u[i];
        h[i] = da[i] * u[i] * dphi;
        u[i] = da[i] * phi;
      }
    } else {
      if (relu_hidden == nullptr) {  // recomputed h -> a = relu(h) into act
        relu_inplace(h, n * f);
        std::copy_n(h, n * f, act);
      }
      relu_backward(a_fwd, da, h, n * f);  // d h into h
    }
    // dWo = a^T d o;  dWi = in^T d h;  dWg = in^T d u.
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(f), blas_int(d), blas_int(n), 1.0f, a_fwd, blas_int(f),
                d_out_e, blas_int(d), 0.0f, g.d_wo.data() + e * f * d, blas_int(d));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(d), blas_int(f), blas_int(n), 1.0f, in_e, blas_int(d),
                h, blas_int(f), 0.0f, g.d_wi.data() + e * d * f, blas_int(f));
    // d in = d h Wi^T (+ d u Wg^T).
    float* d_in_e = s.d_in.data() + off * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(n), blas_int(d), blas_int(f), 1.0f, h, blas_int(f), wi,
                blas_int(f), 0.0f, d_in_e, blas_int(d));
    if (gated) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(d), blas_int(f), blas_int(n), 1.0f, in_e,
                  blas_int(d), u, blas_int(f), 0.0f, g.d_wi_gate.data() + e * d * f, blas_int(f));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(n), blas_int(d), blas_int(f), 1.0f, u, blas_int(f),
                  w.wi_gate.data() + e * d * f, blas_int(f), 1.0f, d_in_e, blas_int(d));
    }
  }
}

void dispatch_backward(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, const CapacityAssignment& a,
                       const SwitchLayerBackwardScratch& s, SwitchLayerGrads& g) {
  const std::int64_t T = c.tokens, d = c.d_model, k = c.top_k;
  g.dx.assign(sz(T * d), 0.0f);
  parallel_for(T, std::max<std::int64_t>(64, 262144 / (d * k)), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      float* dx_t = g.dx.data() + t * d;
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int32_t slot = a.slot[sz(t * k + j)];
        if (slot < 0) continue;
        const float* d_in = s.d_in.data() + a.row(expert[sz(t * k + j)], slot) * d;
        for (std::int64_t i = 0; i < d; ++i) dx_t[i] += d_in[i];
      }
    }
  });
}

void router_backward(const SwitchLayerConfig& c, const float* x, const float* router_w, const std::vector<float>& probs,
                     const RouterOutput& routing, const CapacityAssignment& a, SwitchLayerBackwardScratch& s,
                     SwitchLayerGrads& g) {
  const std::int64_t T = c.tokens, d = c.d_model, E = c.experts, k = c.top_k;
  SWITCHSIM_ASSERT(static_cast<std::int64_t>(probs.size()) == T * E, "router probabilities are (T, E)");
  SWITCHSIM_ASSERT(static_cast<std::int64_t>(routing.fraction_routed.size()) == E, "f_i has E entries");
  s.d_logits.resize(sz(T * E));
  // d aux / d p_t[i] = alpha E f_i / T (f_i: argmax fractions, no gradient).
  std::vector<double> aux_grad(sz(E));
  for (std::int64_t e = 0; e < E; ++e) {
    aux_grad[sz(e)] = c.aux_loss_alpha * static_cast<double>(E) * routing.fraction_routed[sz(e)] / static_cast<double>(T);
  }
  // Threads only where each gets >= 2048 tokens, as the forward router (switch_layer_cpu.cpp): with
  // 256, a 1024-token layer started a thread per call for a ~50 us loop, and on a loaded machine
  // waiting for that thread to be scheduled took milliseconds (validate --step's router backward).
  parallel_for(T, 2048, [&](std::int64_t begin, std::int64_t end) {
    std::vector<double> dp(sz(E));
    for (std::int64_t t = begin; t < end; ++t) {
      const float* p = probs.data() + t * E;
      for (std::int64_t e = 0; e < E; ++e) dp[sz(e)] = aux_grad[sz(e)];
      for (std::int64_t j = 0; j < k; ++j) {
        if (a.slot[sz(t * k + j)] < 0) continue;
        dp[sz(routing.expert[sz(t * k + j)])] += s.d_gate[sz(t * k + j)];
      }
      double dot = 0.0;
      for (std::int64_t e = 0; e < E; ++e) dot += static_cast<double>(p[e]) * dp[sz(e)];
      float* dz = s.d_logits.data() + t * E;
      for (std::int64_t e = 0; e < E; ++e) dz[e] = static_cast<float>(static_cast<double>(p[e]) * (dp[sz(e)] - dot));
    }
  });
  g.d_router.resize(sz(d * E));
  // dWr = x^T d z;  dx += d z Wr^T.
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(d), blas_int(E), blas_int(T), 1.0f, x, blas_int(d),
              s.d_logits.data(), blas_int(E), 0.0f, g.d_router.data(), blas_int(E));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(T), blas_int(d), blas_int(E), 1.0f, s.d_logits.data(),
              blas_int(E), router_w, blas_int(E), 1.0f, g.dx.data(), blas_int(d));
}

void switch_layer_backward(const SwitchLayerConfig& c, const SwitchLayerProblem& p, const std::vector<float>& probs,
                           const RouterOutput& routing, const CapacityAssignment& a, const std::vector<float>& in,
                           const std::vector<float>& expert_out, const std::vector<float>& dy,
                           SwitchLayerBackwardScratch& s, SwitchLayerGrads& g) {
  if (static_cast<std::int64_t>(dy.size()) != c.tokens * c.d_model) throw InputError("dy", "must be (tokens, d_model)");
  combine_backward(c, routing.gate, routing.expert, a, expert_out, dy, s);
  expert_backward(c, p.weights, a, in, s, g);
  dispatch_backward(c, routing.expert, a, s, g);
  router_backward(c, p.x.data(), p.weights.router.data(), probs, routing, a, s, g);
}

}  // namespace switchsim::kernels::cpu
