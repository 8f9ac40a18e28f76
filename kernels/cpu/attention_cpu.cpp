#include "kernels/cpu/attention_cpu.hpp"

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

void check(const AttentionShape& s, std::size_t q, std::size_t kk, std::size_t v) {
  if (s.batch <= 0 || s.m <= 0 || s.n <= 0 || s.k <= 0) throw InputError("attention", "every dimension must be positive");
  if (s.causal && s.m != s.n) throw InputError("attention", "a causal mask needs as many queries as keys");
  if (q != sz(s.batch * s.m * s.k) || kk != sz(s.batch * s.n * s.k) || v != sz(s.batch * s.n * s.k)) {
    throw InputError("attention", "q, k, v sizes do not match the shape");
  }
}

}  // namespace

namespace {

// Head b's matrix of `rows` rows (HeadMatrix in the header).
template <class T>
T* head(T* base, HeadMatrix l, std::int64_t b, std::int64_t heads, std::int64_t rows, std::int64_t k) {
  return base + l.col0 + (b % heads) * k + (b / heads) * rows * l.ld;
}

}  // namespace

void attention_forward(const AttentionShape& s, std::int64_t heads, const float* q, HeadMatrix lq, const float* kk,
                       HeadMatrix lk, const float* v, HeadMatrix lv, float* p, float* o, HeadMatrix lo) {
  const std::int64_t m = s.m, n = s.n, k = s.k;
  const float scale = 1.0f / std::sqrt(static_cast<float>(k));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    float* pb = p + b * m * n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(m), blas_int(n), blas_int(k), scale,
                head(q, lq, b, heads, m, k), blas_int(lq.ld), head(kk, lk, b, heads, n, k), blas_int(lk.ld), 0.0f, pb,
                blas_int(n));
    parallel_for(m, std::max<std::int64_t>(16, 65536 / n), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        float* row = pb + i * n;
        if (s.causal) std::fill(row + i + 1, row + n, -std::numeric_limits<float>::infinity());
        // max, exp and sum vectorized (cpu/activation.hpp); a serial max and sum cost more than
        // the exponentials, and their share grows as the head dimension shrinks
        const float mx = max_of(row, n);
        for (std::int64_t j = 0; j < n; ++j) row[j] -= mx;
        exp_nonpositive_inplace(row, n);
        const float inv = 1.0f / sum_of(row, n);
        for (std::int64_t j = 0; j < n; ++j) row[j] *= inv;
        if (s.causal) std::fill(row + i + 1, row + n, 0.0f);  // exp clamps at -87: exactly 0
      }
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(m), blas_int(k), blas_int(n), 1.0f, pb, blas_int(n),
                head(v, lv, b, heads, n, k), blas_int(lv.ld), 0.0f, head(o, lo, b, heads, m, k), blas_int(lo.ld));
  }
}

void attention_backward(const AttentionShape& s, std::int64_t heads, const float* q, HeadMatrix lq, const float* kk,
                        HeadMatrix lk, const float* v, HeadMatrix lv, const float* p, const float* o, HeadMatrix lo,
                        const float* d_o, HeadMatrix ldo, float* dp, float* dq, HeadMatrix ldq, float* dk,
                        HeadMatrix ldk, float* dv, HeadMatrix ldv) {
  const std::int64_t m = s.m, n = s.n, k = s.k;
  const float scale = 1.0f / std::sqrt(static_cast<float>(k));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const float* pb = p + b * m * n;
    const float* dob = head(d_o, ldo, b, heads, m, k);
    const float* ob = head(o, lo, b, heads, m, k);
    float* dpb = dp + b * m * n;
    // dV = P^T dO;  dP = dO V^T.
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(n), blas_int(k), blas_int(m), 1.0f, pb, blas_int(n),
                dob, blas_int(ldo.ld), 0.0f, head(dv, ldv, b, heads, n, k), blas_int(ldv.ld));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(m), blas_int(n), blas_int(k), 1.0f, dob,
                blas_int(ldo.ld), head(v, lv, b, heads, n, k), blas_int(lv.ld), 0.0f, dpb, blas_int(n));
    // dS = P * (dP - rowsum(dO * O)), in place of dP.
    parallel_for(m, std::max<std::int64_t>(16, 65536 / n), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        double delta = 0.0;
        const float* do_i = dob + i * ldo.ld;
        const float* o_i = ob + i * lo.ld;
        for (std::int64_t c = 0; c < k; ++c) delta += static_cast<double>(do_i[c]) * static_cast<double>(o_i[c]);
        const auto dl = static_cast<float>(delta);
        for (std::int64_t j = 0; j < n; ++j) dpb[i * n + j] = pb[i * n + j] * (dpb[i * n + j] - dl);
      }
    });
    // dQ = dS K / sqrt(k);  dK = dS^T Q / sqrt(k).
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(m), blas_int(k), blas_int(n), scale, dpb,
                blas_int(n), head(kk, lk, b, heads, n, k), blas_int(lk.ld), 0.0f, head(dq, ldq, b, heads, m, k),
                blas_int(ldq.ld));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(n), blas_int(k), blas_int(m), scale, dpb, blas_int(n),
                head(q, lq, b, heads, m, k), blas_int(lq.ld), 0.0f, head(dk, ldk, b, heads, n, k), blas_int(ldk.ld));
  }
}

void attention_forward(const AttentionShape& s, const std::vector<float>& q, const std::vector<float>& kk,
                       const std::vector<float>& v, std::vector<float>& p, std::vector<float>& o) {
  check(s, q.size(), kk.size(), v.size());
  p.resize(sz(s.batch * s.m * s.n));
  o.resize(sz(s.batch * s.m * s.k));
  const HeadMatrix c{s.k, 0};
  attention_forward(s, 1, q.data(), c, kk.data(), c, v.data(), c, p.data(), o.data(), c);
}

void attention_backward(const AttentionShape& s, const std::vector<float>& q, const std::vector<float>& kk,
                        const std::vector<float>& v, const std::vector<float>& p, const std::vector<float>& o,
                        const std::vector<float>& d_o, std::vector<float>& dp, std::vector<float>& dq,
                        std::vector<float>& dk, std::vector<float>& dv) {
  check(s, q.size(), kk.size(), v.size());
  if (p.size() != sz(s.batch * s.m * s.n) || o.size() != q.size() || d_o.size() != q.size()) {
    throw InputError("attention", "p, o and do must come from the forward of this shape");
  }
  dp.resize(p.size());
  dq.resize(q.size());
  dk.resize(kk.size());
  dv.resize(v.size());
  const HeadMatrix c{s.k, 0};
  attention_backward(s, 1, q.data(), c, kk.data(), c, v.data(), c, p.data(), o.data(), c, d_o.data(), c, dp.data(),
                     dq.data(), c, dk.data(), c, dv.data(), c);
}

}  // namespace switchsim::kernels::cpu
