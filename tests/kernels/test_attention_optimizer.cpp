// The CPU attention (forward and backward) and Adam kernels that calibrate measures, against
// float64 references: attention's gradients by central finite differences of a float64
// forward; Adam by the update formula; and a calibrated CPU profile then prices attention and
// the optimizer from measurement, not from its fallback.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "common/errors.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "kernels/calibration.hpp"
#include "kernels/cpu/attention_cpu.hpp"
#include "kernels/cpu/optimizer_cpu.hpp"
#include "kernels/profile.hpp"
#include "kernels/switch_layer.hpp"
#include "finite_difference.hpp"

using namespace switchsim::kernels;

namespace {

std::vector<float> ramp(std::size_t n, double a, double b) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(a * static_cast<double>(i) + b));
  return v;
}

// L = <dO, O> in float64 for one set of inputs.
double attention_loss64(const cpu::AttentionShape& s, const std::vector<double>& q, const std::vector<double>& k,
                        const std::vector<double>& v, const std::vector<float>& d_o) {
  double loss = 0.0;
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.k));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t i = 0; i < s.m; ++i) {
      std::vector<double> p(static_cast<std::size_t>(s.n));
      double mx = -1e300, sum = 0.0;
      for (std::int64_t j = 0; j < s.n; ++j) {
        double dot = 0.0;
        for (std::int64_t c = 0; c < s.k; ++c) dot += q[(b * s.m + i) * s.k + c] * k[(b * s.n + j) * s.k + c];
        // A causal mask: query i sees keys 0..i (exp of -1e300 is 0).
        mx = std::max(mx, p[j] = s.causal && j > i ? -1e300 : dot * scale);
      }
      for (double& x : p) sum += (x = std::exp(x - mx));
      for (std::int64_t c = 0; c < s.k; ++c) {
        double o = 0.0;
        for (std::int64_t j = 0; j < s.n; ++j) o += p[j] / sum * v[(b * s.n + j) * s.k + c];
        loss += d_o[(b * s.m + i) * s.k + c] * o;
      }
    }
  }
  return loss;
}

double fd_error(const cpu::AttentionShape& s, std::vector<double> q, std::vector<double> k, std::vector<double> v,
                const std::vector<float>& d_o, int which, const std::vector<float>& analytic) {
  std::vector<double>& x = which == 0 ? q : which == 1 ? k : v;
  return test::finite_difference_error(x, analytic, 3, [&] { return attention_loss64(s, q, k, v, d_o); });
}

}  // namespace

TEST_CASE("attention: forward against float64, backward against finite differences", "[kernels][attention]") {
  const cpu::AttentionShape s{2, 5, 7, 4};  // 2 heads, 5 queries, 7 keys, d_kv 4
  const auto q = ramp(2 * 5 * 4, 0.37, 0.1), k = ramp(2 * 7 * 4, 0.53, 0.7), v = ramp(2 * 7 * 4, 0.29, 1.3);
  const auto d_o = ramp(2 * 5 * 4, 0.91, 0.4);
  std::vector<float> p, o, dp, dq, dk, dv;
  cpu::attention_forward(s, q, k, v, p, o);
  const std::vector<double> q64(q.begin(), q.end()), k64(k.begin(), k.end()), v64(v.begin(), v.end());
  // <dO, O> in fp32 against float64.
  double loss32 = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) loss32 += static_cast<double>(d_o[i]) * o[i];
  CHECK(loss32 == Approx(attention_loss64(s, q64, k64, v64, d_o)).epsilon(1e-5));
  // Rows of P sum to 1.
  for (std::int64_t r = 0; r < 2 * 5; ++r) {
    double sum = 0.0;
    for (std::int64_t j = 0; j < 7; ++j) sum += p[static_cast<std::size_t>(r * 7 + j)];
    CHECK(sum == Approx(1.0).epsilon(1e-6));
  }
  cpu::attention_backward(s, q, k, v, p, o, d_o, dp, dq, dk, dv);
  CHECK(fd_error(s, q64, k64, v64, d_o, 0, dq) < 1e-4);
  CHECK(fd_error(s, q64, k64, v64, d_o, 1, dk) < 1e-4);
  CHECK(fd_error(s, q64, k64, v64, d_o, 2, dv) < 1e-4);
  const cpu::AttentionShape bad{2, 5, 7, 0};
  CHECK_THROWS(cpu::attention_forward(bad, q, k, v, p, o));
}

TEST_CASE("attention with a causal mask: float64 forward, finite differences, P = 0 above the diagonal",
          "[kernels][attention]") {
  cpu::AttentionShape s{2, 6, 6, 4};
  s.causal = true;
  const auto q = ramp(2 * 6 * 4, 0.37, 0.1), k = ramp(2 * 6 * 4, 0.53, 0.7), v = ramp(2 * 6 * 4, 0.29, 1.3);
  const auto d_o = ramp(2 * 6 * 4, 0.91, 0.4);
  std::vector<float> p, o, dp, dq, dk, dv;
  cpu::attention_forward(s, q, k, v, p, o);
  const std::vector<double> q64(q.begin(), q.end()), k64(k.begin(), k.end()), v64(v.begin(), v.end());
  double loss32 = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) loss32 += static_cast<double>(d_o[i]) * o[i];
  CHECK(loss32 == Approx(attention_loss64(s, q64, k64, v64, d_o)).epsilon(1e-5));
  for (std::int64_t b = 0; b < 2; ++b) {
    for (std::int64_t i = 0; i < 6; ++i)
      for (std::int64_t j = i + 1; j < 6; ++j) CHECK(p[static_cast<std::size_t>((b * 6 + i) * 6 + j)] == 0.0f);
    // The first query sees only the first key: its output is that key's value row.
    for (std::int64_t c = 0; c < 4; ++c) {
      CHECK(o[static_cast<std::size_t>(b * 24 + c)] == Approx(v[static_cast<std::size_t>(b * 24 + c)]).epsilon(1e-6));
    }
  }
  cpu::attention_backward(s, q, k, v, p, o, d_o, dp, dq, dk, dv);
  CHECK(fd_error(s, q64, k64, v64, d_o, 0, dq) < 1e-4);
  CHECK(fd_error(s, q64, k64, v64, d_o, 1, dk) < 1e-4);
  CHECK(fd_error(s, q64, k64, v64, d_o, 2, dv) < 1e-4);
  cpu::AttentionShape rectangular{2, 5, 7, 4};
  rectangular.causal = true;
  const auto k7 = ramp(2 * 7 * 4, 0.53, 0.7), q5 = ramp(2 * 5 * 4, 0.37, 0.1);
  CHECK_THROWS_AS(cpu::attention_forward(rectangular, q5, k7, k7, p, o), switchsim::InputError);
}

TEST_CASE("Adam: two steps of the update formula, bias-corrected", "[kernels][optimizer]") {
  cpu::AdamSettings s;
  s.lr = 0.1f;
  std::vector<float> grad{0.5f, -2.0f, 0.0f}, w{1.0f, 1.0f, 1.0f}, m(3, 0.0f), v(3, 0.0f);
  std::vector<double> w64{1.0, 1.0, 1.0}, m64(3, 0.0), v64(3, 0.0);
  for (std::int64_t t = 1; t <= 2; ++t) {
    s.step = t;
    cpu::adam_update(s, grad, w, m, v);
    for (std::size_t i = 0; i < 3; ++i) {
      m64[i] = 0.9 * m64[i] + 0.1 * grad[i];
      v64[i] = 0.999 * v64[i] + 0.001 * grad[i] * grad[i];
      const double mh = m64[i] / (1.0 - std::pow(0.9, t)), vh = v64[i] / (1.0 - std::pow(0.999, t));
      w64[i] -= 0.1 * mh / (std::sqrt(vh) + 1e-8);
      CHECK(w[i] == Approx(w64[i]).epsilon(1e-5));
    }
  }
  // First step: |update| = lr for a non-zero gradient (m_hat / sqrt(v_hat) = sign(g)); zero gradient: none.
  CHECK(w[2] == 1.0f);
  std::vector<float> short_m(2);
  CHECK_THROWS(cpu::adam_update(s, grad, w, short_m, v));
}

TEST_CASE("a calibrated CPU profile prices attention and the optimizer from measurement", "[kernels][calibration]") {
  CalibrationOptions o;
  o.quick = true;
  o.seconds_per_shape = 0.01;
  o.rounds = 1;
  auto backend = make_backend("cpu");
  const auto profile = calibrate(*backend, o);
  int attention = 0, adam = 0;
  for (const auto& s : profile.at("samples")) {
    attention += s.at("kernel") == "attention";
    adam += s.at("kernel") == "adam";
  }
  CHECK(attention == 2);
  CHECK(adam == 2);
  CHECK(profile.at("ceilings_measurement").at("attention_backward").size() == 2);
  const auto model = cost_model_from_profile_json(profile, "cpu", "test", "profile");
  const auto* calibrated = dynamic_cast<const CalibratedCostModel*>(model.get());
  REQUIRE(calibrated != nullptr);
  // Inside the measured ranges: 8 heads of 128 x 128 x 64; Adam on 2 Mi parameters.
  CHECK(calibrated->in_measured_range(OpShape{OpKind::attention, 8, 128, 128, 64, 0, Precision::fp32}));
  CHECK(calibrated->in_measured_range(OpShape{OpKind::optimizer, 1, 0, 0, 0, 28ll * (2 << 20), Precision::fp32}));
}

TEST_CASE("attention in place on a fused qkv buffer equals attention on split heads", "[kernels][attention]") {
  // 2 sequences x 3 heads, L = 5, d_kv 4: the fused (S L, 3 H k) projection holds q | k | v, the
  // output and d output are (S L, H k); head b = s H + h. The contiguous kernel on split copies is
  // the reference (itself tested against float64 above).
  const std::int64_t S = 2, H = 3, L = 5, k = 4, i = H * k;
  cpu::AttentionShape s{S * H, L, L, k};
  s.causal = true;
  const auto fused = ramp(static_cast<std::size_t>(S * L * 3 * i), 0.41, 0.2);
  const auto d_o_flat = ramp(static_cast<std::size_t>(S * L * i), 0.77, 0.5);
  auto split = [&](const std::vector<float>& x, std::int64_t cols, std::int64_t col0) {
    std::vector<float> out(static_cast<std::size_t>(S * H * L * k));
    for (std::int64_t sq = 0; sq < S; ++sq)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t r = 0; r < L; ++r)
          for (std::int64_t c = 0; c < k; ++c)
            out[static_cast<std::size_t>(((sq * H + h) * L + r) * k + c)] =
                x[static_cast<std::size_t>((sq * L + r) * cols + col0 + h * k + c)];
    return out;
  };
  const auto q = split(fused, 3 * i, 0), kk = split(fused, 3 * i, i), v = split(fused, 3 * i, 2 * i);
  const auto d_o = split(d_o_flat, i, 0);
  std::vector<float> p, o, dp, dq, dk, dv;
  cpu::attention_forward(s, q, kk, v, p, o);
  cpu::attention_backward(s, q, kk, v, p, o, d_o, dp, dq, dk, dv);

  std::vector<float> p2(p.size()), o_flat(static_cast<std::size_t>(S * L * i)), dp2(p.size());
  std::vector<float> d_fused(fused.size(), -7.0f);  // every element must be overwritten
  cpu::attention_forward(s, H, fused.data(), {3 * i, 0}, fused.data(), {3 * i, i}, fused.data(), {3 * i, 2 * i},
                         p2.data(), o_flat.data(), {i, 0});
  cpu::attention_backward(s, H, fused.data(), {3 * i, 0}, fused.data(), {3 * i, i}, fused.data(), {3 * i, 2 * i},
                          p2.data(), o_flat.data(), {i, 0}, d_o_flat.data(), {i, 0}, dp2.data(), d_fused.data(),
                          {3 * i, 0}, d_fused.data(), {3 * i, i}, d_fused.data(), {3 * i, 2 * i});
  auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t j = 0; j < a.size(); ++j) CHECK(a[j] == Approx(b[j]).margin(1e-6));
  };
  same(split(o_flat, i, 0), o);
  same(p2, p);
  same(split(d_fused, 3 * i, 0), dq);
  same(split(d_fused, 3 * i, i), dk);
  same(split(d_fused, 3 * i, 2 * i), dv);
}
