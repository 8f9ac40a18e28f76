// Parameters, FLOPs and checks of decoder-only models (family "decoder", workloads/model.hpp).
//
// Parameters (no biases; the models in data/models.json have none in their matrices):
//   attention per layer   sum of the projections' in x out (workloads/decoder_layer.hpp, mp = 1)
//                         mha/gqa: d (heads + 2 kv_heads) head_dim + heads head_dim d
//   norms                 2 d per layer (+ MLA: q_lora_rank + kv_lora_rank) + d (final norm)
//   dense FFN layer       n_mats d d_ff             (SwiGLU / GEGLU: gate, up, down -> 3; ReLU: 2)
//   MoE layer             experts n_mats d expert_d_ff (routed) + d experts (router)
//                         + shared_experts n_mats d expert_d_ff (dense: always on)
//   embeddings            vocab d (tied: also the output layer), + vocab d when untied
//   active per token      everything but the routed experts a token does not use:
//                         total - (experts - top_k) n_mats d expert_d_ff per MoE layer
//                         (embeddings included, the convention of the published "active" counts)
// FLOPs per sequence of L = seq_len tokens, forward, 2 per multiply-add:
//   weight_flops     2 L (attention projections + FFN: dense d_ff, or top_k routed + shared experts)
//   attention_flops  causal: per layer 2 L causal_keys(L) heads (d_qk + d_v)
//                    = 4 L causal_keys(L) heads attention_op_dim  (QK^T and AV over the kept half)
//   router_flops     2 L d experts per MoE layer
//   lm_head_flops    2 L d vocab (every token predicts the next one)
// executed = all four; per token = executed / L; training = 3 x forward (backward = 2 x).
// The input embedding is a lookup (no FLOPs). Multi-token prediction (DeepSeek-V3) is not modelled.

#include <string>

#include "common/errors.hpp"
#include "workloads/decoder_layer.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {
namespace {

double attention_weights(const Model& m) {
  double w = 0.0;
  for (const Projection& p : attention_in_projections(m, 1)) w += static_cast<double>(p.in) * static_cast<double>(p.out);
  const Projection o = attention_out_projection(m, 1);
  return w + static_cast<double>(o.in) * static_cast<double>(o.out);
}

}  // namespace

ParamCount count_decoder_params(const Model& m) {
  ParamCount p;
  const double d = static_cast<double>(m.d_model);
  const double nm = static_cast<double>(m.ffn_matrices());
  const double expert = nm * d * static_cast<double>(m.expert_width());
  const double E = static_cast<double>(m.experts);
  const double attn = attention_weights(m);
  const double mla_norms =
      m.attention == AttentionKind::mla ? static_cast<double>(m.mla.q_lora_rank + m.mla.kv_lora_rank) : 0.0;
  for (std::int64_t i = 0; i < m.encoder_layers; ++i) {
    p.attention += attn;
    p.norms += 2.0 * d + mla_norms;
    if (m.is_switch_layer(i)) {
      p.experts += E * expert;
      p.active_experts += static_cast<double>(m.top_k) * expert;
      p.router += d * E;
      p.dense_ffn += static_cast<double>(m.shared_experts) * expert;
    } else {
      p.dense_ffn += nm * d * static_cast<double>(m.d_ff);
    }
  }
  const double table = static_cast<double>(m.vocab) * d;
  p.embeddings = m.tied_embeddings ? table : 2.0 * table;
  p.input_embedding = m.tied_embeddings ? 0.0 : table;
  p.norms += d;
  return p;
}

FlopCount count_decoder_forward_flops(const Model& m) {
  FlopCount f;
  const double d = static_cast<double>(m.d_model);
  const double nm = static_cast<double>(m.ffn_matrices());
  const double expert = nm * d * static_cast<double>(m.expert_width());
  const double L = static_cast<double>(m.input_length);
  const double attn = attention_weights(m);
  const double pairs = L * static_cast<double>(causal_keys(m.input_length));
  for (std::int64_t i = 0; i < m.encoder_layers; ++i) {
    double weights = attn;
    if (m.is_switch_layer(i)) {
      weights += static_cast<double>(m.top_k + m.shared_experts) * expert;
      f.router_flops += 2.0 * L * d * static_cast<double>(m.experts);
    } else {
      weights += nm * d * static_cast<double>(m.d_ff);
    }
    f.weight_flops += 2.0 * L * weights;
    f.attention_flops += 4.0 * pairs * static_cast<double>(m.heads) * static_cast<double>(attention_op_dim(m));
  }
  f.lm_head_flops = 2.0 * L * d * static_cast<double>(m.vocab);
  return f;
}

void validate_decoder_model(const Model& m, const std::string& where) {
  auto fail = [&](const char* field, const std::string& why) { throw InputError(where + "." + field, why); };
  auto positive = [&](std::int64_t v, const char* field) {
    if (v <= 0) fail(field, "must be a positive integer (got " + std::to_string(v) + ")");
  };
  auto non_negative = [&](std::int64_t v, const char* field) {
    if (v < 0) fail(field, "must be >= 0 (got " + std::to_string(v) + ")");
  };
  auto at_most = [&](std::int64_t v, std::int64_t limit, const char* field) {
    if (v > limit) fail(field, "is " + std::to_string(v) + ", above the supported " + std::to_string(limit));
  };
  constexpr std::int64_t kMaxLayers = 10'000;
  constexpr std::int64_t kMaxExperts = 1 << 20;
  constexpr std::int64_t kMaxWidth = std::int64_t{1} << 31;
  positive(m.d_model, "d_model");
  positive(m.d_ff, "d_ff");
  positive(m.heads, "heads");
  positive(m.encoder_layers, "layers");
  positive(m.vocab, "vocab");
  positive(m.input_length, "seq_len");
  non_negative(m.experts, "experts");
  non_negative(m.expert_d_ff, "expert_d_ff");
  non_negative(m.shared_experts, "shared_experts");
  non_negative(m.first_dense_layers, "first_dense_layers");
  non_negative(m.kv_heads, "kv_heads");
  at_most(m.encoder_layers, kMaxLayers, "layers");
  at_most(m.experts, kMaxExperts, "experts");
  at_most(m.shared_experts, kMaxExperts, "shared_experts");
  for (auto [v, f] : {std::pair{m.d_model, "d_model"}, {m.d_ff, "d_ff"}, {m.heads, "heads"}, {m.vocab, "vocab"},
                      {m.input_length, "seq_len"}, {m.expert_d_ff, "expert_d_ff"}, {m.d_kv, "head_dim"}}) {
    at_most(v, kMaxWidth, f);
  }
  if (m.first_dense_layers > m.encoder_layers) fail("first_dense_layers", "exceeds layers");
  switch (m.attention) {
    case AttentionKind::mha:
      if (m.kv_heads != 0 && m.kv_heads != m.heads) fail("kv_heads", "must equal heads for \"mha\" (use \"gqa\")");
      positive(m.d_kv, "head_dim");
      break;
    case AttentionKind::gqa:
      positive(m.d_kv, "head_dim");
      positive(m.kv_heads, "kv_heads");
      if (m.kv_heads > m.heads || m.heads % m.kv_heads != 0) {
        fail("kv_heads", std::to_string(m.kv_heads) + " does not divide heads=" + std::to_string(m.heads));
      }
      break;
    case AttentionKind::mla:
      non_negative(m.mla.q_lora_rank, "mla.q_lora_rank");
      positive(m.mla.kv_lora_rank, "mla.kv_lora_rank");
      positive(m.mla.qk_nope_head_dim, "mla.qk_nope_head_dim");
      non_negative(m.mla.qk_rope_head_dim, "mla.qk_rope_head_dim");
      positive(m.mla.v_head_dim, "mla.v_head_dim");
      for (auto [v, f] : {std::pair{m.mla.q_lora_rank, "mla.q_lora_rank"}, {m.mla.kv_lora_rank, "mla.kv_lora_rank"},
                          {m.mla.qk_nope_head_dim, "mla.qk_nope_head_dim"},
                          {m.mla.qk_rope_head_dim, "mla.qk_rope_head_dim"}, {m.mla.v_head_dim, "mla.v_head_dim"}}) {
        at_most(v, kMaxWidth, f);
      }
      break;
  }
  if (m.experts > 0) {
    positive(m.expert_every, "moe_every");
    positive(m.top_k, "top_k");
    if (m.top_k > m.experts) fail("top_k", "must not exceed experts (" + std::to_string(m.experts) + ")");
    if (m.first_dense_layers == m.encoder_layers) fail("first_dense_layers", "leaves no MoE layer (use experts: 0)");
  } else if (m.shared_experts > 0) {
    fail("shared_experts", "needs routed experts (experts > 0)");
  }
}

}  // namespace switchsim::workloads
