#pragma once
// One real training step of a small encoder-decoder Switch Transformer on the CPU (fp32,
// OpenBLAS), op by op as the step simulation builds it (workloads/step_builder.cpp, T5 family,
// one device, one micro-batch, the `gather` MoE implementation, capacity mode), each op timed,
// so that `validate --step` can compare a measured step with the simulated one.
//
// Forward (T = sequences x input_length encoder tokens, U = sequences x target_length decoder
// tokens, i = heads x d_kv):
//   enc.embed   x = table[tokens]                                   (lookup, table tied with the LM head)
//   enc<l>      self-attention block: norm (RMS), qkv = xn Wqkv (T, 3i), attention per head
//               (sequences x heads heads of L x L, not masked), out = o Wo (T, d), residual;
//               Switch FFN: norm, router (fp32 softmax, top-1) + capacity assignment, dispatch
//               into (E, C, d) buffers, expert FFN (relu), combine, residual
//   dec.embed   y = table[target tokens]
//   dec<l>      self-attention (causal mask on the full L x L square), cross-attention (q from
//               the decoder, kv = enc_out Wkv over the T encoder tokens), Switch FFN
//   lm_head     logits = y table^T (U, vocab), softmax cross-entropy (fp32)
// Backward: the same ops in reverse, each product with a weight as dgrad then wgrad, attention
// (kernels/cpu/attention_cpu.hpp), the Switch layer's backward kernels
// (switch_layer_backward_cpu.hpp; the expert backward reuses the forward's relu(h), no
// recomputation), norms, residual adds and the embedding's scatter-add.
// Optimizer: Adam (optimizer_cpu.hpp) on every parameter tensor, one call per tensor.
//
// Attention reads each head in place from the fused (T, 3i) (or (T, i) and (T_k, 2i))
// projections and writes its output and gradients in place too (attention_cpu.hpp, HeadMatrix):
// no split or merge copies, which the simulated step does not price. What the simulated step
// prices that this step does not run: nothing (the two final layer norms' parameters are counted
// and updated by Adam, but neither side applies them).

#include <cstdint>
#include <string>
#include <vector>

namespace switchsim::kernels::cpu {

struct SwitchModelConfig {
  std::int64_t sequences = 8;
  std::int64_t input_length = 128;   // encoder tokens per sequence
  std::int64_t target_length = 32;   // decoder tokens per sequence
  std::int64_t d_model = 64;
  std::int64_t heads = 2;
  std::int64_t d_kv = 32;
  std::int64_t d_ff = 128;  // of each expert (relu)
  std::int64_t experts = 8;
  std::int64_t vocab = 512;
  std::int64_t encoder_layers = 1;  // every layer's FFN is a Switch layer (expert_every 1)
  std::int64_t decoder_layers = 1;
  double capacity_factor = 1.0;  // top-1, one routing group per stack (the gather implementation's)

  // InputError naming the field for a non-positive size or one past the small-model limits.
  void validate() const;
  [[nodiscard]] std::int64_t inner() const { return heads * d_kv; }
  [[nodiscard]] std::int64_t encoder_tokens() const { return sequences * input_length; }
  [[nodiscard]] std::int64_t decoder_tokens() const { return sequences * target_length; }
};

enum class StepPhase : std::uint8_t { forward, backward, optimizer };
[[nodiscard]] const char* to_string(StepPhase p);

// One timed op of a real step. `category` groups ops both sides price alike: "elementwise"
// (norms, residuals, embedding lookups, the loss), "matmul" (projections, logits), "attention",
// "router", "dispatch", "expert_ffn", "combine" or "optimizer".
struct StepOpTime {
  std::string name;  // "enc0.self.qkv.dgrad", as the simulator names its ops
  std::string category;
  StepPhase phase = StepPhase::forward;
  double seconds = 0.0;
};

class SwitchModelStepCpu {
 public:
  SwitchModelStepCpu(const SwitchModelConfig& config, std::uint64_t seed);
  ~SwitchModelStepCpu();
  SwitchModelStepCpu(const SwitchModelStepCpu&) = delete;
  SwitchModelStepCpu& operator=(const SwitchModelStepCpu&) = delete;

  // One training step (forward, backward, Adam); appends each op's time to `ops` when given.
  // Returns the loss of the step's forward pass (cross-entropy plus the Switch layers' aux losses).
  double step(std::vector<StepOpTime>* ops);

  [[nodiscard]] std::int64_t parameters() const;  // elements Adam updates
  [[nodiscard]] std::int64_t optimizer_calls() const;  // parameter tensors
  [[nodiscard]] std::int64_t dropped_last_step() const;  // (token, choice) pairs past capacity, all Switch layers
  [[nodiscard]] std::int64_t assignments_last_step() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace switchsim::kernels::cpu
