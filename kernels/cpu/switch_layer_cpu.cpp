#include "kernels/cpu/switch_layer_cpu.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "common/errors.hpp"
#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/blas_index.hpp"
#include "kernels/cpu/parallel.hpp"

namespace switchsim::kernels::cpu {

void route(const SwitchLayerConfig& c, const float* x, const float* router_w, std::vector<float>& probs,
           RouterOutput& out) {
  const std::int64_t T = c.tokens, E = c.experts, d = c.d_model, k = c.top_k;
  probs.resize(sz(T * E));
  // logits (T, E) = x (T, d) . Wr (d, E), fp32
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(T), blas_int(E), blas_int(d), 1.0f, x,
              blas_int(d), router_w, blas_int(E), 0.0f, probs.data(), blas_int(E));
  out.expert.resize(sz(T * k));
  out.gate.resize(sz(T * k));
  // Threads only where each gets >= 2048 tokens: a thread started per call costs
  // tens of microseconds (more on a loaded machine).
  const int chunks = chunk_count(T, 2048);
  // Per chunk: argmax counts and probability sums, combined in chunk order.
  std::vector<std::vector<double>> prob_sum(sz(chunks), std::vector<double>(sz(E), 0.0));
  std::vector<std::vector<std::int64_t>> argmax_count(sz(chunks), std::vector<std::int64_t>(sz(E), 0));
  parallel_chunks(T, 2048, chunks, [&](int chunk, std::int64_t begin, std::int64_t end) {
    auto& psum = prob_sum[sz(chunk)];
    auto& counts = argmax_count[sz(chunk)];
    // Softmax: subtract each row's maximum, one vectorized exp over the chunk's
    // rows (cpu/activation.hpp), then normalise.
    for (std::int64_t t = begin; t < end; ++t) {
      float* p = probs.data() + t * E;
      float max_logit = p[0];
      for (std::int64_t e = 1; e < E; ++e) max_logit = std::max(max_logit, p[e]);
      for (std::int64_t e = 0; e < E; ++e) p[e] -= max_logit;
    }
    exp_nonpositive_inplace(probs.data() + begin * E, (end - begin) * E);
    for (std::int64_t t = begin; t < end; ++t) {
      float* p = probs.data() + t * E;
      float sum = 0.0f;
      for (std::int64_t e = 0; e < E; ++e) sum += p[e];
      const float inv = 1.0f / sum;
      for (std::int64_t e = 0; e < E; ++e) {
        p[e] *= inv;
        psum[sz(e)] += p[e];
      }
      // top-k in one pass: best[0..k) sorted by probability, descending; a new
      // expert is inserted after every kept one it does not strictly beat, so
      // ties keep the lower index first (as a stable sort would).
      std::int32_t* best = out.expert.data() + t * k;
      float* best_p = out.gate.data() + t * k;
      for (std::int64_t j = 0; j < k; ++j) {
        best[j] = -1;
        best_p[j] = -1.0f;
      }
      for (std::int64_t e = 0; e < E; ++e) {
        if (!(p[e] > best_p[k - 1])) continue;
        std::int64_t pos = k - 1;
        while (pos > 0 && p[e] > best_p[pos - 1]) {
          best[pos] = best[pos - 1];
          best_p[pos] = best_p[pos - 1];
          --pos;
        }
        best[pos] = static_cast<std::int32_t>(e);
        best_p[pos] = p[e];
      }
      ++counts[sz(out.expert[sz(t * k)])];
    }
  });
  out.fraction_routed.assign(sz(E), 0.0);
  out.mean_probability.assign(sz(E), 0.0);
  for (int chunk = 0; chunk < chunks; ++chunk) {
    for (std::int64_t e = 0; e < E; ++e) {
      out.fraction_routed[sz(e)] += static_cast<double>(argmax_count[sz(chunk)][sz(e)]);
      out.mean_probability[sz(e)] += prob_sum[sz(chunk)][sz(e)];
    }
  }
  double dot = 0.0;
  for (std::int64_t e = 0; e < E; ++e) {
    out.fraction_routed[sz(e)] /= static_cast<double>(T);
    out.mean_probability[sz(e)] /= static_cast<double>(T);
    dot += out.fraction_routed[sz(e)] * out.mean_probability[sz(e)];
  }
  out.aux_loss = c.aux_loss_alpha * static_cast<double>(E) * dot;
}

namespace {

// Dropless: every (token, choice) gets a row of its expert's block; blocks in expert order, each
// in rank-major priority order (first choices in token order, then second choices, ...), so the
// packing is deterministic and matches what capacity mode would keep with an unbounded C.
void assign_dropless(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, CapacityAssignment& out) {
  const std::int64_t T = c.tokens, E = c.experts, k = c.top_k, G = c.group_tokens(), groups = c.groups();
  out.capacity = 0;
  out.dropped = 0;
  out.slot.assign(sz(T * k), -1);
  out.expert_load.assign(sz(groups * E), 0);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t j = 0; j < k; ++j) ++out.expert_load[sz((t / G) * E + expert[sz(t * k + j)])];
  }
  out.expert_offsets.assign(sz(E + 1), 0);
  for (std::int64_t e = 0; e < E; ++e) {
    std::int64_t load = 0;
    for (std::int64_t g = 0; g < groups; ++g) load += out.expert_load[sz(g * E + e)];
    out.expert_offsets[sz(e + 1)] = out.expert_offsets[sz(e)] + load;
  }
  out.row_source.assign(sz(T * k), -1);
  std::vector<std::int32_t> filled(sz(E), 0);
  for (std::int64_t j = 0; j < k; ++j) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int32_t e = expert[sz(t * k + j)];
      const std::int32_t position = filled[sz(e)]++;
      out.slot[sz(t * k + j)] = position;
      out.row_source[sz(out.row(e, position))] = static_cast<std::int32_t>(t);
    }
  }
}

}  // namespace

void assign_capacity(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, CapacityAssignment& out) {
  const std::int64_t T = c.tokens, E = c.experts, k = c.top_k, G = c.group_tokens(), C = c.capacity();
  const std::int64_t groups = c.groups(), S = c.slots_per_expert();
  if (static_cast<std::int64_t>(expert.size()) != T * k) throw InputError("routing", "expert must have tokens*top_k entries");
  for (const std::int32_t e : expert) {
    if (e < 0 || e >= E) throw InputError("routing", "expert index " + std::to_string(e) + " out of range");
  }
  if (c.dropless) {
    assign_dropless(c, expert, out);
    return;
  }
  out.capacity = C;
  out.slot.assign(sz(T * k), -1);
  out.row_source.assign(sz(E * S), -1);
  out.expert_load.assign(sz(groups * E), 0);
  out.expert_offsets.resize(sz(E + 1));
  for (std::int64_t e = 0; e <= E; ++e) out.expert_offsets[sz(e)] = e * S;  // every block S rows
  std::vector<std::int64_t> dropped_per_group(sz(groups), 0);
  parallel_for(groups, 1, [&](std::int64_t g_begin, std::int64_t g_end) {
    for (std::int64_t g = g_begin; g < g_end; ++g) {
      std::int32_t* load = out.expert_load.data() + g * E;  // running cumulative count per expert
      for (std::int64_t j = 0; j < k; ++j) {                // rank-major priority
        for (std::int64_t t = g * G; t < (g + 1) * G; ++t) {
          const std::int32_t e = expert[sz(t * k + j)];
          const std::int64_t position = load[e]++;
          if (position < C) {
            const auto row = static_cast<std::int32_t>(g * C + position);
            out.slot[sz(t * k + j)] = row;
            out.row_source[sz(e * S + row)] = static_cast<std::int32_t>(t);
          } else {
            ++dropped_per_group[sz(g)];
          }
        }
      }
    }
  });
  out.dropped = 0;
  for (auto v : dropped_per_group) out.dropped += v;
}

void dispatch(const SwitchLayerConfig& c, const float* x, const CapacityAssignment& a, std::vector<float>& buffer) {
  const std::int64_t d = c.d_model, rows = c.buffer_rows();
  buffer.resize(sz(rows * d));
  // Threads only for >= 1 MiB per thread (~100 us of copying): a std::thread
  // started per call costs 20-50 us on an idle 2-core box and up to
  // milliseconds when other processes hold the cores (with 256 KiB per thread
  // the (T 1024, d 64, E 16, top-2) dispatch took 0.4 ms instead of 0.03 ms).
  parallel_for(rows, std::max<std::int64_t>(64, 262144 / d), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      float* dst = buffer.data() + r * d;
      const std::int32_t t = a.row_source[sz(r)];
      if (t < 0) {
        std::memset(dst, 0, sz(d) * sizeof(float));
      } else {
        std::memcpy(dst, x + static_cast<std::int64_t>(t) * d, sz(d) * sizeof(float));
      }
    }
  });
}

void expert_ffn(const SwitchLayerConfig& c, const SwitchLayerWeights& w, const CapacityAssignment& a,
                const std::vector<float>& in, std::vector<float>& hidden, std::vector<float>& gate_hidden,
                std::vector<float>& out) {
  const std::int64_t E = c.experts, rows = c.buffer_rows(), d = c.d_model, f = c.d_ff;
  const bool gated = c.gated();  // geglu, swiglu: a second input projection
  hidden.resize(sz(rows * f));
  if (gated) gate_hidden.resize(sz(rows * f));
  out.resize(sz(rows * d));
  // Expert e owns rows [off_e, off_e + n_e): S padded rows each in capacity mode, its real load in
  // dropless mode (the grouped GEMM: a loop of per-expert products over the real row counts).
  auto block = [&a](std::int64_t e) {
    return std::pair{a.expert_offsets[sz(e)], a.expert_offsets[sz(e + 1)] - a.expert_offsets[sz(e)]};
  };
  // 1. input projections of every expert: (n_e, d) . (d, f) -> (n_e, f)
  for (std::int64_t e = 0; e < E; ++e) {
    const auto [off, n] = block(e);
    if (n == 0) continue;
    const float* x_e = in.data() + off * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(n), blas_int(f), blas_int(d), 1.0f, x_e,
                blas_int(d), w.wi.data() + e * d * f, blas_int(f), 0.0f, hidden.data() + off * f, blas_int(f));
    if (gated) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(n), blas_int(f), blas_int(d), 1.0f, x_e,
                  blas_int(d), w.wi_gate.data() + e * d * f, blas_int(f), 0.0f, gate_hidden.data() + off * f,
                  blas_int(f));
    }
  }
  // 2. activation over all rows at once (cpu/activation.hpp, vectorized).
  // Threads only where each gets enough work: relu is a memory pass (~0.1 ns
  // per element), the GELU and SiLU ~1-2 ns per element; a thread start costs tens of us
  // idle and milliseconds on a loaded box (see dispatch()).
  float* h = hidden.data();
  const float* g = gated ? gate_hidden.data() : nullptr;
  parallel_for(rows * f, gated ? (1 << 18) : (1 << 20), [&](std::int64_t b, std::int64_t en) {
    if (c.activation == Activation::geglu) {
      geglu_inplace(h + b, g + b, en - b);
    } else if (c.activation == Activation::swiglu) {
      swiglu_inplace(h + b, g + b, en - b);
    } else {
      relu_inplace(h + b, en - b);
    }
  });
  // 3. output projections: (n_e, f) . (f, d) -> (n_e, d)
  for (std::int64_t e = 0; e < E; ++e) {
    const auto [off, n] = block(e);
    if (n == 0) continue;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(n), blas_int(d), blas_int(f), 1.0f,
                hidden.data() + off * f, blas_int(f), w.wo.data() + e * f * d, blas_int(d), 0.0f,
                out.data() + off * d, blas_int(d));
  }
}

void combine(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, const std::vector<float>& gate,
             const CapacityAssignment& a, const std::vector<float>& expert_out, std::vector<float>& y) {
  const std::int64_t T = c.tokens, d = c.d_model, k = c.top_k;
  y.resize(sz(T * d));
  // Threads only for >= 1 MiB of gathered rows per thread (see dispatch()).
  parallel_for(T, std::max<std::int64_t>(64, 262144 / (d * k)), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      float* dst = y.data() + t * d;
      std::fill(dst, dst + d, 0.0f);
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int32_t row = a.slot[sz(t * k + j)];
        if (row < 0) continue;  // dropped: zero expert output
        const float g = gate[sz(t * k + j)];
        const float* src = expert_out.data() + a.row(expert[sz(t * k + j)], row) * d;
        for (std::int64_t i = 0; i < d; ++i) dst[i] += g * src[i];
      }
    }
  });
}

}  // namespace switchsim::kernels::cpu
