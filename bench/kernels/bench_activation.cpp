// Times the CPU expert FFN's fused activations (kernels/cpu/activation.hpp) per element:
// relu, geglu (gelu(h) * u) and swiglu (silu(h) * u) over the same buffers, interleaved
// round by round so that a stretch of machine noise hits all three alike. Prints JSON on
// stdout: per activation the median ns per element, and swiglu / geglu (the ratio the
// calibrated cost model assumes to be 1 when it prices SwiGLU with GEGLU's per-element
// term, docs/kernels.md).
//
// napkin math: gelu = 1 exp (degree-6 polynomial), ~8 multiply-adds, 1 division;
// silu = 1 exp, 1 division, 2 multiplies: expect swiglu a little cheaper than geglu.
//
// usage: bench_activation [--elements N] [--rounds R]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kernels/cpu/activation.hpp"

using namespace switchsim::kernels;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the CPU FFN activations per element"};
  std::int64_t elements = 1 << 20;  // 4 MiB per buffer: L2/L3-sized, as the sweep's FFN hidden buffers
  int rounds = 31;
  app.add_option("--elements", elements)->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 28));
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);

  const auto n = static_cast<std::size_t>(elements);
  std::vector<float> source(n), gate(n), h(n);
  for (std::size_t i = 0; i < n; ++i) {  // h in [-6, 6), gate in [-1, 1): the FFN's usual range
    source[i] = -6.0f + 12.0f * static_cast<float>((i * 2654435761u) % 65536) / 65536.0f;
    gate[i] = -1.0f + 2.0f * static_cast<float>((i * 40503u) % 4096) / 4096.0f;
  }
  using Clock = std::chrono::steady_clock;
  auto time_one = [&](int which) {
    std::copy(source.begin(), source.end(), h.begin());
    const auto t0 = Clock::now();
    if (which == 0) cpu::relu_inplace(h.data(), elements);
    if (which == 1) cpu::geglu_inplace(h.data(), gate.data(), elements);
    if (which == 2) cpu::swiglu_inplace(h.data(), gate.data(), elements);
    const auto t1 = Clock::now();
    return std::chrono::duration<double>(t1 - t0).count() * 1e9 / static_cast<double>(elements);
  };
  std::vector<double> relu, geglu, swiglu, ratio;
  for (int w = 0; w < 3; ++w) (void)time_one(w);  // warm-up: page faults, caches
  for (int r = 0; r < rounds; ++r) {
    relu.push_back(time_one(0));
    geglu.push_back(time_one(1));
    swiglu.push_back(time_one(2));
    ratio.push_back(swiglu.back() / geglu.back());
  }
  nlohmann::ordered_json out;
  out["elements"] = elements;
  out["rounds"] = rounds;
  out["ns_per_element"] = {{"relu", median(relu)}, {"geglu", median(geglu)}, {"swiglu", median(swiglu)}};
  out["swiglu_over_geglu_median_of_round_ratios"] = median(ratio);
  std::cout << out.dump(2) << "\n";
  return 0;
}
