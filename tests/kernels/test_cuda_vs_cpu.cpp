// The CUDA backend against the CPU reference on random inputs. Inputs are
// rounded to bf16 first, so both backends see identical values: routing and
// drops must be identical (inputs are drawn until no two competing router
// probabilities are within 1e-5, so summation order cannot flip a choice),
// and outputs agree within bf16 tolerances. Exits 77 (CTest: skipped) with a
// message when no CUDA device is present.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/errors.hpp"
#include "kernels/cpu/attention_cpu.hpp"
#include "kernels/cpu/optimizer_cpu.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/drop_model.hpp"
#include "kernels/switch_layer.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

namespace {

const bool kGpuPresent = [] {
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "test_kernels_cuda: skipped: no CUDA device (cudaGetDeviceCount gave 0 or failed)\n");
    std::_Exit(77);
  }
  return true;
}();

// Smallest gap between the k-th and (k+1)-th largest router probabilities of any token.
float min_choice_gap(const SwitchLayerConfig& c, const SwitchLayerProblem& p) {
  std::vector<float> probs;
  RouterOutput r;
  cpu::route(c, p.x.data(), p.weights.router.data(), probs, r);
  float gap = 1.0f;
  for (std::int64_t t = 0; t < c.tokens; ++t) {
    std::vector<float> row(probs.begin() + t * c.experts, probs.begin() + (t + 1) * c.experts);
    std::sort(row.begin(), row.end(), std::greater<>());
    for (std::int64_t j = 0; j < c.top_k && j + 1 < c.experts; ++j) gap = std::min(gap, row[j] - row[j + 1]);
  }
  return gap;
}

SwitchLayerProblem untied_problem(const SwitchLayerConfig& c) {
  for (std::uint64_t seed = 1; seed < 200; ++seed) {
    auto p = make_random_problem(c, seed, /*bf16_exact=*/true, /*router_scale=*/4.0);
    if (min_choice_gap(c, p) > 1e-5f) return p;
  }
  FAIL("no seed without near-tied router probabilities");
  return {};
}

void compare_backends(const SwitchLayerConfig& c) {
  CAPTURE(c.tokens, c.d_model, c.d_ff, c.experts, c.top_k, c.capacity_factor, c.group_size, to_string(c.activation),
          c.dropless);
  const auto problem = untied_problem(c);
  auto cpu_backend = make_backend("cpu");
  auto gpu_backend = make_backend("cuda");
  cpu_backend->load(problem);
  gpu_backend->load(problem);
  run_switch_layer(*cpu_backend);
  run_switch_layer(*gpu_backend);

  const auto rc = cpu_backend->router_output();
  const auto rg = gpu_backend->router_output();
  CHECK(rg.expert == rc.expert);
  for (std::size_t i = 0; i < rc.gate.size(); ++i) REQUIRE(rg.gate[i] == Approx(rc.gate[i]).epsilon(1e-5));
  CHECK(rg.fraction_routed == rc.fraction_routed);
  for (std::size_t e = 0; e < rc.mean_probability.size(); ++e) {
    CHECK(rg.mean_probability[e] == Approx(rc.mean_probability[e]).epsilon(1e-5));
  }
  CHECK(rg.aux_loss == Approx(rc.aux_loss).epsilon(1e-5));

  const auto ac = cpu_backend->assignment();
  const auto ag = gpu_backend->assignment();
  CHECK(ag.slot == ac.slot);
  CHECK(ag.row_source == ac.row_source);
  CHECK(ag.expert_load == ac.expert_load);
  CHECK(ag.dropped == ac.dropped);
  CHECK(ag.expert_offsets == ac.expert_offsets);
  CHECK(ag.capacity == ac.capacity);

  const auto yc = cpu_backend->output();
  const auto yg = gpu_backend->output();
  REQUIRE(yc.size() == yg.size());
  double err2 = 0.0, ref2 = 0.0;
  for (std::size_t i = 0; i < yc.size(); ++i) {
    err2 += (double(yg[i]) - yc[i]) * (double(yg[i]) - yc[i]);
    ref2 += double(yc[i]) * yc[i];
  }
  // bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2%); the hidden
  // activations and the output are rounded once each: ~0.5% in L2.
  CHECK(std::sqrt(err2 / ref2) < 2e-2);
}

SwitchLayerConfig config(std::int64_t T, std::int64_t d, std::int64_t f, std::int64_t E, std::int64_t k, double cf,
                         std::int64_t G, Activation act, bool dropless = false) {
  SwitchLayerConfig c;
  c.tokens = T;
  c.d_model = d;
  c.d_ff = f;
  c.experts = E;
  c.top_k = k;
  c.capacity_factor = cf;
  c.group_size = G;
  c.activation = act;
  c.dropless = dropless;
  return c;
}

}  // namespace

TEST_CASE("CUDA equals CPU: top-1 relu, one group", "[kernels][cuda]") {
  compare_backends(config(512, 128, 256, 8, 1, 1.0, 0, Activation::relu));
}

TEST_CASE("CUDA equals CPU: top-2 geglu, several groups, odd d_model (scalar paths)", "[kernels][cuda]") {
  compare_backends(config(384, 36, 72, 6, 2, 1.25, 96, Activation::geglu));
}

TEST_CASE("CUDA equals CPU: top-2 swiglu, several groups, odd d_model (scalar paths)", "[kernels][cuda]") {
  compare_backends(config(384, 36, 72, 6, 2, 1.25, 96, Activation::swiglu));
}

TEST_CASE("CUDA equals CPU: many experts, tight capacity, groups not multiples of 32", "[kernels][cuda]") {
  compare_backends(config(1200, 64, 128, 40, 1, 0.75, 300, Activation::relu));
}

TEST_CASE("CUDA drops equal CPU drops on synthetic uniform and skewed routings", "[kernels][cuda]") {
  const auto c = config(4096, 64, 64, 16, 1, 1.0, 512, Activation::relu);
  const auto problem = make_random_problem(c, 5, true);
  auto cpu_backend = make_backend("cpu");
  auto gpu_backend = make_backend("cuda");
  cpu_backend->load(problem);
  gpu_backend->load(problem);
  for (const double s : {0.0, 1.0}) {
    const auto r = synthetic_routing(c, zipf_probabilities(c.experts, s), 99);
    cpu_backend->set_routing(r);
    gpu_backend->set_routing(r);
    for (auto* b : {cpu_backend.get(), gpu_backend.get()}) {
      b->run(SwitchKernel::assign_capacity);
      b->run(SwitchKernel::dispatch);
      b->run(SwitchKernel::expert_ffn);
      b->run(SwitchKernel::combine);
    }
    const auto ag = gpu_backend->assignment();
    CHECK(ag.slot == cpu_backend->assignment().slot);
    CHECK(ag.dropped == default_drop_counter()(r.expert, c));
  }
}

TEST_CASE("CUDA capacity assignment and router statistics are deterministic", "[kernels][cuda]") {
  const auto c = config(8192, 64, 64, 64, 2, 1.0, 0, Activation::relu);
  auto gpu_backend = make_backend("cuda");
  gpu_backend->load(make_random_problem(c, 8));
  gpu_backend->run(SwitchKernel::router);
  gpu_backend->run(SwitchKernel::assign_capacity);
  const auto r1 = gpu_backend->router_output();
  const auto a1 = gpu_backend->assignment();
  gpu_backend->run(SwitchKernel::router);
  gpu_backend->run(SwitchKernel::assign_capacity);
  CHECK(gpu_backend->router_output().mean_probability == r1.mean_probability);  // bitwise
  CHECK(gpu_backend->assignment().slot == a1.slot);
}

TEST_CASE("CUDA backend: a shape that does not fit GPU memory is an input error", "[kernels][cuda]") {
  SwitchLayerProblem p;  // no data: load() must refuse before touching it
  p.config = config(1 << 22, 8192, 32768, 64, 1, 1.0, 0, Activation::relu);
  auto gpu_backend = make_backend("cuda");
  CHECK_THROWS_AS(gpu_backend->load(p), InputError);
  const auto m = gpu_backend->measure_ceilings(true);
  CHECK(m.ceilings.matrix_flops_per_s > 1e12);
  CHECK(m.ceilings.memory_Bps > 1e11);
}

TEST_CASE("CUDA equals CPU in dropless mode: top-1 relu, one group", "[kernels][cuda][dropless]") {
  compare_backends(config(512, 128, 256, 8, 1, 1.0, 0, Activation::relu, true));
}

TEST_CASE("CUDA equals CPU in dropless mode: top-2 swiglu and geglu, several groups, odd d_model",
          "[kernels][cuda][dropless]") {
  compare_backends(config(384, 36, 72, 6, 2, 1.25, 96, Activation::swiglu, true));
  compare_backends(config(384, 36, 72, 6, 2, 1.25, 96, Activation::geglu, true));
}

TEST_CASE("CUDA equals CPU in dropless mode: more experts than some loads, empty experts",
          "[kernels][cuda][dropless]") {
  // 48 tokens over 40 experts, top-1: several experts get no token, so their blocks are empty
  // and the grouped GEMM skips them.
  const auto c = config(48, 64, 128, 40, 1, 1.0, 0, Activation::relu, true);
  compare_backends(c);
  auto gpu_backend = make_backend("cuda");
  gpu_backend->load(untied_problem(c));
  const auto a = gpu_backend->assignment();
  int empty = 0;
  for (std::int64_t e = 0; e < c.experts; ++e) empty += a.expert_offsets[e + 1] == a.expert_offsets[e] ? 1 : 0;
  CHECK(empty > 0);
  CHECK(a.expert_offsets.back() == c.tokens * c.top_k);
}

TEST_CASE("CUDA dropless assignment keeps every choice on a skewed routing, as the CPU", "[kernels][cuda][dropless]") {
  const auto c = config(4096, 64, 64, 16, 2, 1.0, 512, Activation::relu, true);
  const auto problem = make_random_problem(c, 5, true);
  auto cpu_backend = make_backend("cpu");
  auto gpu_backend = make_backend("cuda");
  cpu_backend->load(problem);
  gpu_backend->load(problem);
  const auto r = synthetic_routing(c, zipf_probabilities(c.experts, 1.2), 7);
  for (auto* b : {cpu_backend.get(), gpu_backend.get()}) {
    b->set_routing(r);
    b->run(SwitchKernel::assign_capacity);
    b->run(SwitchKernel::dispatch);
    b->run(SwitchKernel::expert_ffn);
    b->run(SwitchKernel::combine);
  }
  const auto ag = gpu_backend->assignment();
  const auto ac = cpu_backend->assignment();
  CHECK(ag.dropped == 0);
  CHECK(ag.slot == ac.slot);
  CHECK(ag.row_source == ac.row_source);
  CHECK(ag.expert_load == ac.expert_load);
  CHECK(ag.expert_offsets == ac.expert_offsets);
}

TEST_CASE("CUDA grouped GEMM equals a per-expert loop of cuBLAS products and a float64 reference",
          "[kernels][cuda][dropless]") {
  const std::vector<std::int64_t> rows = {5, 0, 17, 1, 33, 0, 8};
  for (const auto& [kdim, n] : {std::pair<std::int64_t, std::int64_t>{24, 40}, {36, 72}, {64, 128}}) {
    CAPTURE(kdim, n);
    std::int64_t total = 0;
    for (auto r : rows) total += r;
    const auto experts = static_cast<std::int64_t>(rows.size());
    std::vector<float> in(static_cast<std::size_t>(total * kdim)), w(static_cast<std::size_t>(experts * kdim * n));
    std::uint64_t state = 12345;
    auto next = [&state] {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return round_to_bf16(static_cast<float>(static_cast<double>(state >> 40) / 16777216.0 * 2.0 - 1.0));
    };
    for (auto& v : in) v = next();
    for (auto& v : w) v = next();
    bool grouped_used = false, loop_grouped = true;
    const auto grouped = cuda_grouped_gemm_for_test(rows, kdim, n, in, w, true, &grouped_used);
    const auto loop = cuda_grouped_gemm_for_test(rows, kdim, n, in, w, false, &loop_grouped);
    CHECK_FALSE(loop_grouped);
    if (!grouped_used) WARN("cublasGemmGroupedBatchedEx answered NOT_SUPPORTED: the loop ran in its place");
    REQUIRE(grouped.size() == static_cast<std::size_t>(total * n));
    REQUIRE(loop.size() == grouped.size());
    double err2 = 0.0, ref2 = 0.0;
    std::int64_t off = 0;
    for (std::int64_t e = 0; e < experts; ++e) {
      for (std::int64_t r = off; r < off + rows[static_cast<std::size_t>(e)]; ++r) {
        for (std::int64_t j = 0; j < n; ++j) {
          double ref = 0.0;
          for (std::int64_t q = 0; q < kdim; ++q) {
            ref += double(in[static_cast<std::size_t>(r * kdim + q)]) *
                   w[static_cast<std::size_t>((e * kdim + q) * n + j)];
          }
          const auto i = static_cast<std::size_t>(r * n + j);
          // Both round an fp32 sum to bf16: at most a rounding step apart (2^-8 relative) when
          // their summation orders differ.
          REQUIRE(std::abs(double(grouped[i]) - loop[i]) <= std::abs(ref) * (1.0 / 128.0) + 1e-6);
          err2 += (grouped[i] - ref) * (grouped[i] - ref);
          ref2 += ref * ref;
        }
      }
      off += rows[static_cast<std::size_t>(e)];
    }
    CHECK(std::sqrt(err2 / ref2) < 1e-2);  // one bf16 rounding of the output: ~0.2% in L2
  }
}

namespace {

double relative_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double err2 = 0.0, ref2 = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    err2 += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    ref2 += double(want[i]) * want[i];
  }
  return ref2 > 0.0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
}

// The CUDA backward against the CPU backend's (itself tested against float64 finite differences,
// test_switch_layer_backward.cpp) on the same bf16-exact problem and dy.
void compare_backward(const SwitchLayerConfig& c) {
  CAPTURE(c.tokens, c.d_model, c.d_ff, c.experts, c.top_k, c.capacity_factor, to_string(c.activation), c.dropless);
  const auto problem = untied_problem(c);
  std::vector<float> dy(static_cast<std::size_t>(c.tokens * c.d_model));
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = round_to_bf16(static_cast<float>(std::sin(0.37 * double(i))));
  auto cpu_backend = make_backend("cpu");
  auto gpu_backend = make_backend("cuda");
  REQUIRE(gpu_backend->has_backward());
  for (auto* b : {cpu_backend.get(), gpu_backend.get()}) {
    b->load(problem);
    run_switch_layer(*b);
    b->set_output_gradient(dy);
    for (const SwitchBackwardKernel k : kAllSwitchBackwardKernels) CHECK(b->run_backward(k) >= 0.0);
  }
  REQUIRE(gpu_backend->assignment().slot == cpu_backend->assignment().slot);  // same routing, same drops
  const auto want = cpu_backend->gradients();
  const auto got = gpu_backend->gradients();
  REQUIRE(got.dx.size() == want.dx.size());
  REQUIRE(got.d_router.size() == want.d_router.size());
  REQUIRE(got.d_wi.size() == want.d_wi.size());
  REQUIRE(got.d_wo.size() == want.d_wo.size());
  REQUIRE(got.d_wi_gate.size() == want.d_wi_gate.size());
  // bf16 storage of d o, d a, d h, d u, d in and the weight gradients (2^-9 relative each), fp32
  // accumulation: a few tenths of a percent in L2; 3% leaves room, a wrong transpose, sign or
  // missing term is O(1).
  CHECK(relative_l2(got.dx, want.dx) < 3e-2);
  CHECK(relative_l2(got.d_router, want.d_router) < 3e-2);
  CHECK(relative_l2(got.d_wi, want.d_wi) < 3e-2);
  CHECK(relative_l2(got.d_wo, want.d_wo) < 3e-2);
  if (c.gated()) CHECK(relative_l2(got.d_wi_gate, want.d_wi_gate) < 3e-2);
}

}  // namespace

TEST_CASE("CUDA backward equals CPU backward: capacity mode with drops, every activation",
          "[kernels][cuda][backward]") {
  for (const Activation act : {Activation::relu, Activation::geglu, Activation::swiglu}) {
    compare_backward(config(384, 64, 128, 8, 2, 0.75, 96, act));
  }
  compare_backward(config(384, 36, 72, 6, 1, 1.0, 0, Activation::relu));  // odd d_model, top-1
}

TEST_CASE("CUDA backward equals CPU backward: dropless, every activation, empty experts", "[kernels][cuda][backward]") {
  for (const Activation act : {Activation::relu, Activation::geglu, Activation::swiglu}) {
    compare_backward(config(384, 64, 128, 8, 2, 1.0, 96, act, true));
  }
  compare_backward(config(48, 64, 128, 40, 1, 1.0, 0, Activation::swiglu, true));  // some experts get no token
}

TEST_CASE("CUDA backward: order and input checks", "[kernels][cuda][backward]") {
  const auto c = config(256, 64, 128, 8, 1, 1.0, 0, Activation::relu);
  auto gpu_backend = make_backend("cuda");
  gpu_backend->load(make_random_problem(c, 3, true));
  CHECK_THROWS_AS(gpu_backend->run_backward(SwitchBackwardKernel::combine_backward), InputError);  // no dy yet
  CHECK_THROWS_AS(gpu_backend->set_output_gradient(std::vector<float>(5)), InputError);
  gpu_backend->set_output_gradient(std::vector<float>(static_cast<std::size_t>(c.tokens * c.d_model), 1.0f));
  CHECK_THROWS_AS(gpu_backend->run_backward(SwitchBackwardKernel::expert_backward), InputError);  // order
  CHECK_THROWS_AS(gpu_backend->gradients(), InputError);
  CHECK(run_switch_layer_backward(*gpu_backend) > 0.0);
  CHECK(gpu_backend->gradients().dx.size() == static_cast<std::size_t>(c.tokens * c.d_model));
}

TEST_CASE("CUDA plain attention forward and backward equal the CPU's", "[kernels][cuda][attention]") {
  for (const auto& shape :
       {cpu::AttentionShape{3, 16, 16, 8}, cpu::AttentionShape{2, 40, 72, 64}, cpu::AttentionShape{4, 128, 128, 64}}) {
    CAPTURE(shape.batch, shape.m, shape.n, shape.k);
    const auto qo = static_cast<std::size_t>(shape.batch * shape.m * shape.k);
    const auto kv = static_cast<std::size_t>(shape.batch * shape.n * shape.k);
    std::vector<float> q(qo), kk(kv), v(kv), d_o(qo);
    std::uint64_t state = 99;
    auto next = [&state] {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return round_to_bf16(static_cast<float>(static_cast<double>(state >> 40) / 16777216.0 * 2.0 - 1.0));
    };
    for (auto* buf : {&q, &kk, &v, &d_o})
      for (auto& x : *buf) x = next();
    std::vector<float> p, o, dp, dq, dk, dv;
    cpu::attention_forward(shape, q, kk, v, p, o);
    cpu::attention_backward(shape, q, kk, v, p, o, d_o, dp, dq, dk, dv);
    const auto got = cuda_attention_for_test(shape.batch, shape.m, shape.n, shape.k, q, kk, v, d_o);
    REQUIRE(got.o.size() == o.size());
    REQUIRE(got.dq.size() == dq.size());
    REQUIRE(got.dk.size() == dk.size());
    REQUIRE(got.dv.size() == dv.size());
    // bf16 P and dS (2^-9 relative) and bf16 outputs: well under 3% in L2.
    CHECK(relative_l2(got.o, o) < 3e-2);
    CHECK(relative_l2(got.dv, dv) < 3e-2);
    CHECK(relative_l2(got.dq, dq) < 3e-2);
    CHECK(relative_l2(got.dk, dk) < 3e-2);
  }
}

TEST_CASE("CUDA Adam update equals the CPU's", "[kernels][cuda][optimizer]") {
  const std::size_t n = 100003;  // not a multiple of the block
  std::vector<float> grad(n), w(n), m(n), v(n);
  for (std::size_t i = 0; i < n; ++i) {
    grad[i] = 1e-3f * static_cast<float>(std::sin(0.1 * double(i)));
    w[i] = static_cast<float>(std::cos(0.05 * double(i)));
    m[i] = 1e-4f * static_cast<float>(std::sin(0.3 * double(i)));
    v[i] = 1e-7f * static_cast<float>(1.5 + std::cos(0.2 * double(i)));  // >= 5e-8: sqrt(v) well above eps
  }
  cpu::AdamSettings settings;
  settings.step = 3;
  auto w_cpu = w, m_cpu = m, v_cpu = v;
  cpu::adam_update(settings, grad, w_cpu, m_cpu, v_cpu);
  cuda_adam_for_test(settings.lr, settings.beta1, settings.beta2, settings.eps, settings.step, grad, w, m, v);
  double max_update_error = 0.0, max_update = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    REQUIRE(m[i] == Approx(m_cpu[i]).epsilon(1e-5).margin(1e-12));
    REQUIRE(v[i] == Approx(v_cpu[i]).epsilon(1e-5).margin(1e-14));
    max_update_error = std::max(max_update_error, std::abs(double(w[i]) - w_cpu[i]));
    max_update = std::max(max_update, std::abs(double(w_cpu[i]) - std::cos(0.05 * double(i))));
  }
  CHECK(max_update > 1e-5);        // the update happened (~lr m / sqrt(v), here up to ~1e-4)
  CHECK(max_update_error < 1e-6);  // w ~ 1 keeps ~6e-8 resolution; rounding of m, v moves it less
}

TEST_CASE("CUDA backend times attention and Adam, so calibrate covers every op kind", "[kernels][cuda][attention]") {
  auto gpu_backend = make_backend("cuda");
  const auto attention = gpu_backend->time_attention(8, 256, 256, 64, 3);
  REQUIRE(attention.has_value());
  CHECK(attention->forward.median > 0.0);
  CHECK(attention->backward.median > 0.0);
  const auto adam = gpu_backend->time_adam(1 << 20, 3);
  REQUIRE(adam.has_value());
  CHECK(adam->median > 0.0);
  CHECK(adam->median < 1e-2);  // 28 MiB at >= 1 TB/s is ~30 us; 10 ms would mean something is wrong
}
