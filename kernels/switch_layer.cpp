#include "kernels/switch_layer.hpp"

#include <cmath>
#include <cstring>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda_module.hpp"

namespace switchsim::kernels {

json to_json(const SwitchLayerConfig& c) {
  json j;
  j["tokens"] = c.tokens;
  j["d_model"] = c.d_model;
  j["d_ff"] = c.d_ff;
  j["experts"] = c.experts;
  j["top_k"] = c.top_k;
  j["capacity_factor"] = c.capacity_factor;
  j["group_size"] = c.group_tokens();
  j["activation"] = to_string(c.activation);
  if (c.dropless) j["dropless"] = true;  // absent: capacity mode (profiles written before dropless existed)
  return j;
}

SwitchLayerConfig config_from_json(const json& j, const std::string& where) {
  SwitchLayerConfig c;
  c.tokens = require_integer(j, "tokens", where);
  c.d_model = require_integer(j, "d_model", where);
  c.d_ff = require_integer(j, "d_ff", where);
  c.experts = require_integer(j, "experts", where);
  c.top_k = require_integer(j, "top_k", where);
  c.capacity_factor = require_positive(j, "capacity_factor", where);
  c.group_size = require_integer(j, "group_size", where);
  const std::string act = require_string(j, "activation", where);
  if (act == "relu") {
    c.activation = Activation::relu;
  } else if (act == "geglu") {
    c.activation = Activation::geglu;
  } else if (act == "swiglu") {
    c.activation = Activation::swiglu;
  } else {
    throw InputError(where + ".activation", "must be relu, geglu or swiglu");
  }
  if (j.contains("dropless")) {
    if (!j["dropless"].is_boolean()) throw InputError(where + ".dropless", "must be true or false");
    c.dropless = j["dropless"].get<bool>();
  }
  c.validate();
  return c;
}

SwitchLayerProblem make_random_problem(const SwitchLayerConfig& config, std::uint64_t seed, bool bf16_exact,
                                       double router_scale) {
  config.validate();
  SwitchLayerProblem p;
  p.config = config;
  // splitmix64: a fast, seeded, portable stream of 64-bit values.
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  auto next = [&state] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  auto fill = [&](std::vector<float>& v, std::size_t n, double stddev) {
    // Uniform on [-a, a] has standard deviation a / sqrt(3).
    const float a = static_cast<float>(stddev * std::sqrt(3.0));
    v.resize(n);
    for (auto& value : v) {
      const float u = static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
      value = (2.0f * u - 1.0f) * a;
      if (bf16_exact) value = round_to_bf16(value);
    }
  };
  const auto T = static_cast<std::size_t>(config.tokens);
  const auto d = static_cast<std::size_t>(config.d_model);
  const auto f = static_cast<std::size_t>(config.d_ff);
  const auto E = static_cast<std::size_t>(config.experts);
  fill(p.x, T * d, 1.0);
  fill(p.weights.router, d * E, router_scale / std::sqrt(static_cast<double>(d)));
  fill(p.weights.wi, E * d * f, 1.0 / std::sqrt(static_cast<double>(d)));
  if (config.gated()) fill(p.weights.wi_gate, E * d * f, 1.0 / std::sqrt(static_cast<double>(d)));
  fill(p.weights.wo, E * f * d, 1.0 / std::sqrt(static_cast<double>(f)));
  return p;
}

std::vector<std::pair<std::string, OpShape>> switch_layer_ops(const SwitchLayerConfig& c, Precision precision) {
  const double e = precision == Precision::bf16 ? 2.0 : 4.0;
  const double rows = static_cast<double>(c.buffer_rows());  // E S padded, or R = T k packed (dropless)
  const double d = static_cast<double>(c.d_model);
  const double T = static_cast<double>(c.tokens);
  std::vector<std::pair<std::string, OpShape>> ops;
  ops.emplace_back("router", OpShape{OpKind::router, 1, c.tokens, c.experts, c.d_model, 0, Precision::fp32});
  ops.emplace_back("dispatch",
                   OpShape{OpKind::dispatch, 1, 0, 0, 0, static_cast<std::int64_t>(2.0 * rows * d * e), precision});
  const std::int64_t products = c.input_projections() + 1;
  OpShape ffn;
  if (c.dropless) {
    // The grouped GEMM as the simulator's grouped op prices it (workloads/moe_layer.cpp): per
    // projection one product over all R rows, each expert's (k, n) weights read once:
    //   FLOPs 2 R d f per product; bytes (R k + E k n + R n) e per product.
    const double f = static_cast<double>(c.d_ff), E = static_cast<double>(c.experts);
    ffn = OpShape{OpKind::batched_matmul, products, c.buffer_rows(), c.d_ff, c.d_model, 0, precision};
    ffn.bytes = static_cast<std::int64_t>(static_cast<double>(products) * (rows * d + E * d * f + rows * f) * e);
  } else {
    ffn = OpShape{OpKind::batched_matmul, c.experts * products, c.slots_per_expert(), c.d_ff, c.d_model, 0, precision};
  }
  if (c.gated()) ffn.activation_elements = c.buffer_rows() * c.d_ff;
  ops.emplace_back("expert_ffn", ffn);
  ops.emplace_back("combine", OpShape{OpKind::combine, 1, 0, 0, 0,
                                      static_cast<std::int64_t>((rows * d + T * d) * e), precision});
  return ops;
}

bool cuda_backend_built() { return cuda_module_built(); }

std::unique_ptr<SwitchLayerBackend> make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda") return load_cuda_backend();  // dlopen()s libswitchsim_cuda.so (cuda_module.hpp)
  throw InputError("--backend", "must be cpu or cuda, not '" + name + "'");
}

}  // namespace switchsim::kernels
