#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "common/errors.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"
#include "kernels/drop_model.hpp"
#include "kernels/switch_layer.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

namespace {

SwitchLayerConfig small_config(std::int64_t T, std::int64_t E, std::int64_t k, double cf, std::int64_t G = 0) {
  SwitchLayerConfig c;
  c.tokens = T;
  c.d_model = 8;
  c.d_ff = 16;
  c.experts = E;
  c.top_k = k;
  c.capacity_factor = cf;
  c.group_size = G;
  return c;
}

// The paper's pseudo-code, transcribed without cleverness: per group, per
// choice rank, per token in order, position = count of the expert so far.
std::vector<std::int32_t> reference_kept(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert) {
  std::vector<std::int32_t> kept(expert.size(), 0);
  const std::int64_t G = c.group_tokens(), C = c.capacity();
  for (std::int64_t g = 0; g < c.groups(); ++g) {
    std::vector<std::int64_t> position_in_expert(static_cast<std::size_t>(c.experts), 0);
    for (std::int64_t j = 0; j < c.top_k; ++j) {
      for (std::int64_t t = g * G; t < (g + 1) * G; ++t) {
        const auto i = static_cast<std::size_t>(t * c.top_k + j);
        const auto e = static_cast<std::size_t>(expert[i]);
        kept[i] = position_in_expert[e] < C ? 1 : 0;
        position_in_expert[e] += 1;
      }
    }
  }
  return kept;
}

}  // namespace

TEST_CASE("capacity is ceil(cf * k * G / E) per group", "[kernels][switch]") {
  auto c = small_config(1024, 8, 1, 1.25);
  CHECK(c.capacity() == 160);  // 1.25 * 1024 / 8 = 160 exactly: no rounding up
  c = small_config(40, 4, 1, 1.0, 10);
  CHECK(c.capacity() == 3);  // 10 / 4 = 2.5 -> 3
  CHECK(c.groups() == 4);
  CHECK(c.slots_per_expert() == 12);
  c = small_config(40, 4, 2, 1.0, 10);
  CHECK(c.capacity() == 5);  // 2 * 10 / 4 = 5
  c = small_config(40, 4, 1, 1.0, 12);
  CHECK_THROWS_AS(c.validate(), InputError);  // 12 does not divide 40
  c = small_config(40, 4, 5, 1.0);
  CHECK_THROWS_AS(c.validate(), InputError);  // top_k > experts
}

TEST_CASE("router on a hand-computed case", "[kernels][switch]") {
  SwitchLayerConfig c = small_config(2, 2, 1, 1.0);
  c.d_model = 2;
  const std::vector<float> x = {1, 0, 0, 1};   // (T=2, d=2)
  const std::vector<float> wr = {2, 0, 0, 1};  // (d=2, E=2)
  std::vector<float> probs;
  RouterOutput r;
  cpu::route(c, x.data(), wr.data(), probs, r);
  // token 0: logits (2, 0) -> p0 = e^2/(e^2+1) = 0.880797; token 1: logits (0, 1) -> p1 = e/(1+e) = 0.731059
  const double p00 = std::exp(2.0) / (std::exp(2.0) + 1.0);
  const double p11 = std::exp(1.0) / (1.0 + std::exp(1.0));
  CHECK(r.expert == std::vector<std::int32_t>{0, 1});
  CHECK(r.gate[0] == Approx(p00).epsilon(1e-6));
  CHECK(r.gate[1] == Approx(p11).epsilon(1e-6));
  // f = (1/2, 1/2); P_0 = (p00 + (1 - p11)) / 2; aux = 0.01 * 2 * (f0 P0 + f1 P1) = 0.01 * 2 * 0.5 = 0.01
  CHECK(r.fraction_routed == std::vector<double>{0.5, 0.5});
  CHECK(r.mean_probability[0] == Approx((p00 + 1.0 - p11) / 2.0).epsilon(1e-6));
  CHECK(r.aux_loss == Approx(0.01).epsilon(1e-6));
}

TEST_CASE("top-2 router takes the two most probable experts, ties to the lower index", "[kernels][switch]") {
  SwitchLayerConfig c = small_config(1, 4, 2, 1.0);
  c.d_model = 1;
  const std::vector<float> x = {1};
  const std::vector<float> wr = {0.5f, 2.0f, 0.5f, 2.0f};  // experts 1 and 3 tie for best
  std::vector<float> probs;
  RouterOutput r;
  cpu::route(c, x.data(), wr.data(), probs, r);
  CHECK(r.expert == std::vector<std::int32_t>{1, 3});
  // p = e^2 / (2 e^2 + 2 e^0.5)
  const double p = std::exp(2.0) / (2.0 * std::exp(2.0) + 2.0 * std::exp(0.5));
  CHECK(r.gate[0] == Approx(p).epsilon(1e-6));
  CHECK(r.gate[1] == Approx(p).epsilon(1e-6));
}

TEST_CASE("capacity assignment on hand-computed cases", "[kernels][switch]") {
  CapacityAssignment a;
  SECTION("one group, top-1: the third token of expert 0 is dropped") {
    const auto c = small_config(4, 2, 1, 1.0);  // C = ceil(4/2) = 2
    cpu::assign_capacity(c, {0, 0, 0, 1}, a);
    CHECK(a.capacity == 2);
    CHECK(a.slot == std::vector<std::int32_t>{0, 1, -1, 0});
    CHECK(a.row_source == std::vector<std::int32_t>{0, 1, 3, -1});  // (E=2, S=2)
    CHECK(a.expert_load == std::vector<std::int32_t>{3, 1});
    CHECK(a.dropped == 1);
  }
  SECTION("top-2 claims slots rank-major: all first choices before any second choice") {
    const auto c = small_config(2, 2, 2, 0.5);  // C = ceil(0.5 * 2 * 2 / 2) = 1
    // token 0 -> (0, 1), token 1 -> (1, 0). Rank-major: t0 takes e0, t1 takes e1,
    // then both second choices find their expert full. (Token-major order would
    // instead keep t0's second choice and drop t1's first.)
    cpu::assign_capacity(c, {0, 1, 1, 0}, a);
    CHECK(a.slot == std::vector<std::int32_t>{0, -1, 0, -1});
    CHECK(a.dropped == 2);
  }
  SECTION("groups have their own capacity and their own buffer rows") {
    const auto c = small_config(8, 2, 1, 1.0, 4);  // 2 groups, C = 2, S = 4
    cpu::assign_capacity(c, {0, 0, 0, 0, 0, 0, 0, 0}, a);
    CHECK(a.slot == std::vector<std::int32_t>{0, 1, -1, -1, 2, 3, -1, -1});
    CHECK(a.dropped == 4);
    CHECK(a.expert_load == std::vector<std::int32_t>{4, 0, 4, 0});
  }
  SECTION("an expert index out of range is an input error") {
    const auto c = small_config(4, 2, 1, 1.0);
    CHECK_THROWS_AS(cpu::assign_capacity(c, {0, 2, 0, 1}, a), InputError);
  }
}

TEST_CASE("drop decisions equal the paper's sequential pseudo-code on random routings", "[kernels][switch]") {
  std::mt19937_64 rng(7);
  const std::int64_t Gs[] = {0, 32, 64};
  const std::int64_t ks[] = {1, 2};
  const double cfs[] = {0.5, 1.0, 1.25, 2.0};
  int checked = 0;
  for (std::int64_t G : Gs) {
    for (std::int64_t k : ks) {
      for (double cf : cfs) {
        const auto c = small_config(256, 8, k, cf, G);
        // Skewed routing: expert e with weight 1/(e+1), distinct experts per token.
        std::vector<std::int32_t> expert(static_cast<std::size_t>(c.tokens * k));
        std::discrete_distribution<std::int32_t> pick({8, 4, 2.7, 2, 1.6, 1.3, 1.1, 1});
        for (std::int64_t t = 0; t < c.tokens; ++t) {
          std::int32_t first = pick(rng);
          expert[static_cast<std::size_t>(t * k)] = first;
          if (k == 2) {
            std::int32_t second = pick(rng);
            while (second == first) second = pick(rng);
            expert[static_cast<std::size_t>(t * k + 1)] = second;
          }
        }
        CapacityAssignment a;
        cpu::assign_capacity(c, expert, a);
        const auto kept = reference_kept(c, expert);
        std::int64_t reference_drops = 0;
        for (std::size_t i = 0; i < kept.size(); ++i) {
          CHECK((a.slot[i] >= 0) == (kept[i] == 1));
          reference_drops += 1 - kept[i];
        }
        CHECK(a.dropped == reference_drops);
        CHECK(sequential_drop_count(expert, c.tokens, k, c.group_tokens(), c.experts, c.capacity()) == reference_drops);
        ++checked;
      }
    }
  }
  CHECK(checked == 24);
}

namespace {
// float64 recomputation of the whole layer, straight from the definitions.
std::vector<double> reference_layer(const SwitchLayerProblem& p) {
  const auto& c = p.config;
  const std::int64_t T = c.tokens, d = c.d_model, f = c.d_ff, E = c.experts, k = c.top_k;
  std::vector<std::int32_t> expert(static_cast<std::size_t>(T * k));
  std::vector<double> gate(static_cast<std::size_t>(T * k));
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<double> logit(static_cast<std::size_t>(E), 0.0);
    for (std::int64_t e = 0; e < E; ++e)
      for (std::int64_t i = 0; i < d; ++i) logit[e] += double(p.x[t * d + i]) * double(p.weights.router[i * E + e]);
    double mx = logit[0], sum = 0.0;
    for (double v : logit) mx = std::max(mx, v);
    for (double& v : logit) sum += (v = std::exp(v - mx));
    for (double& v : logit) v /= sum;
    for (std::int64_t j = 0; j < k; ++j) {
      std::int64_t best = -1;
      for (std::int64_t e = 0; e < E; ++e) {
        bool taken = false;
        for (std::int64_t i = 0; i < j; ++i) taken |= expert[t * k + i] == e;
        if (!taken && (best < 0 || logit[e] > logit[best])) best = e;
      }
      expert[t * k + j] = static_cast<std::int32_t>(best);
      gate[t * k + j] = logit[best];
    }
  }
  // Dropless keeps every choice.
  const auto kept = c.dropless ? std::vector<std::int32_t>(expert.size(), 1) : reference_kept(c, expert);
  std::vector<double> y(static_cast<std::size_t>(T * d), 0.0);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t j = 0; j < k; ++j) {
      if (!kept[t * k + j]) continue;
      const std::int64_t e = expert[t * k + j];
      std::vector<double> h(static_cast<std::size_t>(f), 0.0), g(static_cast<std::size_t>(f), 0.0);
      for (std::int64_t q = 0; q < f; ++q) {
        for (std::int64_t i = 0; i < d; ++i) {
          h[q] += double(p.x[t * d + i]) * double(p.weights.wi[(e * d + i) * f + q]);
          if (c.gated()) g[q] += double(p.x[t * d + i]) * double(p.weights.wi_gate[(e * d + i) * f + q]);
        }
        if (c.activation == Activation::geglu) {
          const double v = h[q];
          h[q] = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))) * g[q];
        } else if (c.activation == Activation::swiglu) {
          h[q] = h[q] / (1.0 + std::exp(-h[q])) * g[q];  // silu(h) u = h sigmoid(h) u
        } else {
          h[q] = std::max(h[q], 0.0);
        }
      }
      for (std::int64_t o = 0; o < d; ++o) {
        double out = 0.0;
        for (std::int64_t q = 0; q < f; ++q) out += h[q] * double(p.weights.wo[(e * f + q) * d + o]);
        y[t * d + o] += gate[t * k + j] * out;
      }
    }
  }
  return y;
}

// sqrt(sum (y - ref)^2 / sum ref^2).
double relative_rms_error(const std::vector<float>& y, const std::vector<double>& ref) {
  REQUIRE(y.size() == ref.size());
  double err2 = 0.0, ref2 = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    err2 += (y[i] - ref[i]) * (y[i] - ref[i]);
    ref2 += ref[i] * ref[i];
  }
  return std::sqrt(err2 / ref2);
}
}  // namespace

TEST_CASE("CPU backend matches a float64 recomputation of the whole layer", "[kernels][switch]") {
  for (const Activation act : {Activation::relu, Activation::geglu, Activation::swiglu}) {
    for (const std::int64_t k : {1, 2}) {
      SwitchLayerConfig c = small_config(96, 6, k, 1.0, 32);
      c.d_model = 24;
      c.d_ff = 40;
      c.activation = act;
      const auto problem = make_random_problem(c, 11 + static_cast<std::uint64_t>(k), false, 4.0);
      auto backend = make_backend("cpu");
      backend->load(problem);
      run_switch_layer(*backend);
      const auto y = backend->output();
      int zero_rows = 0;
      for (std::int64_t t = 0; t < c.tokens; ++t) {
        bool all_zero = true;
        for (std::int64_t i = 0; i < c.d_model; ++i) all_zero = all_zero && y[t * c.d_model + i] == 0.0f;
        zero_rows += all_zero ? 1 : 0;
      }
      // fp32 against fp64 over sums of 24-40 terms: relative error ~1e-6.
      CHECK(relative_rms_error(y, reference_layer(problem)) < 1e-5);
      // Tokens with every choice dropped have exactly zero output.
      const auto a = backend->assignment();
      int all_dropped = 0;
      for (std::int64_t t = 0; t < c.tokens; ++t) {
        bool dropped = true;
        for (std::int64_t j = 0; j < k; ++j) dropped = dropped && a.slot[t * k + j] < 0;
        all_dropped += dropped ? 1 : 0;
      }
      CHECK(zero_rows == all_dropped);
    }
  }
}

TEST_CASE("set_routing drives the real dispatch with given expert choices", "[kernels][switch]") {
  SwitchLayerConfig c = small_config(64, 4, 1, 1.0, 16);  // C = 4 per group
  auto backend = make_backend("cpu");
  backend->load(make_random_problem(c, 3));
  RouterOutput r;
  r.expert.assign(64, 2);  // everything to expert 2: 16 - 4 = 12 dropped per group, 48 in all
  r.gate.assign(64, 1.0f);
  backend->set_routing(r);
  backend->run(SwitchKernel::assign_capacity);
  backend->run(SwitchKernel::dispatch);
  CHECK(backend->assignment().dropped == 48);
  RouterOutput bad = r;
  bad.expert.pop_back();
  CHECK_THROWS_AS(backend->set_routing(bad), InputError);
}

TEST_CASE("binomial drop expectation", "[kernels][switch]") {
  // X ~ Bin(2, 1/2), C = 1: X = 2 with probability 1/4, excess 1 -> 0.25.
  CHECK(expected_binomial_excess(2, 0.5, 1) == Approx(0.25).epsilon(1e-12));
  // X ~ Bin(3, 1/2), C = 1: P(X=2) = 3/8 (excess 1), P(X=3) = 1/8 (excess 2) -> 5/8.
  CHECK(expected_binomial_excess(3, 0.5, 1) == Approx(0.625).epsilon(1e-12));
  // Monte Carlo over synthetic uniform routings agrees with E * E[max(0, X - C)].
  SwitchLayerConfig c = small_config(4096, 16, 1, 1.0, 256);  // C = 16, 16 groups
  const std::vector<double> uniform(16, 1.0 / 16.0);
  const double expected = expected_drops(c, uniform);
  double mean = 0.0;
  const int runs = 40;
  for (int s = 0; s < runs; ++s) {
    const auto r = synthetic_routing(c, uniform, static_cast<std::uint64_t>(s));
    mean += static_cast<double>(default_drop_counter()(r.expert, c)) / runs;
  }
  // Per group E[drops] ~ 16 * E[max(0, X-16)], X ~ Bin(256, 1/16) (sd 3.9): ~24;
  // 40 runs * 16 groups average it to within a few percent.
  CHECK(expected > 10.0);
  CHECK(mean == Approx(expected).epsilon(0.08));
}

TEST_CASE("backend selection", "[kernels][switch]") {
  CHECK_THROWS_AS(make_backend("tpu"), InputError);
  CHECK(make_backend("cpu")->name() == "cpu");
  // Without a CUDA device (or without CUDA built) the cuda backend is unavailable, never a crash.
  try {
    auto b = make_backend("cuda");
    CHECK(b->name() == "cuda");
  } catch (const UnavailableError& e) {
    CHECK(std::string(e.what()).find("cuda") != std::string::npos);
  }
}

TEST_CASE("dropless: the grouped GEMM over real expert loads matches float64, nothing dropped", "[kernels][switch][dropless]") {
  for (const Activation act : {Activation::relu, Activation::geglu, Activation::swiglu}) {
    for (const std::int64_t k : {1, 2}) {
      SwitchLayerConfig c = small_config(96, 6, k, 1.0, 32);
      c.d_model = 24;
      c.d_ff = 40;
      c.activation = act;
      c.dropless = true;
      // A sharp router (scale 4): uneven loads, which capacity mode at cf 1 would partly drop.
      const auto problem = make_random_problem(c, 11 + static_cast<std::uint64_t>(k), false, 4.0);
      auto backend = make_backend("cpu");
      backend->load(problem);
      run_switch_layer(*backend);
      CHECK(relative_rms_error(backend->output(), reference_layer(problem)) < 1e-5);
      const auto a = backend->assignment();
      CHECK(a.dropped == 0);
      CHECK(a.capacity == 0);
      // Packed blocks: offsets are the prefix sums of the loads, T k rows in all, no padding.
      REQUIRE(a.expert_offsets.size() == 7);
      std::int64_t max_load = 0;
      for (std::int64_t e = 0; e < 6; ++e) {
        std::int64_t load = 0;
        for (std::int64_t g = 0; g < c.groups(); ++g) load += a.expert_load[static_cast<std::size_t>(g * 6 + e)];
        CHECK(a.expert_offsets[static_cast<std::size_t>(e + 1)] - a.expert_offsets[static_cast<std::size_t>(e)] == load);
        max_load = std::max(max_load, load);
      }
      CHECK(a.expert_offsets.back() == c.tokens * k);
      CHECK(max_load > c.tokens * k / 6);  // uneven: the busiest expert is above the mean
      for (const std::int32_t source : a.row_source) CHECK(source >= 0);
    }
  }
}

TEST_CASE("dropless: block order is rank-major, every choice on its expert's block", "[kernels][switch][dropless]") {
  SwitchLayerConfig c = small_config(4, 2, 2, 1.0);
  c.dropless = true;
  CapacityAssignment a;
  // (token: first, second) = (0: 0,1) (1: 0,1) (2: 1,0) (3: 0,1): expert 0 gets 0,1,3 (first
  // choices, token order) then 2 (second choice); expert 1 gets 2 then 0,1,3.
  cpu::assign_capacity(c, {0, 1, 0, 1, 1, 0, 0, 1}, a);
  CHECK(a.expert_offsets == std::vector<std::int64_t>{0, 4, 8});
  CHECK(a.row_source == std::vector<std::int32_t>{0, 1, 3, 2, 2, 0, 1, 3});
  CHECK(a.slot == std::vector<std::int32_t>{0, 1, 1, 2, 0, 3, 2, 3});
  CHECK(a.dropped == 0);
}

TEST_CASE("dropless ops: the expert FFN's FLOPs are 2 T k d f (p + 1), no padding", "[kernels][switch][dropless]") {
  SwitchLayerConfig c = small_config(96, 6, 2, 1.25, 32);
  c.activation = Activation::geglu;
  c.dropless = true;
  for (const auto& [name, op] : switch_layer_ops(c, Precision::fp32)) {
    if (name == "expert_ffn") {
      CHECK(op.flops() == 2.0 * 96 * 2 * 8 * 16 * 3);
      // Each expert's three (8 x 16) matrices read once, R = 192 rows in and out per product.
      CHECK(op.bytes == static_cast<std::int64_t>(3.0 * (192.0 * 8 + 6.0 * 8 * 16 + 192.0 * 16) * 4.0));
    }
    if (name == "dispatch") CHECK(op.bytes == static_cast<std::int64_t>(2.0 * 192 * 8 * 4));
  }
  // The config round-trips through JSON (profiles record it).
  CHECK(config_from_json(to_json(c), "config").dropless);
  CHECK_FALSE(config_from_json(to_json(small_config(96, 6, 2, 1.25, 32)), "config").dropless);
}
