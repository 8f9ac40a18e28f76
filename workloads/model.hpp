#pragma once
// A T5-style encoder-decoder model, dense or with Switch (mixture-of-experts)
// FFN layers, and how its parameters and FLOPs are counted.
//
// Parameters (counted per matrix; biases: none, as in T5):
//   attention block      4 * d_model * heads * d_kv           (Q, K, V, O)
//   encoder layer        self-attention + FFN + 2 layer norms (d_model each)
//   decoder layer        self-attention + cross-attention + FFN + 3 layer norms
//   dense FFN            n_mats * d_model * d_ff     (GEGLU: wi_0, wi_1, wo -> 3; ReLU: wi, wo -> 2)
//   Switch FFN           experts * n_mats * d_model * d_ff + d_model * experts (router)
//   embeddings           vocab * d_model, shared by the input and the output layer, + 2 final norms
// A layer i (0-based) of a stack is a Switch layer when experts > 0 and
// (i + 1) % expert_every == 0: expert_every = 2 makes every other FFN a Switch
// layer (Table 9's "expert freq 1/2"), expert_every = 1 makes every FFN one.
//
// FLOPs (2 per multiply-add), per sequence of `input_length` encoder tokens and
// `target_length` decoder tokens, forward pass only:
//   weight_flops     2 * (weights a token multiplies through on its stack) * (that stack's tokens);
//                    a Switch layer contributes top_k experts' FFN per token. Decoder cross-attention
//                    K/V projections are counted on decoder tokens here (Table 9's convention).
//   attention_flops  scores QK^T and the weighted sum AV: 2 * 2 * L_q * L_k * heads * d_kv per block
//   flops_per_sequence = weight_flops + attention_flops        (what Table 9 reports, within ~5%)
//   router_flops     2 * d_model * experts per token per Switch layer (fp32)
//   lm_head_flops    2 * d_model * vocab per decoder token
//   cross_kv_extra   cross-attention K/V are really computed on the 512 encoder outputs:
//                    2 * 2 * d_model * heads * d_kv * (input_length - target_length) per decoder layer
//   executed_flops_per_sequence = all of the above: what a step actually computes.
//
// Decoder-only models (family "decoder", workloads/decoder_counts.cpp has the maths beside the
// code): one causal stack of `layers` layers over `seq_len` tokens. They reuse the fields above
// as follows: encoder_layers = layers (the stack that sees input_length tokens), decoder_layers = 0,
// input_length = seq_len, target_length = 0, d_kv = head_dim. Attention is mha / gqa (K and V
// have kv_heads heads) / mla (DeepSeek-V2/V3 multi-head latent attention, low-rank projections
// MlaDims); routed experts have their own width expert_d_ff, shared_experts always-on experts of
// that width run on every token locally, the first `first_dense_layers` layers are dense, and
// of the rest every expert_every-th ("moe_every") is a MoE layer.

#include <cstdint>
#include <optional>
#include <string>

namespace switchsim::workloads {

enum class FfnKind : std::uint8_t { geglu, relu, swiglu };
enum class AttentionKind : std::uint8_t { mha, gqa, mla };

[[nodiscard]] const char* to_string(FfnKind kind);
[[nodiscard]] const char* to_string(AttentionKind kind);

// Multi-head latent attention (DeepSeek-V2 arXiv 2405.04434 sec. 2.1; DeepSeek-V3 config.json names).
struct MlaDims {
  std::int64_t q_lora_rank = 0;       // 0: Q is one full-rank projection d_model -> heads*(nope+rope)
  std::int64_t kv_lora_rank = 0;
  std::int64_t qk_nope_head_dim = 0;
  std::int64_t qk_rope_head_dim = 0;
  std::int64_t v_head_dim = 0;
};

struct Model {
  std::string name;
  std::string family;  // "t5", "switch", "moe", "decoder" (decoder-only, causal)
  std::string source;  // where the configuration comes from
  std::string note;
  std::int64_t d_model = 0;
  std::int64_t d_ff = 0;
  std::int64_t d_kv = 64;
  std::int64_t heads = 0;
  std::int64_t encoder_layers = 0;
  std::int64_t decoder_layers = 0;
  FfnKind ffn = FfnKind::geglu;
  std::int64_t experts = 0;       // 0: dense
  std::int64_t expert_every = 0;  // every n-th FFN is a Switch layer
  std::int64_t top_k = 1;
  std::int64_t vocab = 32128;
  std::int64_t input_length = 512;
  std::int64_t target_length = 114;
  // Decoder-only fields (family "decoder"; see above).
  AttentionKind attention = AttentionKind::mha;
  std::int64_t kv_heads = 0;            // gqa: K/V heads (0: = heads)
  MlaDims mla;
  std::int64_t expert_d_ff = 0;         // routed (and shared) expert width (0: = d_ff)
  std::int64_t shared_experts = 0;      // always-on experts of expert_d_ff, computed locally
  std::int64_t first_dense_layers = 0;  // the first N layers have a dense FFN of d_ff
  bool tied_embeddings = true;          // false: a separate vocab x d_model output layer
  // The paper's Table 9 figures, when the model has a row there.
  std::optional<double> table9_params;
  std::optional<double> table9_flops_per_sequence;

  [[nodiscard]] bool is_moe() const { return experts > 0; }
  [[nodiscard]] bool decoder_only() const { return family == "decoder"; }
  [[nodiscard]] bool is_switch_layer(std::int64_t layer_index) const {
    return experts > 0 && expert_every > 0 && layer_index >= first_dense_layers &&
           (layer_index - first_dense_layers + 1) % expert_every == 0;
  }
  [[nodiscard]] std::int64_t ffn_matrices() const { return ffn == FfnKind::relu ? 2 : 3; }
  [[nodiscard]] std::int64_t expert_width() const { return expert_d_ff > 0 ? expert_d_ff : d_ff; }
  [[nodiscard]] std::int64_t kv_head_count() const { return kv_heads > 0 ? kv_heads : heads; }
  [[nodiscard]] std::int64_t inner_dim() const { return heads * d_kv; }
  [[nodiscard]] std::int64_t switch_layers(std::int64_t stack_layers) const;
};

struct ParamCount {
  double attention = 0.0;   // all attention projections, both stacks
  double dense_ffn = 0.0;   // dense FFN layers
  double experts = 0.0;     // expert FFN weights
  double router = 0.0;
  double embeddings = 0.0;  // shared embedding / output layer
  double norms = 0.0;
  double active_experts = 0.0;  // routed expert weights one token passes through (top_k per MoE layer)
  double input_embedding = 0.0; // of `embeddings`: the input table when untied (a lookup, no FLOPs)
  [[nodiscard]] double total() const { return attention + dense_ffn + experts + router + embeddings + norms; }
  // Everything but the expert weights (replicated over expert-parallel groups); shared
  // experts are in dense_ffn.
  [[nodiscard]] double non_expert() const { return total() - experts; }
  // Parameters a token uses (the published "active" convention, embeddings included).
  [[nodiscard]] double active() const { return non_expert() + active_experts; }
};

struct FlopCount {
  double weight_flops = 0.0;
  double attention_flops = 0.0;
  double router_flops = 0.0;
  double lm_head_flops = 0.0;
  double cross_kv_extra = 0.0;
  [[nodiscard]] double flops_per_sequence() const { return weight_flops + attention_flops; }
  [[nodiscard]] double executed_flops_per_sequence() const {
    return weight_flops + attention_flops + router_flops + lm_head_flops + cross_kv_extra;
  }
};

[[nodiscard]] ParamCount count_params(const Model& model);
[[nodiscard]] FlopCount count_forward_flops(const Model& model);

// Throws InputError naming `where.<field>` when a configuration is impossible
// (non-positive sizes, top_k > experts, ...).
void validate_model(const Model& model, const std::string& where);

// The decoder-only counts and checks (workloads/decoder_counts.cpp), used by the three above.
[[nodiscard]] ParamCount count_decoder_params(const Model& model);
[[nodiscard]] FlopCount count_decoder_forward_flops(const Model& model);
void validate_decoder_model(const Model& model, const std::string& where);
// Causal self-attention: query i (0-based) attends to keys 0..i, L(L+1)/2 pairs per sequence;
// the step prices it as L queries x causal_keys(L) keys, causal_keys(L) = (L+1)/2 rounded down
// (= L/2 for even L, the half of the blocks a causal FlashAttention kernel computes).
[[nodiscard]] inline std::int64_t causal_keys(std::int64_t L) { return (L + 1) / 2; }
// Width of the attention op's per-head product: (d_qk + d_v) / 2 prices QK^T (d_qk) and AV (d_v)
// exactly as 4 m n k (kernels/cost_model.hpp); d_kv for mha/gqa, (nope+rope+v)/2 for mla.
[[nodiscard]] std::int64_t attention_op_dim(const Model& model);

}  // namespace switchsim::workloads
