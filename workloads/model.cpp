#include "workloads/model.hpp"

#include "common/errors.hpp"

namespace switchsim::workloads {

const char* to_string(FfnKind kind) {
  switch (kind) {
    case FfnKind::geglu: return "geglu";
    case FfnKind::relu: return "relu";
    case FfnKind::swiglu: return "swiglu";
  }
  return "?";
}

const char* to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::mha: return "mha";
    case AttentionKind::gqa: return "gqa";
    case AttentionKind::mla: return "mla";
  }
  return "?";
}

std::int64_t attention_op_dim(const Model& m) {
  if (m.attention != AttentionKind::mla) return m.d_kv;
  return (m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim + m.mla.v_head_dim) / 2;
}

std::int64_t Model::switch_layers(std::int64_t stack_layers) const {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < stack_layers; ++i) n += is_switch_layer(i) ? 1 : 0;
  return n;
}

ParamCount count_params(const Model& m) {
  if (m.decoder_only()) return count_decoder_params(m);
  ParamCount p;
  const double d = static_cast<double>(m.d_model);
  const double attn_block = 4.0 * d * static_cast<double>(m.inner_dim());
  const double ffn_dense = static_cast<double>(m.ffn_matrices()) * d * static_cast<double>(m.d_ff);
  const double E = static_cast<double>(m.experts);
  for (int stack = 0; stack < 2; ++stack) {
    const std::int64_t layers = stack == 0 ? m.encoder_layers : m.decoder_layers;
    const double attn_blocks = stack == 0 ? 1.0 : 2.0;
    const double norms = stack == 0 ? 2.0 : 3.0;
    for (std::int64_t i = 0; i < layers; ++i) {
      p.attention += attn_blocks * attn_block;
      p.norms += norms * d;
      if (m.is_switch_layer(i)) {
        p.experts += E * ffn_dense;
        p.active_experts += static_cast<double>(m.top_k) * ffn_dense;
        p.router += d * E;
      } else {
        p.dense_ffn += ffn_dense;
      }
    }
  }
  p.embeddings = static_cast<double>(m.vocab) * d;
  p.norms += 2.0 * d;
  return p;
}

FlopCount count_forward_flops(const Model& m) {
  if (m.decoder_only()) return count_decoder_forward_flops(m);
  FlopCount f;
  const double d = static_cast<double>(m.d_model);
  const double inner = static_cast<double>(m.inner_dim());
  const double attn_block = 4.0 * d * inner;
  const double ffn_dense = static_cast<double>(m.ffn_matrices()) * d * static_cast<double>(m.d_ff);
  const double k = static_cast<double>(m.top_k);
  const double E = static_cast<double>(m.experts);
  const double Lin = static_cast<double>(m.input_length);
  const double Ltg = static_cast<double>(m.target_length);
  for (int stack = 0; stack < 2; ++stack) {
    const bool dec = stack == 1;
    const std::int64_t layers = dec ? m.decoder_layers : m.encoder_layers;
    const double tokens = dec ? Ltg : Lin;
    for (std::int64_t i = 0; i < layers; ++i) {
      double weights = (dec ? 2.0 : 1.0) * attn_block;
      if (m.is_switch_layer(i)) {
        weights += k * ffn_dense;
        f.router_flops += 2.0 * d * E * tokens;
      } else {
        weights += ffn_dense;
      }
      f.weight_flops += 2.0 * weights * tokens;
      // Self-attention scores and values: 2 products of L_q x L_k x inner each.
      f.attention_flops += 2.0 * 2.0 * tokens * tokens * inner;
      if (dec) {
        f.attention_flops += 2.0 * 2.0 * Ltg * Lin * inner;                  // cross-attention
        f.cross_kv_extra += 2.0 * 2.0 * d * inner * (Lin - Ltg);             // K, V on encoder outputs
      }
    }
  }
  f.lm_head_flops = 2.0 * d * static_cast<double>(m.vocab) * Ltg;
  return f;
}

void validate_model(const Model& m, const std::string& where) {
  if (m.decoder_only()) {
    validate_decoder_model(m, where);
    return;
  }
  auto positive = [&](std::int64_t v, const char* field) {
    if (v <= 0) throw InputError(where + "." + field, "must be a positive integer (got " + std::to_string(v) + ")");
  };
  positive(m.d_model, "d_model");
  positive(m.d_ff, "d_ff");
  positive(m.d_kv, "d_kv");
  positive(m.heads, "heads");
  positive(m.encoder_layers, "encoder_layers");
  positive(m.decoder_layers, "decoder_layers");
  positive(m.vocab, "vocab");
  positive(m.input_length, "input_length");
  positive(m.target_length, "target_length");
  // Upper bounds: beyond these the step builder would loop over billions of layers or
  // allocate per-expert arrays larger than any machine, instead of reporting a result.
  auto at_most = [&](std::int64_t v, std::int64_t limit, const char* field) {
    if (v > limit) {
      throw InputError(where + "." + field, "is " + std::to_string(v) + ", above the supported " + std::to_string(limit));
    }
  };
  constexpr std::int64_t kMaxLayers = 10'000;
  constexpr std::int64_t kMaxExperts = 1 << 20;
  constexpr std::int64_t kMaxWidth = std::int64_t{1} << 31;
  at_most(m.encoder_layers, kMaxLayers, "encoder_layers");
  at_most(m.decoder_layers, kMaxLayers, "decoder_layers");
  at_most(m.experts, kMaxExperts, "experts");
  at_most(m.d_model, kMaxWidth, "d_model");
  at_most(m.d_ff, kMaxWidth, "d_ff");
  at_most(m.d_kv, kMaxWidth, "d_kv");
  at_most(m.heads, kMaxWidth, "heads");
  at_most(m.vocab, kMaxWidth, "vocab");
  at_most(m.input_length, kMaxWidth, "input_length");
  at_most(m.target_length, kMaxWidth, "target_length");
  if (m.experts < 0) throw InputError(where + ".experts", "must be >= 0");
  if (m.experts > 0) {
    positive(m.expert_every, "expert_every");
    positive(m.top_k, "top_k");
    if (m.top_k > m.experts) throw InputError(where + ".top_k", "must not exceed experts");
  }
}

}  // namespace switchsim::workloads
