// Times one Switch layer shape on a backend and checks it against its
// ceilings. Prints JSON on stdout.
//
// napkin math (per layer, E experts, S = groups * C rows per expert, e bytes
// per element):
//   expert FFN: 2 * E * S * d_model * d_ff * (projections + 1) FLOPs; its
//     ceiling is a dense product of the same FLOPs, n = cbrt(FLOPs / 2)
//   dispatch:   2 * E * S * d_model * e bytes (read token rows, write buffer)
//   combine:    (E * S + T) * d_model * e bytes
//   dispatch/combine ceiling: the measured copy bandwidth (bytes read + written)
//   expert backward (--backward; R buffer rows): ReLU reuses relu(h): d a, dWo,
//     dWi, d in = 8 R d_model d_ff FLOPs; GEGLU / SwiGLU recompute h and u and
//     have a second input projection: 16 R d_model d_ff FLOPs
//
// usage: bench_switch_layer --backend cpu|cuda [--tokens T] [--d-model D]
//        [--d-ff F] [--experts E] [--top-k K] [--capacity-factor X]
//        [--group-size G] [--geglu | --swiglu] [--dropless] [--backward]
//        [--repeats R]

#include <cmath>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/host_info.hpp"
#include "kernels/switch_layer.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

int main(int argc, char** argv) {
  CLI::App app{"Time one Switch layer shape"};
  std::string backend_name = "cpu";
  SwitchLayerConfig c;
  c.tokens = 2048;
  c.d_model = 256;
  c.d_ff = 1024;
  c.experts = 8;
  c.capacity_factor = 1.25;
  bool geglu = false, swiglu = false, backward = false;
  int repeats = 20;
  app.add_option("--backend", backend_name);
  app.add_option("--tokens", c.tokens);
  app.add_option("--d-model", c.d_model);
  app.add_option("--d-ff", c.d_ff);
  app.add_option("--experts", c.experts);
  app.add_option("--top-k", c.top_k);
  app.add_option("--capacity-factor", c.capacity_factor);
  app.add_option("--group-size", c.group_size);
  app.add_flag("--geglu", geglu);
  app.add_flag("--swiglu", swiglu)->excludes("--geglu");
  app.add_flag("--dropless", c.dropless, "Grouped GEMM over the real expert loads, no capacity");
  app.add_flag("--backward", backward, "Also time the four backward kernels (where the backend has them)");
  app.add_option("--repeats", repeats);
  CLI11_PARSE(app, argc, argv);
  if (geglu) c.activation = Activation::geglu;
  if (swiglu) c.activation = Activation::swiglu;
  try {
    auto backend = make_backend(backend_name);
    backend->load(make_random_problem(c, 1));
    for (int i = 0; i < 3; ++i) (void)run_switch_layer(*backend);  // warm-up
    std::vector<double> layer, router, assign, dispatch, ffn, combine;
    for (int r = 0; r < repeats; ++r) {
      router.push_back(backend->run(SwitchKernel::router));
      assign.push_back(backend->run(SwitchKernel::assign_capacity));
      dispatch.push_back(backend->run(SwitchKernel::dispatch));
      ffn.push_back(backend->run(SwitchKernel::expert_ffn));
      combine.push_back(backend->run(SwitchKernel::combine));
      layer.push_back(router.back() + assign.back() + dispatch.back() + ffn.back() + combine.back());
    }
    const auto ops = switch_layer_ops(c, backend->precision());
    const double ffn_flops = ops[2].second.flops();
    const double dispatch_bytes = ops[1].second.min_bytes();
    const double combine_bytes = ops[3].second.min_bytes();
    const auto n_dense = static_cast<std::int64_t>(std::llround(std::cbrt(ffn_flops / 2.0)));
    const double dense_s = backend->time_matmul(n_dense, n_dense, n_dense, 7).median;
    const double dense_flops = 2.0 * std::pow(static_cast<double>(n_dense), 3.0);
    const std::int64_t copy_bytes = std::max<std::int64_t>(1 << 20, static_cast<std::int64_t>(dispatch_bytes / 2.0));
    const double copy_Bps = 2.0 * static_cast<double>(copy_bytes) / backend->time_copy(copy_bytes, 11).median;

    json out;
    out["backend"] = backend->name();
    out["device"] = backend->identity();
    out["config"] = to_json(c);
    out["repeats"] = repeats;
    out["median_s"] = {{"layer", percentiles(layer).median},       {"router", percentiles(router).median},
                       {"assign_capacity", percentiles(assign).median}, {"dispatch", percentiles(dispatch).median},
                       {"expert_ffn", percentiles(ffn).median},     {"combine", percentiles(combine).median}};
    const double ffn_rate = ffn_flops / percentiles(ffn).median;
    const double dense_rate = dense_flops / dense_s;
    out["expert_ffn_flops_per_s"] = ffn_rate;
    out["dense_matmul"] = {{"n", n_dense}, {"flops_per_s", dense_rate}};
    out["expert_ffn_vs_dense"] = ffn_rate / dense_rate;  // target (H200) >= 0.8
    out["copy_Bps"] = copy_Bps;
    out["dispatch_Bps"] = dispatch_bytes / percentiles(dispatch).median;
    out["combine_Bps"] = combine_bytes / percentiles(combine).median;
    out["dispatch_vs_copy"] = dispatch_bytes / percentiles(dispatch).median / copy_Bps;  // target (H200) >= 0.7
    out["combine_vs_copy"] = combine_bytes / percentiles(combine).median / copy_Bps;
    out["drops"] = backend->assignment().dropped;
    if (backward) {
      if (!backend->has_backward()) throw UnavailableError("the " + backend->name() + " backend has no backward kernels");
      std::vector<float> dy(static_cast<std::size_t>(c.tokens * c.d_model));
      std::uint64_t state = 17;
      for (auto& v : dy) {  // uniform in [-1, 1), bf16-exact
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        v = round_to_bf16(static_cast<float>(static_cast<double>(state >> 40) / 16777216.0 * 2.0 - 1.0));
      }
      backend->set_output_gradient(dy);
      (void)run_switch_layer_backward(*backend);  // warm-up, and every kernel's inputs exist
      std::vector<double> total, comb, expert, disp, route;
      for (int r = 0; r < repeats; ++r) {
        comb.push_back(backend->run_backward(SwitchBackwardKernel::combine_backward));
        expert.push_back(backend->run_backward(SwitchBackwardKernel::expert_backward));
        disp.push_back(backend->run_backward(SwitchBackwardKernel::dispatch_backward));
        route.push_back(backend->run_backward(SwitchBackwardKernel::router_backward));
        total.push_back(comb.back() + expert.back() + disp.back() + route.back());
      }
      const double rows = static_cast<double>(c.buffer_rows());
      const double bwd_flops = (c.gated() ? 16.0 : 8.0) * rows * static_cast<double>(c.d_model) *
                               static_cast<double>(c.d_ff);
      const double expert_s = percentiles(expert).median;
      out["backward_median_s"] = {{"layer", percentiles(total).median},
                                  {"combine_backward", percentiles(comb).median},
                                  {"expert_backward", expert_s},
                                  {"dispatch_backward", percentiles(disp).median},
                                  {"router_backward", percentiles(route).median}};
      out["expert_backward_flops"] = bwd_flops;
      out["expert_backward_vs_dense"] = bwd_flops / expert_s / dense_rate;
    }
    std::cout << dump_json(out);
  } catch (const InputError& e) {
    std::cerr << "bench_switch_layer: " << e.what() << "\n";
    return 2;
  } catch (const UnavailableError& e) {
    std::cerr << "bench_switch_layer: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
