// The CPU backward of the Switch layer (kernels/cpu/switch_layer_backward_cpu.hpp) against
// central finite differences of a float64 recomputation of the forward with the routing
// decisions held fixed (top-k choices, kept/dropped, f_i): the float64 gradient of the
// function the backward differentiates. Sampled entries of every gradient, ReLU, GEGLU and SwiGLU,
// top-1 and top-2, capacity mode with drops and dropless mode.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "common/errors.hpp"
#include "kernels/cpu/switch_layer_backward_cpu.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"
#include "kernels/switch_layer.hpp"
#include "finite_difference.hpp"

using namespace switchsim::kernels;

namespace {

std::size_t sz(std::int64_t v) { return static_cast<std::size_t>(v); }

struct Forward {
  std::vector<float> probs, buffer, hidden, gate_hidden, out, y;
  RouterOutput routing;
  CapacityAssignment a;
};

Forward run_forward(const SwitchLayerProblem& p) {
  const SwitchLayerConfig& c = p.config;
  Forward f;
  cpu::route(c, p.x.data(), p.weights.router.data(), f.probs, f.routing);
  cpu::assign_capacity(c, f.routing.expert, f.a);
  cpu::dispatch(c, p.x.data(), f.a, f.buffer);
  cpu::expert_ffn(c, p.weights, f.a, f.buffer, f.hidden, f.gate_hidden, f.out);
  cpu::combine(c, f.routing.expert, f.routing.gate, f.a, f.out, f.y);
  return f;
}

// Parameters in float64, perturbed one entry at a time.
struct Params64 {
  std::vector<double> x, wr, wi, wg, wo;
};

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// L = <dy, y> + alpha E sum_i f_i P_i with the choices and the kept mask of the fp32 forward.
double loss64(const SwitchLayerConfig& c, const Params64& w, const Forward& fixed, const std::vector<double>& dy) {
  const std::int64_t T = c.tokens, d = c.d_model, f = c.d_ff, E = c.experts, k = c.top_k;
  const bool gated = c.gated();
  std::vector<double> mean_p(sz(E), 0.0);
  double loss = 0.0;
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<double> p(sz(E), 0.0);
    for (std::int64_t e = 0; e < E; ++e)
      for (std::int64_t i = 0; i < d; ++i) p[sz(e)] += w.x[sz(t * d + i)] * w.wr[sz(i * E + e)];
    double mx = p[0], sum = 0.0;
    for (double v : p) mx = std::max(mx, v);
    for (double& v : p) sum += (v = std::exp(v - mx));
    for (std::int64_t e = 0; e < E; ++e) mean_p[sz(e)] += (p[sz(e)] /= sum) / static_cast<double>(T);
    for (std::int64_t j = 0; j < k; ++j) {
      if (fixed.a.slot[sz(t * k + j)] < 0) continue;
      const std::int64_t e = fixed.routing.expert[sz(t * k + j)];
      std::vector<double> act(sz(f), 0.0);
      for (std::int64_t q = 0; q < f; ++q) {
        double h = 0.0, u = 0.0;
        for (std::int64_t i = 0; i < d; ++i) {
          h += w.x[sz(t * d + i)] * w.wi[sz((e * d + i) * f + q)];
          if (gated) u += w.x[sz(t * d + i)] * w.wg[sz((e * d + i) * f + q)];
        }
        switch (c.activation) {
          case Activation::geglu:
            act[sz(q)] = 0.5 * h * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (h + 0.044715 * h * h * h))) * u;
            break;
          case Activation::swiglu: act[sz(q)] = h / (1.0 + std::exp(-h)) * u; break;  // silu(h) u
          case Activation::relu: act[sz(q)] = std::max(h, 0.0); break;
        }
      }
      for (std::int64_t o = 0; o < d; ++o) {
        double out = 0.0;
        for (std::int64_t q = 0; q < f; ++q) out += act[sz(q)] * w.wo[sz((e * f + q) * d + o)];
        loss += dy[sz(t * d + o)] * p[sz(e)] * out;
      }
    }
  }
  double aux = 0.0;
  for (std::int64_t e = 0; e < E; ++e) aux += fixed.routing.fraction_routed[sz(e)] * mean_p[sz(e)];
  return loss + c.aux_loss_alpha * static_cast<double>(E) * aux;
}

// Relative error of the analytic gradient against central differences on `samples` entries.
double fd_error(const SwitchLayerConfig& c, Params64 w, std::vector<double> Params64::*field,
                const std::vector<float>& analytic, const Forward& fixed, const std::vector<double>& dy, int samples) {
  std::vector<double>& v = w.*field;
  REQUIRE(analytic.size() == v.size());
  const std::size_t step = std::max<std::size_t>(1, v.size() / static_cast<std::size_t>(samples));
  return test::finite_difference_error(v, analytic, step, [&] { return loss64(c, w, fixed, dy); });
}

}  // namespace

TEST_CASE("backward: every gradient matches float64 finite differences", "[kernels][switch][backward]") {
  for (const bool dropless : {false, true}) {
    for (const Activation act : {Activation::relu, Activation::geglu, Activation::swiglu}) {
      for (const std::int64_t k : {1, 2}) {
        SwitchLayerConfig c;
        c.tokens = 24;
        c.d_model = 8;
        c.d_ff = 12;
        c.experts = 4;
        c.top_k = k;
        c.capacity_factor = 1.0;
        c.group_size = 12;
        c.activation = act;
        c.dropless = dropless;
        c.aux_loss_alpha = 0.5;  // large enough that the aux term's gradient is checked, not lost in rounding
        INFO("dropless " << dropless << ", " << to_string(act) << ", top-" << k);
        const SwitchLayerProblem p = make_random_problem(c, 5 + static_cast<std::uint64_t>(k), false, 3.0);
        const Forward fwd = run_forward(p);
        if (!dropless) CHECK(fwd.a.dropped > 0);  // dropped choices are part of what is checked
        // dy: a fixed pseudo-random projection of the output.
        std::vector<float> dy(sz(c.tokens * c.d_model));
        for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 0.3));
        cpu::SwitchLayerBackwardScratch scratch;
        cpu::SwitchLayerGrads g;
        cpu::switch_layer_backward(c, p, fwd.probs, fwd.routing, fwd.a, fwd.buffer, fwd.out, dy, scratch, g);
        const Params64 w{widen(p.x), widen(p.weights.router), widen(p.weights.wi), widen(p.weights.wi_gate),
                         widen(p.weights.wo)};
        const std::vector<double> dy64 = widen(dy);
        // fp32 products over 8-12 terms against float64 differences: ~1e-6 relative; FD truncation ~1e-9.
        CHECK(fd_error(c, w, &Params64::x, g.dx, fwd, dy64, 40) < 1e-4);
        CHECK(fd_error(c, w, &Params64::wr, g.d_router, fwd, dy64, 32) < 1e-4);
        CHECK(fd_error(c, w, &Params64::wi, g.d_wi, fwd, dy64, 48) < 1e-4);
        CHECK(fd_error(c, w, &Params64::wo, g.d_wo, fwd, dy64, 48) < 1e-4);
        if (c.gated()) CHECK(fd_error(c, w, &Params64::wg, g.d_wi_gate, fwd, dy64, 48) < 1e-4);
      }
    }
  }
}

TEST_CASE("backward: dropped choices and empty experts get no gradient", "[kernels][switch][backward]") {
  SwitchLayerConfig c;
  c.tokens = 8;
  c.d_model = 4;
  c.d_ff = 6;
  c.experts = 4;
  c.top_k = 1;
  c.capacity_factor = 1.0;  // C = 2 per expert
  SwitchLayerProblem p = make_random_problem(c, 3);
  Forward f = run_forward(p);
  // Every token to expert 0: 2 kept, 6 dropped; experts 1-3 receive nothing.
  f.routing.expert.assign(8, 0);
  cpu::assign_capacity(c, f.routing.expert, f.a);
  cpu::dispatch(c, p.x.data(), f.a, f.buffer);
  cpu::expert_ffn(c, p.weights, f.a, f.buffer, f.hidden, f.gate_hidden, f.out);
  REQUIRE(f.a.dropped == 6);
  const std::vector<float> dy(32, 1.0f);
  cpu::SwitchLayerBackwardScratch s;
  cpu::SwitchLayerGrads g;
  cpu::combine_backward(c, f.routing.gate, f.routing.expert, f.a, f.out, dy, s);
  cpu::expert_backward(c, p.weights, f.a, f.buffer, s, g);
  cpu::dispatch_backward(c, f.routing.expert, f.a, s, g);
  for (std::int64_t t = 0; t < 8; ++t) {
    const bool kept = f.a.slot[sz(t)] >= 0;
    CHECK((s.d_gate[sz(t)] != 0.0f) == kept);
    double norm = 0.0;
    for (std::int64_t i = 0; i < 4; ++i) norm += std::abs(g.dx[sz(t * 4 + i)]);
    CHECK((norm > 0.0) == kept);  // the expert path's dx: only kept tokens
  }
  for (std::size_t i = 4 * 6; i < g.d_wi.size(); ++i) CHECK(g.d_wi[i] == 0.0f);  // experts 1-3
}

TEST_CASE("backward: the forward's relu(h) gives the recomputation's gradients exactly", "[kernels][switch][backward]") {
  SwitchLayerConfig c;
  c.tokens = 32;
  c.d_model = 8;
  c.d_ff = 12;
  c.experts = 4;
  c.top_k = 1;
  c.capacity_factor = 1.0;
  const SwitchLayerProblem p = make_random_problem(c, 5, false, 4.0);  // sharp router: drops
  const Forward f = run_forward(p);
  std::vector<float> dy(sz(c.tokens * c.d_model));
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(std::cos(0.7 * static_cast<double>(i)));
  cpu::SwitchLayerBackwardScratch s1, s2;
  cpu::SwitchLayerGrads g1, g2;
  cpu::combine_backward(c, f.routing.gate, f.routing.expert, f.a, f.out, dy, s1);
  s2 = s1;
  cpu::expert_backward(c, p.weights, f.a, f.buffer, s1, g1);               // recomputes h
  cpu::expert_backward(c, p.weights, f.a, f.buffer, s2, g2, &f.hidden);  // reuses relu(h)
  CHECK(g1.d_wi == g2.d_wi);
  CHECK(g1.d_wo == g2.d_wo);
  CHECK(s1.d_in == s2.d_in);
  double norm = 0.0;
  for (float v : g2.d_wi) norm += std::abs(v);
  CHECK(norm > 0.0);
  // GEGLU has no relu(h) to reuse; a buffer of the wrong size is refused.
  SwitchLayerConfig gc = c;
  gc.activation = Activation::geglu;
  const SwitchLayerProblem gp = make_random_problem(gc, 5);
  const Forward gf = run_forward(gp);
  cpu::combine_backward(gc, gf.routing.gate, gf.routing.expert, gf.a, gf.out, dy, s1);
  CHECK_THROWS_AS(cpu::expert_backward(gc, gp.weights, gf.a, gf.buffer, s1, g1, &gf.hidden), switchsim::InputError);
  const std::vector<float> short_hidden(3, 0.0f);
  CHECK_THROWS_AS(cpu::expert_backward(c, p.weights, f.a, f.buffer, s2, g2, &short_hidden), switchsim::InputError);
}

TEST_CASE("backward through the backend interface: the CPU backend's gradients are the cpu:: functions'",
          "[kernels][switch][backward]") {
  for (const Activation act : {Activation::relu, Activation::geglu, Activation::swiglu}) {
    for (const bool dropless : {false, true}) {
      SwitchLayerConfig c;
      c.tokens = 48;
      c.d_model = 8;
      c.d_ff = 12;
      c.experts = 4;
      c.top_k = 2;
      c.capacity_factor = 0.75;  // capacity mode drops some choices
      c.activation = act;
      c.dropless = dropless;
      CAPTURE(to_string(act), dropless);
      const SwitchLayerProblem p = make_random_problem(c, 11, false, 4.0);
      auto backend = make_backend("cpu");
      REQUIRE(backend->has_backward());
      CHECK_THROWS_AS(backend->set_output_gradient({}), switchsim::InputError);  // nothing loaded
      backend->load(p);
      CHECK_THROWS_AS(backend->run_backward(SwitchBackwardKernel::combine_backward), switchsim::InputError);  // no dy
      std::vector<float> dy(sz(c.tokens * c.d_model));
      for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(std::sin(0.3 * static_cast<double>(i)));
      CHECK_THROWS_AS(backend->set_output_gradient(std::vector<float>(3)), switchsim::InputError);
      backend->set_output_gradient(dy);
      CHECK_THROWS_AS(backend->run_backward(SwitchBackwardKernel::dispatch_backward), switchsim::InputError);  // order
      CHECK(run_switch_layer_backward(*backend) >= 0.0);
      const SwitchLayerGradients got = backend->gradients();

      // The same gradients from the cpu:: functions on a forward of our own (recomputing h for
      // every activation: the backend reuses relu(h), which gives the same values exactly).
      const Forward f = run_forward(p);
      if (!dropless) REQUIRE(f.a.dropped > 0);
      cpu::SwitchLayerBackwardScratch s;
      cpu::SwitchLayerGrads want;
      cpu::switch_layer_backward(c, p, f.probs, f.routing, f.a, f.buffer, f.out, dy, s, want);
      CHECK(got.dx == want.dx);
      CHECK(got.d_router == want.d_router);
      CHECK(got.d_wi == want.d_wi);
      CHECK(got.d_wo == want.d_wo);
      CHECK(got.d_wi_gate == want.d_wi_gate);
      double norm = 0.0;
      for (float v : got.d_wo) norm += std::abs(v);
      CHECK(norm > 0.0);
    }
  }
}

TEST_CASE("backward through the backend interface: a backend without it says so", "[kernels][switch][backward]") {
  // A minimal backend that implements only the forward: the defaults answer "not available".
  struct ForwardOnly final : SwitchLayerBackend {
    std::string name() const override { return "forward-only"; }
    Precision precision() const override { return Precision::fp32; }
    void load(const SwitchLayerProblem&) override {}
    void set_routing(const RouterOutput&) override {}
    double run(SwitchKernel) override { return 0.0; }
    RouterOutput router_output() const override { return {}; }
    CapacityAssignment assignment() const override { return {}; }
    std::vector<float> output() const override { return {}; }
    nlohmann::ordered_json identity() const override { return {}; }
    std::string device_kind() const override { return "cpu"; }
    MeasuredCeilings measure_ceilings(bool) override { return {}; }
    Percentiles time_copy(std::int64_t, int) override { return {}; }
    Percentiles time_matmul(std::int64_t, std::int64_t, std::int64_t, int) override { return {}; }
  } backend;
  CHECK_FALSE(backend.has_backward());
  CHECK_THROWS_AS(backend.set_output_gradient({1.0f}), switchsim::UnavailableError);
  CHECK_THROWS_AS(run_switch_layer_backward(backend), switchsim::UnavailableError);
  CHECK_THROWS_AS(backend.gradients(), switchsim::UnavailableError);
}
