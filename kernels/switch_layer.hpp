#pragma once
// The Switch layer (Fedus et al. 2022) as five kernels behind one interface,
// with a CPU backend (fp32, OpenBLAS) and a CUDA backend (bf16 storage, fp32
// router and accumulation, cuBLAS).
//
//   router          x (T, d_model) . Wr (d_model, E) -> fp32 logits (T, E),
//                   softmax in fp32, top-k experts per token (ties: lower
//                   index first), load-balancing statistics
//                     f_i = fraction of tokens whose argmax is expert i,
//                     P_i = mean router probability of expert i,
//                     aux_loss = alpha * E * sum_i f_i P_i  (eq. 4-6).
//   assign_capacity tokens are routed in groups of G = group_size tokens; per
//                   group and expert, capacity C = ceil(cf * k * G / E). Slots
//                   are claimed by cumulative count in priority order: every
//                   token's first choice in token order, then every token's
//                   second choice, ... (rank-major, as GShard and Mesh
//                   TensorFlow); a (token, choice) past C is dropped.
//   dispatch        copies each kept token row into the expert buffer
//                   (E, S, d_model), S = groups * C (group g owns rows
//                   [g*C, (g+1)*C)); unused rows are zero (static shapes).
//   expert_ffn      per expert, on all S rows (padding included):
//                   relu:  out = relu(in . Wi) . Wo
//                   geglu: out = (gelu(in . Wi) * (in . Wi_gate)) . Wo, gelu in
//                          its tanh form 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))
//                   swiglu: out = (silu(in . Wi) * (in . Wi_gate)) . Wo, silu(x) =
//                          x sigmoid(x) = x / (1 + e^-x) (Shazeer 2020, "GLU Variants
//                          Improve Transformer"; Mixtral, DeepSeek-V3, Qwen3-MoE, OLMoE)
//   combine         y[t] = sum over kept choices j of gate[t, j] * out[slot(t, j)];
//                   a dropped token gets zero expert output (the residual
//                   connection, outside this layer, carries it).
//
// Dropless mode (`dropless`, MegaBlocks / Megatron-Core grouped GEMM): no
// capacity and no padding. assign_capacity packs every (token, choice) into
// its expert's block of a buffer of R = T k rows, experts in order, each block
// in the same rank-major priority order (expert_offsets: block e is rows
// [off[e], off[e+1]), off[e+1] - off[e] = the expert's load n_e); dispatch
// fills the R rows; expert_ffn is a grouped GEMM: per expert, the products of
// its n_e real rows only (sum_e 2 n_e d f (p + 1) = 2 R d f (p + 1) FLOPs,
// each expert's weights read once); combine as above. Nothing is dropped.
// Capacity mode uses the same addressing with off[e] = e S (every block S
// rows), so dispatch, expert_ffn and combine are one code path.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "kernels/cost_model.hpp"
#include "kernels/host_info.hpp"

namespace switchsim::kernels {

enum class Activation : std::uint8_t { relu, geglu, swiglu };
[[nodiscard]] const char* to_string(Activation a);

struct SwitchLayerConfig {
  std::int64_t tokens = 0;      // T, tokens on this device
  std::int64_t d_model = 0;
  std::int64_t d_ff = 0;
  std::int64_t experts = 0;     // E
  std::int64_t top_k = 1;
  double capacity_factor = 1.0;
  std::int64_t group_size = 0;  // G; 0 = all tokens form one group
  Activation activation = Activation::relu;
  double aux_loss_alpha = 1e-2;
  bool dropless = false;  // grouped GEMM over the experts' real loads (see above)

  // Throws InputError naming the field ("tokens", "group_size", ...).
  void validate() const;
  [[nodiscard]] std::int64_t group_tokens() const { return group_size > 0 ? group_size : tokens; }
  [[nodiscard]] std::int64_t groups() const { return tokens / group_tokens(); }
  // ceil(cf * k * G / E), computed with a 1e-9 slack so that an exact integer
  // product is not pushed up by rounding.
  [[nodiscard]] std::int64_t capacity() const;
  // Rows per expert buffer: groups * capacity (capacity mode).
  [[nodiscard]] std::int64_t slots_per_expert() const { return groups() * capacity(); }
  // Rows of the dispatch buffer: E S (capacity mode) or T k (dropless: every choice, packed).
  [[nodiscard]] std::int64_t buffer_rows() const { return dropless ? tokens * top_k : experts * slots_per_expert(); }
  // Gated FFN (geglu, swiglu): a second input projection Wi_gate multiplies the activation.
  [[nodiscard]] bool gated() const { return activation != Activation::relu; }
  // Number of (E, d_model, d_ff)-sized input projections: 1 (relu) or 2 (geglu, swiglu).
  [[nodiscard]] std::int64_t input_projections() const { return gated() ? 2 : 1; }
};

[[nodiscard]] nlohmann::ordered_json to_json(const SwitchLayerConfig& c);
// Reads a config written by to_json; InputError naming `where.<key>`.
[[nodiscard]] SwitchLayerConfig config_from_json(const nlohmann::ordered_json& j, const std::string& where);

struct SwitchLayerWeights {
  std::vector<float> router;   // (d_model, E)
  std::vector<float> wi;       // (E, d_model, d_ff)
  std::vector<float> wi_gate;  // (E, d_model, d_ff), geglu / swiglu only (empty for relu)
  std::vector<float> wo;       // (E, d_ff, d_model)
};

struct SwitchLayerProblem {
  SwitchLayerConfig config;
  std::vector<float> x;  // (T, d_model)
  SwitchLayerWeights weights;
};

// Seeded random inputs, drawn uniformly with the standard deviations
// x: 1, router: router_scale / sqrt(d_model), expert weights: 1/sqrt(fan_in)
// (uniform rather than normal: fast enough for GPU-sized weights, and the
// timing does not depend on the values). With `bf16_exact`, every
// value is rounded to the nearest bfloat16 so that a bf16 backend sees exactly
// the inputs the fp32 reference sees.
[[nodiscard]] SwitchLayerProblem make_random_problem(const SwitchLayerConfig& config, std::uint64_t seed,
                                                     bool bf16_exact = false, double router_scale = 1.0);

// Rounds to the nearest bfloat16 (ties to even), returned as float.
[[nodiscard]] float round_to_bf16(float v);

struct RouterOutput {
  std::vector<std::int32_t> expert;  // (T, k) chosen experts, best first
  std::vector<float> gate;           // (T, k) router probability of each chosen expert
  std::vector<double> fraction_routed;   // f_i, (E)
  std::vector<double> mean_probability;  // P_i, (E)
  double aux_loss = 0.0;                 // alpha * E * sum_i f_i P_i
};

struct CapacityAssignment {
  std::int64_t capacity = 0;          // C, per expert and group (0 in dropless mode)
  std::vector<std::int32_t> slot;     // (T, k) row within expert expert[t,k]'s block, or -1 if dropped
  std::vector<std::int32_t> row_source;   // (buffer rows) token whose row fills each buffer row, -1 = padding
  std::vector<std::int32_t> expert_load;  // (groups, E) choices routed to each expert, before capacity
  std::vector<std::int64_t> expert_offsets;  // (E + 1) first buffer row of each expert's block (e S when padded)
  std::int64_t dropped = 0;           // (token, choice) pairs past capacity
  // Buffer row of (token t, choice j) for expert e = expert[t, j]; slot must not be -1.
  [[nodiscard]] std::int64_t row(std::int32_t e, std::int32_t slot_in_block) const {
    return expert_offsets[static_cast<std::size_t>(e)] + slot_in_block;
  }
};

enum class SwitchKernel : std::uint8_t { router, assign_capacity, dispatch, expert_ffn, combine };
inline constexpr SwitchKernel kAllSwitchKernels[] = {SwitchKernel::router, SwitchKernel::assign_capacity,
                                                     SwitchKernel::dispatch, SwitchKernel::expert_ffn,
                                                     SwitchKernel::combine};
[[nodiscard]] const char* to_string(SwitchKernel k);

// The layer's backward as four kernels (kernels/cpu/switch_layer_backward_cpu.hpp has the maths):
// combine_backward (d expert outputs, d gates), expert_backward (dgrad and wgrad of every expert,
// with the activation's backward), dispatch_backward (dx of the expert path), router_backward
// (softmax backward with the aux-loss term, dWr, dx of the router path). Run in this order.
enum class SwitchBackwardKernel : std::uint8_t { combine_backward, expert_backward, dispatch_backward, router_backward };
inline constexpr SwitchBackwardKernel kAllSwitchBackwardKernels[] = {
    SwitchBackwardKernel::combine_backward, SwitchBackwardKernel::expert_backward,
    SwitchBackwardKernel::dispatch_backward, SwitchBackwardKernel::router_backward};
[[nodiscard]] const char* to_string(SwitchBackwardKernel k);

// The gradients of the loss <dy, y> + aux_loss with the routing decisions held fixed, as fp32.
struct SwitchLayerGradients {
  std::vector<float> dx;         // (T, d_model): expert path + router path
  std::vector<float> d_router;   // (d_model, E)
  std::vector<float> d_wi;       // (E, d_model, d_ff)
  std::vector<float> d_wi_gate;  // (E, d_model, d_ff), GEGLU and SwiGLU only
  std::vector<float> d_wo;       // (E, d_ff, d_model)
};

// The cost-model ops of one Switch layer forward pass on one device, with
// the conventions of cost_model.hpp (e = bytes per element of `precision`):
//   router:     {router, m = T, k = d_model, n = E}, precision fp32; capacity
//               assignment is timed with it (it is tiny) by calibrate/validate
//   dispatch:   {dispatch, bytes = 2 * E*S*d_model*e}
//   expert_ffn: {batched_matmul, batch = E * (input_projections + 1), m = S,
//               k = d_model, n = d_ff}: the FFN's FLOPs as one batched product
//               of equal calls; GEGLU and SwiGLU: activation_elements = E * S * d_ff
//   combine:    {combine, bytes = (E*S*d_model + T*d_model)*e}
[[nodiscard]] std::vector<std::pair<std::string, OpShape>> switch_layer_ops(const SwitchLayerConfig& config,
                                                                           Precision precision);

// What calibrate records about the machine, and the ceilings it measured.
struct MeasuredCeilings {
  DeviceCeilings ceilings;          // efficiencies 1: these ARE the measured ceilings
  nlohmann::ordered_json details;   // how they were measured (sizes, times)
};

// One interface, two backends. A backend owns its buffers (host or device).
// Every call throws (InputError, UnavailableError, std::runtime_error for a
// CUDA failure); none exits.
class SwitchLayerBackend {
 public:
  virtual ~SwitchLayerBackend() = default;
  [[nodiscard]] virtual std::string name() const = 0;     // "cpu" | "cuda"
  [[nodiscard]] virtual Precision precision() const = 0;  // of the activations and expert weights
  // Copies a problem in and sizes every buffer. InputError("shape", ...) when it does not fit memory.
  virtual void load(const SwitchLayerProblem& problem) = 0;
  // Replaces the router's decisions (expert and gate, (T, k)) with given ones,
  // for drop checks; run assign_capacity / dispatch / combine after it.
  virtual void set_routing(const RouterOutput& routing) = 0;
  // Runs one kernel on the loaded problem; returns its duration in seconds
  // (steady clock on the CPU, CUDA events on the GPU).
  virtual double run(SwitchKernel kernel) = 0;
  // Results, copied back as fp32.
  [[nodiscard]] virtual RouterOutput router_output() const = 0;
  [[nodiscard]] virtual CapacityAssignment assignment() const = 0;
  [[nodiscard]] virtual std::vector<float> output() const = 0;  // (T, d_model)
  // Device identity (CPU model and threads; GPU name, clocks, memory, driver).
  [[nodiscard]] virtual nlohmann::ordered_json identity() const = 0;
  // Device kind for profiles: "cpu", or "h200"/"h100"/"a100" for those GPUs.
  [[nodiscard]] virtual std::string device_kind() const = 0;
  // Large matrix product and large copy; launch overhead from a tiny op.
  [[nodiscard]] virtual MeasuredCeilings measure_ceilings(bool quick) = 0;
  // Times a copy of `bytes` bytes (read + written = 2 * bytes) and a dense
  // (m,k) x (k,n) product in the backend's precision: one warm-up, then
  // `repeats` timed runs.
  [[nodiscard]] virtual Percentiles time_copy(std::int64_t bytes, int repeats) = 0;
  [[nodiscard]] virtual Percentiles time_matmul(std::int64_t m, std::int64_t n, std::int64_t k, int repeats) = 0;
  // Times a plain attention forward and its backward over `batch` heads of m queries, n keys and
  // head dimension k (kernels/cpu/attention_cpu.hpp), and one Adam update of `params` parameters
  // (kernels/cpu/optimizer_cpu.hpp): one warm-up, then `repeats` timed runs. nullopt where the
  // backend has no such kernel (the CUDA backend today): calibrate then leaves the kind to the
  // fallback model and says so.
  struct AttentionTiming {
    Percentiles forward, backward;
  };
  [[nodiscard]] virtual std::optional<AttentionTiming> time_attention(std::int64_t /*batch*/, std::int64_t /*m*/,
                                                                      std::int64_t /*n*/, std::int64_t /*k*/,
                                                                      int /*repeats*/) {
    return std::nullopt;
  }
  [[nodiscard]] virtual std::optional<Percentiles> time_adam(std::int64_t /*params*/, int /*repeats*/) {
    return std::nullopt;
  }

  // The backward kernels, on the loaded problem after a forward pass (run_switch_layer), with the
  // routing the router chose. Optional: a backend without them answers false to has_backward()
  // and the three calls below throw UnavailableError.
  [[nodiscard]] virtual bool has_backward() const { return false; }
  // Sets the upstream gradient dy (T, d_model); InputError("dy", ...) for another size.
  virtual void set_output_gradient(const std::vector<float>& /*dy*/) { throw UnavailableError(no_backward()); }
  // Runs one backward kernel; returns its duration in seconds (as run()).
  virtual double run_backward(SwitchBackwardKernel /*kernel*/) { throw UnavailableError(no_backward()); }
  // The gradients after the four kernels ran, copied back as fp32.
  [[nodiscard]] virtual SwitchLayerGradients gradients() const { throw UnavailableError(no_backward()); }

 private:
  [[nodiscard]] std::string no_backward() const {
    return "the " + name() + " backend has no backward kernels";
  }
};

// Runs router, assign_capacity, dispatch, expert_ffn and combine in order;
// returns the total seconds.
double run_switch_layer(SwitchLayerBackend& backend);
// Runs the four backward kernels in order (set_output_gradient first); returns the total seconds.
double run_switch_layer_backward(SwitchLayerBackend& backend);

// "cpu" or "cuda". InputError("--backend", ...) for another name;
// UnavailableError when CUDA was not built, its module (libswitchsim_cuda.so,
// loaded with dlopen: kernels/cuda_module.hpp) cannot be loaded, or no CUDA
// device is present.
[[nodiscard]] std::unique_ptr<SwitchLayerBackend> make_backend(const std::string& name);

// True when this build compiled the CUDA backend module.
[[nodiscard]] bool cuda_backend_built();

}  // namespace switchsim::kernels
