#include "kernels/switch_layer.hpp"

#include <bit>
#include <cmath>
#include <cstring>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#ifdef SWITCHSIM_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace switchsim::kernels {

const char* to_string(Activation a) { return a == Activation::geglu ? "geglu" : "relu"; }

const char* to_string(SwitchKernel k) {
  switch (k) {
    case SwitchKernel::router: return "router";
    case SwitchKernel::assign_capacity: return "assign_capacity";
    case SwitchKernel::dispatch: return "dispatch";
    case SwitchKernel::expert_ffn: return "expert_ffn";
    case SwitchKernel::combine: return "combine";
  }
  return "unknown";
}

void SwitchLayerConfig::validate() const {
  auto positive = [](std::int64_t v, const char* field) {
    if (v <= 0) throw InputError(field, "must be positive (got " + std::to_string(v) + ")");
  };
  positive(tokens, "tokens");
  positive(d_model, "d_model");
  positive(d_ff, "d_ff");
  positive(experts, "experts");
  positive(top_k, "top_k");
  if (top_k > experts) throw InputError("top_k", "must not exceed experts (" + std::to_string(experts) + ")");
  if (top_k > 8) throw InputError("top_k", "at most 8 is supported");
  if (!(capacity_factor > 0.0) || !std::isfinite(capacity_factor)) {
    throw InputError("capacity_factor", "must be a positive finite number");
  }
  if (group_size < 0) throw InputError("group_size", "must not be negative (0 = one group)");
  if (tokens % group_tokens() != 0) {
    throw InputError("group_size", "must divide tokens (" + std::to_string(tokens) + ")");
  }
  // Index arithmetic uses int32 for slots and int64 for element offsets.
  if (static_cast<double>(experts) * static_cast<double>(slots_per_expert()) > 2.0e9 ||
      static_cast<double>(tokens) * static_cast<double>(top_k) > 2.0e9) {
    throw InputError("tokens", "too many tokens or expert slots for 32-bit slot indices");
  }
}

std::int64_t SwitchLayerConfig::capacity() const {
  const double exact = capacity_factor * static_cast<double>(top_k) * static_cast<double>(group_tokens()) /
                       static_cast<double>(experts);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(exact - 1e-9)));
}

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
  } else {
    throw InputError(where + ".activation", "must be relu or geglu");
  }
  c.validate();
  return c;
}

float round_to_bf16(float v) {
  if (!std::isfinite(v)) return v;
  auto bits = std::bit_cast<std::uint32_t>(v);
  const std::uint32_t lsb = (bits >> 16) & 1u;
  bits += 0x7fffu + lsb;
  bits &= 0xffff0000u;
  return std::bit_cast<float>(bits);
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
  if (config.activation == Activation::geglu) fill(p.weights.wi_gate, E * d * f, 1.0 / std::sqrt(static_cast<double>(d)));
  fill(p.weights.wo, E * f * d, 1.0 / std::sqrt(static_cast<double>(f)));
  return p;
}

std::vector<std::pair<std::string, OpShape>> switch_layer_ops(const SwitchLayerConfig& c, Precision precision) {
  const double e = precision == Precision::bf16 ? 2.0 : 4.0;
  const double E = static_cast<double>(c.experts);
  const double S = static_cast<double>(c.slots_per_expert());
  const double d = static_cast<double>(c.d_model);
  const double T = static_cast<double>(c.tokens);
  std::vector<std::pair<std::string, OpShape>> ops;
  ops.emplace_back("router", OpShape{OpKind::router, 1, c.tokens, c.experts, c.d_model, 0, Precision::fp32});
  ops.emplace_back("dispatch",
                   OpShape{OpKind::dispatch, 1, 0, 0, 0, static_cast<std::int64_t>(2.0 * E * S * d * e), precision});
  ops.emplace_back("expert_ffn", OpShape{OpKind::batched_matmul, c.experts * (c.input_projections() + 1),
                                         c.slots_per_expert(), c.d_ff, c.d_model, 0, precision});
  ops.emplace_back("combine", OpShape{OpKind::combine, 1, 0, 0, 0,
                                      static_cast<std::int64_t>((E * S * d + T * d) * e), precision});
  return ops;
}

double run_switch_layer(SwitchLayerBackend& backend) {
  double total = 0.0;
  for (SwitchKernel k : kAllSwitchKernels) total += backend.run(k);
  return total;
}

bool cuda_backend_built() {
#ifdef SWITCHSIM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::unique_ptr<SwitchLayerBackend> make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda") {
#ifdef SWITCHSIM_HAVE_CUDA
    return make_cuda_backend();
#else
    throw UnavailableError("--backend cuda: this switchsim was built without CUDA (nvcc was not found)");
#endif
  }
  throw InputError("--backend", "must be cpu or cuda, not '" + name + "'");
}

}  // namespace switchsim::kernels
