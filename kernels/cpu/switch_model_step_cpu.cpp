#include "kernels/cpu/switch_model_step_cpu.hpp"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <utility>

#include "common/errors.hpp"
#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/attention_cpu.hpp"
#include "kernels/cpu/blas_index.hpp"
#include "kernels/cpu/optimizer_cpu.hpp"
#include "kernels/cpu/switch_layer_backward_cpu.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"

namespace switchsim::kernels::cpu {

void SwitchModelConfig::validate() const {
  const std::pair<const char*, std::int64_t> sizes[] = {
      {"sequences", sequences}, {"input_length", input_length}, {"target_length", target_length},
      {"d_model", d_model},     {"heads", heads},               {"d_kv", d_kv},
      {"d_ff", d_ff},           {"experts", experts},           {"vocab", vocab},
      {"encoder_layers", encoder_layers}, {"decoder_layers", decoder_layers}};
  for (const auto& [name, v] : sizes) {
    if (v <= 0) throw InputError(name, "must be positive");
    // A small model for a CPU step: every dimension below 2^16 keeps each buffer addressable
    // by a BLAS int and a typo from allocating the machine.
    if (v > 65536) throw InputError(name, "must be at most 65536 (a small CPU model)");
  }
  if (!(capacity_factor > 0.0) || !std::isfinite(capacity_factor)) {
    throw InputError("capacity_factor", "must be positive");
  }
  if (encoder_tokens() * std::max(d_model, vocab) > (std::int64_t{1} << 28) ||
      decoder_tokens() * std::max(d_model, vocab) > (std::int64_t{1} << 28)) {
    throw InputError("sequences", "the step's activations exceed 1 GiB per tensor");
  }
}

const char* to_string(StepPhase p) {
  switch (p) {
    case StepPhase::forward: return "forward";
    case StepPhase::backward: return "backward";
    case StepPhase::optimizer: return "optimizer";
  }
  return "?";
}

namespace {

using Vec = std::vector<float>;

// C (m, n) = op(A) op(B) (+ C when accumulate), row-major.
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, const float* b, float* c,
          bool accumulate = false) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blas_int(m), blas_int(n),
              blas_int(k), 1.0f, a, blas_int(ta ? m : k), b, blas_int(tb ? k : n), accumulate ? 1.0f : 0.0f, c,
              blas_int(n));
}

void fill_uniform(Vec& v, std::int64_t n, double scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(static_cast<float>(-scale), static_cast<float>(scale));
  v.resize(sz(n));
  for (float& x : v) x = u(rng);
}

// sum_j a_j b_j in float, in 8 independent partial sums so that the compiler vectorizes it (a single
// float accumulator is a serial dependency chain it may not reorder).
float dot(const float* a, const float* b, std::int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) acc[u] += a[j + u] * b[j + u];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

// RMS norm (T5's layer norm: no mean, no bias): y = x / rms(x) * gamma, rms over d.
struct Norm {
  Vec gamma, d_gamma;
  Vec inv_rms;  // (T) saved for the backward
  Vec gx;       // (d) scratch: gamma * x of one row
  void forward(const Vec& x, std::int64_t T, std::int64_t d, Vec& y) {
    y.resize(x.size());
    inv_rms.resize(sz(T));
    for (std::int64_t t = 0; t < T; ++t) {
      const float* xt = x.data() + t * d;
      const float r = 1.0f / std::sqrt(dot(xt, xt, d) / static_cast<float>(d) + 1e-6f);
      inv_rms[sz(t)] = r;
      float* yt = y.data() + t * d;
      for (std::int64_t j = 0; j < d; ++j) yt[j] = xt[j] * r * gamma[sz(j)];
    }
  }
  // dx = r gamma dy - x r^3 / d * sum_j dy_j gamma_j x_j;  d gamma_j = sum_t dy_tj x_tj r_t.
  void backward(const Vec& x, const Vec& dy, std::int64_t T, std::int64_t d, Vec& dx) {
    dx.resize(x.size());
    d_gamma.assign(sz(d), 0.0f);
    gx.resize(sz(d));
    for (std::int64_t t = 0; t < T; ++t) {
      const float* xt = x.data() + t * d;
      const float* dyt = dy.data() + t * d;
      const float r = inv_rms[sz(t)];
      for (std::int64_t j = 0; j < d; ++j) {
        gx[sz(j)] = gamma[sz(j)] * xt[j];
        d_gamma[sz(j)] += dyt[j] * xt[j] * r;
      }
      const float c = dot(dyt, gx.data(), d) * r * r * r / static_cast<float>(d);
      float* dxt = dx.data() + t * d;
      for (std::int64_t j = 0; j < d; ++j) dxt[j] = r * gamma[sz(j)] * dyt[j] - xt[j] * c;
    }
  }
};

void add(const Vec& a, const Vec& b, Vec& out) {
  out.resize(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
}

}  // namespace

struct SwitchModelStepCpu::Impl {
  SwitchModelConfig c;
  std::vector<StepOpTime>* rec = nullptr;

  template <class F>
  void timed(const std::string& name, const char* category, StepPhase phase, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rec != nullptr) rec->push_back(StepOpTime{name, category, phase, s});
  }

  struct Param {
    Vec* w;
    Vec* g;
    Vec m, v;
  };
  std::vector<Param> params;
  void add_param(Vec& w, Vec& g) { params.push_back(Param{&w, &g, Vec(w.size(), 0.0f), Vec(w.size(), 0.0f)}); }

  // One attention block (self, or cross with K, V from `kv_src`).
  struct Attention {
    std::string name;  // "enc0.self"
    bool cross = false, causal = false;
    std::int64_t T = 0, L = 0, Lk = 0, Tk = 0;  // queries' tokens and length; keys' length and tokens
    Norm norm;
    Vec w_in, dw_in;    // self: (d, 3i); cross: (d, i) (q)
    Vec w_kv, dw_kv;    // cross: (d, 2i)
    Vec w_out, dw_out;  // (i, d)
    // saved
    const Vec* x = nullptr;
    const Vec* kv_src = nullptr;
    Vec xn, proj, kvproj, p, o_flat, y, out;  // the heads live in proj / kvproj and o_flat
    // backward scratch, kept between steps (a training framework reuses its buffers too: a fresh
    // allocation per step would time the kernel's page faults, not the kernel)
    Vec d_o_flat, dp, d_proj, d_kvproj, dxn, dx_branch;
  };
  struct SwitchFfn {
    std::string name;  // "enc0.switch"
    SwitchLayerConfig cfg;
    Norm norm;
    SwitchLayerWeights w;
    SwitchLayerGrads g;
    SwitchLayerBackwardScratch s;
    const Vec* x = nullptr;
    Vec xn, probs, buffer, hidden, gate_hidden, eout, y, out, dx_branch;
    RouterOutput route;
    CapacityAssignment assign;
  };
  struct Layer {
    std::vector<Attention> attn;
    SwitchFfn ffn;
  };
  std::vector<Layer> enc, dec;
  Vec table, d_table;  // (vocab, d) embedding = output layer
  Vec final_norm_enc, final_norm_dec, d_final_enc, d_final_dec;  // counted, not applied (see header)
  std::vector<std::int32_t> enc_tokens, dec_tokens, targets;
  Vec x0, y0, logits, probs;
  Vec d_logits, dy, tmp, d_enc, d_input;  // backward, kept between steps
  AdamSettings adam;

  Attention make_attention(const std::string& name, bool cross, bool causal, std::int64_t T, std::int64_t L,
                           std::int64_t Tk, std::int64_t Lk, std::mt19937_64& rng) {
    const std::int64_t d = c.d_model, i = c.inner();
    Attention a;
    a.name = name;
    a.cross = cross;
    a.causal = causal;
    a.T = T;
    a.L = L;
    a.Tk = Tk;
    a.Lk = Lk;
    a.norm.gamma.assign(sz(d), 1.0f);
    const double s_in = 1.0 / std::sqrt(static_cast<double>(d)), s_out = 1.0 / std::sqrt(static_cast<double>(i));
    fill_uniform(a.w_in, d * (cross ? i : 3 * i), s_in, rng);
    if (cross) fill_uniform(a.w_kv, d * 2 * i, s_in, rng);
    fill_uniform(a.w_out, i * d, s_out, rng);
    return a;
  }
  void register_attention(Attention& a) {
    a.dw_in.assign(a.w_in.size(), 0.0f);
    a.dw_out.assign(a.w_out.size(), 0.0f);
    a.norm.d_gamma.assign(a.norm.gamma.size(), 0.0f);
    add_param(a.norm.gamma, a.norm.d_gamma);
    add_param(a.w_in, a.dw_in);
    if (a.cross) {
      a.dw_kv.assign(a.w_kv.size(), 0.0f);
      add_param(a.w_kv, a.dw_kv);
    }
    add_param(a.w_out, a.dw_out);
  }
  SwitchFfn make_ffn(const std::string& name, std::int64_t T, std::uint64_t seed) {
    SwitchFfn f;
    f.name = name;
    f.cfg.tokens = T;
    f.cfg.d_model = c.d_model;
    f.cfg.d_ff = c.d_ff;
    f.cfg.experts = c.experts;
    f.cfg.top_k = 1;
    f.cfg.capacity_factor = c.capacity_factor;
    f.cfg.group_size = 0;
    f.cfg.activation = Activation::relu;
    f.cfg.validate();
    SwitchLayerProblem p = make_random_problem(f.cfg, seed);
    f.w = std::move(p.weights);
    f.norm.gamma.assign(sz(c.d_model), 1.0f);
    return f;
  }
  void register_ffn(SwitchFfn& f) {
    f.norm.d_gamma.assign(f.norm.gamma.size(), 0.0f);
    f.g.d_router.assign(f.w.router.size(), 0.0f);
    f.g.d_wi.assign(f.w.wi.size(), 0.0f);
    f.g.d_wo.assign(f.w.wo.size(), 0.0f);
    add_param(f.norm.gamma, f.norm.d_gamma);
    add_param(f.w.router, f.g.d_router);
    add_param(f.w.wi, f.g.d_wi);
    add_param(f.w.wo, f.g.d_wo);
  }

  Impl(const SwitchModelConfig& config, std::uint64_t seed) : c(config) {
    c.validate();
    std::mt19937_64 rng(seed);
    const std::int64_t T = c.encoder_tokens(), U = c.decoder_tokens(), d = c.d_model;
    for (std::int64_t l = 0; l < c.encoder_layers; ++l) {
      const std::string n = "enc" + std::to_string(l);
      Layer L;
      L.attn.push_back(make_attention(n + ".self", false, false, T, c.input_length, T, c.input_length, rng));
      L.ffn = make_ffn(n + ".switch", T, seed + 101 + static_cast<std::uint64_t>(l));
      enc.push_back(std::move(L));
    }
    for (std::int64_t l = 0; l < c.decoder_layers; ++l) {
      const std::string n = "dec" + std::to_string(l);
      Layer L;
      L.attn.push_back(make_attention(n + ".self", false, true, U, c.target_length, U, c.target_length, rng));
      L.attn.push_back(make_attention(n + ".cross", true, false, U, c.target_length, T, c.input_length, rng));
      L.ffn = make_ffn(n + ".switch", U, seed + 201 + static_cast<std::uint64_t>(l));
      dec.push_back(std::move(L));
    }
    // Parameters registered once the layers stopped moving (Param holds pointers).
    fill_uniform(table, c.vocab * d, 1.0, rng);
    d_table.assign(table.size(), 0.0f);
    add_param(table, d_table);
    for (Layer& L : enc) {
      for (Attention& a : L.attn) register_attention(a);
      register_ffn(L.ffn);
    }
    for (Layer& L : dec) {
      for (Attention& a : L.attn) register_attention(a);
      register_ffn(L.ffn);
    }
    final_norm_enc.assign(sz(d), 1.0f);
    final_norm_dec.assign(sz(d), 1.0f);
    d_final_enc.assign(sz(d), 0.0f);
    d_final_dec.assign(sz(d), 0.0f);
    add_param(final_norm_enc, d_final_enc);
    add_param(final_norm_dec, d_final_dec);
    std::uniform_int_distribution<std::int32_t> tok(0, static_cast<std::int32_t>(c.vocab - 1));
    enc_tokens.resize(sz(T));
    dec_tokens.resize(sz(U));
    targets.resize(sz(U));
    for (auto& t : enc_tokens) t = tok(rng);
    for (auto& t : dec_tokens) t = tok(rng);
    for (auto& t : targets) t = tok(rng);
  }

  void lookup(const std::string& name, const std::vector<std::int32_t>& tokens, Vec& x) {
    const std::int64_t d = c.d_model;
    timed(name + ".lookup.fwd", "elementwise", StepPhase::forward, [&] {
      x.resize(tokens.size() * sz(d));
      for (std::size_t t = 0; t < tokens.size(); ++t) {
        const float* row = table.data() + static_cast<std::int64_t>(tokens[t]) * d;
        std::copy(row, row + d, x.data() + static_cast<std::int64_t>(t) * d);
      }
    });
  }
  void lookup_backward(const std::string& name, const std::vector<std::int32_t>& tokens, const Vec& dx) {
    const std::int64_t d = c.d_model;
    timed(name + ".lookup.bwd", "elementwise", StepPhase::backward, [&] {
      for (std::size_t t = 0; t < tokens.size(); ++t) {
        float* row = d_table.data() + static_cast<std::int64_t>(tokens[t]) * d;
        const float* g = dx.data() + static_cast<std::int64_t>(t) * d;
        for (std::int64_t j = 0; j < d; ++j) row[j] += g[j];
      }
    });
  }

  const Vec& attention_forward(Attention& a, const Vec& x, const Vec* kv_src) {
    const std::int64_t d = c.d_model, i = c.inner(), H = c.heads, dk = c.d_kv, S = c.sequences;
    a.x = &x;
    a.kv_src = kv_src;
    timed(a.name + ".norm.fwd", "elementwise", StepPhase::forward, [&] { a.norm.forward(x, a.T, d, a.xn); });
    if (a.cross) {
      timed(a.name + ".q.fwd", "matmul", StepPhase::forward, [&] {
        a.proj.resize(sz(a.T * i));
        gemm(false, false, a.T, i, d, a.xn.data(), a.w_in.data(), a.proj.data());
      });
      timed(a.name + ".kv.fwd", "matmul", StepPhase::forward, [&] {
        a.kvproj.resize(sz(a.Tk * 2 * i));
        gemm(false, false, a.Tk, 2 * i, d, kv_src->data(), a.w_kv.data(), a.kvproj.data());
      });
    } else {
      timed(a.name + ".qkv.fwd", "matmul", StepPhase::forward, [&] {
        a.proj.resize(sz(a.T * 3 * i));
        gemm(false, false, a.T, 3 * i, d, a.xn.data(), a.w_in.data(), a.proj.data());
      });
    }
    // The heads are read from the fused projections and written into o_flat in place (HeadMatrix):
    // no split or merge copies, as the simulated step prices none.
    const AttentionShape shape{S * H, a.L, a.Lk, dk, a.causal};
    a.p.resize(sz(shape.batch * a.L * a.Lk));
    a.o_flat.resize(sz(a.T * i));
    timed(a.name + ".attention.fwd", "attention", StepPhase::forward, [&] {
      if (a.cross) {
        cpu::attention_forward(shape, H, a.proj.data(), {i, 0}, a.kvproj.data(), {2 * i, 0}, a.kvproj.data(),
                               {2 * i, i}, a.p.data(), a.o_flat.data(), {i, 0});
      } else {
        cpu::attention_forward(shape, H, a.proj.data(), {3 * i, 0}, a.proj.data(), {3 * i, i}, a.proj.data(),
                               {3 * i, 2 * i}, a.p.data(), a.o_flat.data(), {i, 0});
      }
    });
    Vec& y = a.y;
    timed(a.name + ".out.fwd", "matmul", StepPhase::forward, [&] {
      y.resize(sz(a.T * d));
      gemm(false, false, a.T, d, i, a.o_flat.data(), a.w_out.data(), y.data());
    });
    timed(a.name + ".residual.fwd", "elementwise", StepPhase::forward, [&] { add(x, y, a.out); });
    return a.out;
  }

  // d_out: gradient of the block's output; returns the gradient of its input in `dx`;
  // a cross block adds K/V's gradient into `d_kv_src`.
  void attention_backward(Attention& a, const Vec& d_out, Vec& dx, Vec* d_kv_src) {
    const std::int64_t d = c.d_model, i = c.inner(), H = c.heads, dk = c.d_kv, S = c.sequences;
    Vec &d_o_flat = a.d_o_flat, &dp = a.dp, &d_proj = a.d_proj, &d_kvproj = a.d_kvproj, &dxn = a.dxn,
        &dx_branch = a.dx_branch;
    d_o_flat.resize(sz(a.T * i));
    timed(a.name + ".out.dgrad", "matmul", StepPhase::backward,
          [&] { gemm(false, true, a.T, i, d, d_out.data(), a.w_out.data(), d_o_flat.data()); });
    timed(a.name + ".out.wgrad", "matmul", StepPhase::backward,
          [&] { gemm(true, false, i, d, a.T, a.o_flat.data(), d_out.data(), a.dw_out.data()); });
    const AttentionShape shape{S * H, a.L, a.Lk, dk, a.causal};
    dp.resize(sz(shape.batch * a.L * a.Lk));
    d_proj.resize(sz(a.T * (a.cross ? i : 3 * i)));
    if (a.cross) d_kvproj.resize(sz(a.Tk * 2 * i));
    // In place as the forward: dq, dk, dv straight into the fused projections' gradients.
    timed(a.name + ".attention.bwd", "attention", StepPhase::backward, [&] {
      if (a.cross) {
        cpu::attention_backward(shape, H, a.proj.data(), {i, 0}, a.kvproj.data(), {2 * i, 0}, a.kvproj.data(),
                                {2 * i, i}, a.p.data(), a.o_flat.data(), {i, 0}, d_o_flat.data(), {i, 0}, dp.data(),
                                d_proj.data(), {i, 0}, d_kvproj.data(), {2 * i, 0}, d_kvproj.data(), {2 * i, i});
      } else {
        cpu::attention_backward(shape, H, a.proj.data(), {3 * i, 0}, a.proj.data(), {3 * i, i}, a.proj.data(),
                                {3 * i, 2 * i}, a.p.data(), a.o_flat.data(), {i, 0}, d_o_flat.data(), {i, 0},
                                dp.data(), d_proj.data(), {3 * i, 0}, d_proj.data(), {3 * i, i}, d_proj.data(),
                                {3 * i, 2 * i});
      }
    });
    dxn.resize(sz(a.T * d));
    if (a.cross) {
      timed(a.name + ".kv.dgrad", "matmul", StepPhase::backward,
            [&] { gemm(false, true, a.Tk, d, 2 * i, d_kvproj.data(), a.w_kv.data(), d_kv_src->data(), true); });
      timed(a.name + ".kv.wgrad", "matmul", StepPhase::backward,
            [&] { gemm(true, false, d, 2 * i, a.Tk, a.kv_src->data(), d_kvproj.data(), a.dw_kv.data()); });
      timed(a.name + ".q.dgrad", "matmul", StepPhase::backward,
            [&] { gemm(false, true, a.T, d, i, d_proj.data(), a.w_in.data(), dxn.data()); });
      timed(a.name + ".q.wgrad", "matmul", StepPhase::backward,
            [&] { gemm(true, false, d, i, a.T, a.xn.data(), d_proj.data(), a.dw_in.data()); });
    } else {
      timed(a.name + ".qkv.dgrad", "matmul", StepPhase::backward,
            [&] { gemm(false, true, a.T, d, 3 * i, d_proj.data(), a.w_in.data(), dxn.data()); });
      timed(a.name + ".qkv.wgrad", "matmul", StepPhase::backward,
            [&] { gemm(true, false, d, 3 * i, a.T, a.xn.data(), d_proj.data(), a.dw_in.data()); });
    }
    timed(a.name + ".norm.bwd", "elementwise", StepPhase::backward,
          [&] { a.norm.backward(*a.x, dxn, a.T, d, dx_branch); });
    timed(a.name + ".residual.bwd", "elementwise", StepPhase::backward, [&] { add(d_out, dx_branch, dx); });
  }

  const Vec& ffn_forward(SwitchFfn& f, const Vec& x) {
    const std::int64_t d = c.d_model, T = f.cfg.tokens;
    f.x = &x;
    timed(f.name + ".norm.fwd", "elementwise", StepPhase::forward, [&] { f.norm.forward(x, T, d, f.xn); });
    timed(f.name + ".router.fwd", "router", StepPhase::forward, [&] {
      route(f.cfg, f.xn.data(), f.w.router.data(), f.probs, f.route);
      assign_capacity(f.cfg, f.route.expert, f.assign);
    });
    timed(f.name + ".dispatch.fwd", "dispatch", StepPhase::forward,
          [&] { dispatch(f.cfg, f.xn.data(), f.assign, f.buffer); });
    timed(f.name + ".expert_ffn.fwd", "expert_ffn", StepPhase::forward,
          [&] { expert_ffn(f.cfg, f.w, f.assign, f.buffer, f.hidden, f.gate_hidden, f.eout); });
    timed(f.name + ".combine.fwd", "combine", StepPhase::forward,
          [&] { combine(f.cfg, f.route.expert, f.route.gate, f.assign, f.eout, f.y); });
    timed(f.name + ".residual.fwd", "elementwise", StepPhase::forward, [&] { add(x, f.y, f.out); });
    return f.out;
  }

  void ffn_backward(SwitchFfn& f, const Vec& d_out, Vec& dx) {
    const std::int64_t d = c.d_model, T = f.cfg.tokens;
    Vec& dx_branch = f.dx_branch;
    timed(f.name + ".combine.bwd", "combine", StepPhase::backward,
          [&] { combine_backward(f.cfg, f.route.gate, f.route.expert, f.assign, f.eout, d_out, f.s); });
    timed(f.name + ".expert_ffn.bwd", "expert_ffn", StepPhase::backward,
          [&] { expert_backward(f.cfg, f.w, f.assign, f.buffer, f.s, f.g, &f.hidden); });
    timed(f.name + ".dispatch.bwd", "dispatch", StepPhase::backward,
          [&] { dispatch_backward(f.cfg, f.route.expert, f.assign, f.s, f.g); });
    timed(f.name + ".router.bwd", "router", StepPhase::backward, [&] {
      router_backward(f.cfg, f.xn.data(), f.w.router.data(), f.probs, f.route, f.assign, f.s, f.g);
    });
    timed(f.name + ".norm.bwd", "elementwise", StepPhase::backward,
          [&] { f.norm.backward(*f.x, f.g.dx, T, d, dx_branch); });
    timed(f.name + ".residual.bwd", "elementwise", StepPhase::backward, [&] { add(d_out, dx_branch, dx); });
  }

  double run_step() {
    const std::int64_t d = c.d_model, U = c.decoder_tokens(), V = c.vocab;
    // Forward.
    lookup("enc.embed", enc_tokens, x0);
    const Vec* x = &x0;
    for (Layer& L : enc) {
      x = &attention_forward(L.attn[0], *x, nullptr);
      x = &ffn_forward(L.ffn, *x);
    }
    const Vec& enc_out = *x;
    lookup("dec.embed", dec_tokens, y0);
    const Vec* y = &y0;
    for (Layer& L : dec) {
      y = &attention_forward(L.attn[0], *y, nullptr);
      y = &attention_forward(L.attn[1], *y, &enc_out);
      y = &ffn_forward(L.ffn, *y);
    }
    timed("lm_head.logits.fwd", "matmul", StepPhase::forward, [&] {
      logits.resize(sz(U * V));
      gemm(false, true, U, V, d, y->data(), table.data(), logits.data());
    });
    double loss = 0.0;
    timed("lm_head.loss.fwd", "elementwise", StepPhase::forward, [&] {
      probs.resize(logits.size());
      for (std::int64_t t = 0; t < U; ++t) {
        const float* z = logits.data() + t * V;
        float* p = probs.data() + t * V;
        const float mx = max_of(z, V);  // max, exp and sum vectorized (cpu/activation.hpp)
        for (std::int64_t j = 0; j < V; ++j) p[j] = z[j] - mx;
        exp_nonpositive_inplace(p, V);
        const float inv = 1.0f / sum_of(p, V);
        for (std::int64_t j = 0; j < V; ++j) p[j] *= inv;
        loss -= std::log(std::max(1e-30, static_cast<double>(p[targets[sz(t)]])));
      }
      loss /= static_cast<double>(U);
    });
    for (Layer& L : enc) loss += L.ffn.route.aux_loss;
    for (Layer& L : dec) loss += L.ffn.route.aux_loss;

    // Backward: d loss / d logits = (p - onehot) / U.
    d_logits.resize(sz(U * V));
    dy.resize(sz(U * d));
    timed("lm_head.loss.bwd", "elementwise", StepPhase::backward, [&] {
      const float inv_u = 1.0f / static_cast<float>(U);
      for (std::int64_t t = 0; t < U; ++t) {
        for (std::int64_t j = 0; j < V; ++j) d_logits[sz(t * V + j)] = probs[sz(t * V + j)] * inv_u;
        d_logits[sz(t * V + targets[sz(t)])] -= inv_u;
      }
    });
    timed("lm_head.logits.dgrad", "matmul", StepPhase::backward,
          [&] { gemm(false, false, U, d, V, d_logits.data(), table.data(), dy.data()); });
    timed("lm_head.logits.wgrad", "matmul", StepPhase::backward,
          [&] { gemm(true, false, V, d, U, d_logits.data(), y->data(), d_table.data()); });
    d_enc.assign(enc_out.size(), 0.0f);
    for (auto L = dec.rbegin(); L != dec.rend(); ++L) {
      ffn_backward(L->ffn, dy, tmp);
      attention_backward(L->attn[1], tmp, dy, &d_enc);
      attention_backward(L->attn[0], dy, tmp, nullptr);
      dy.swap(tmp);
    }
    lookup_backward("dec.embed", dec_tokens, dy);
    d_input.swap(d_enc);
    for (auto L = enc.rbegin(); L != enc.rend(); ++L) {
      ffn_backward(L->ffn, d_input, tmp);
      attention_backward(L->attn[0], tmp, d_input, nullptr);
    }
    lookup_backward("enc.embed", enc_tokens, d_input);

    // Adam on every parameter tensor.
    timed("optimizer.update", "optimizer", StepPhase::optimizer, [&] {
      for (Param& p : params) adam_update(adam, *p.g, *p.w, p.m, p.v);
    });
    ++adam.step;
    return loss;
  }
};

SwitchModelStepCpu::SwitchModelStepCpu(const SwitchModelConfig& config, std::uint64_t seed)
    : impl_(new Impl(config, seed)) {}
SwitchModelStepCpu::~SwitchModelStepCpu() { delete impl_; }

double SwitchModelStepCpu::step(std::vector<StepOpTime>* ops) {
  impl_->rec = ops;
  const double loss = impl_->run_step();
  impl_->rec = nullptr;
  return loss;
}

std::int64_t SwitchModelStepCpu::parameters() const {
  std::int64_t n = 0;
  for (const auto& p : impl_->params) n += static_cast<std::int64_t>(p.w->size());
  return n;
}
std::int64_t SwitchModelStepCpu::optimizer_calls() const { return static_cast<std::int64_t>(impl_->params.size()); }
std::int64_t SwitchModelStepCpu::dropped_last_step() const {
  std::int64_t n = 0;
  for (const auto& L : impl_->enc) n += L.ffn.assign.dropped;
  for (const auto& L : impl_->dec) n += L.ffn.assign.dropped;
  return n;
}
std::int64_t SwitchModelStepCpu::assignments_last_step() const {
  std::int64_t n = 0;
  for (const auto& L : impl_->enc) n += L.ffn.cfg.tokens * L.ffn.cfg.top_k;
  for (const auto& L : impl_->dec) n += L.ffn.cfg.tokens * L.ffn.cfg.top_k;
  return n;
}

}  // namespace switchsim::kernels::cpu
