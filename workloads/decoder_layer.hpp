#pragma once
// The attention projections of one decoder-only layer (family "decoder", workloads/model.hpp),
// per token and per device, as the step builder emits them, the planner's bounds price them and
// count_decoder_params counts them (mp = 1: the parameters of one layer).
//
//   mha / gqa   qkv  d_model -> (heads + 2 kv_heads) head_dim / mp    (Q, K, V fused)
//               out  heads head_dim / mp -> d_model
//   mla         q_a  d_model -> q_lora_rank                           (replicated over mp)
//               q_b  q_lora_rank -> heads/mp (nope + rope)             (q_lora_rank = 0: q, d_model -> ...)
//               kv_a d_model -> kv_lora_rank + rope                   (replicated over mp; the rope part is
//                                                                      the key's decoupled shared rope head)
//               kv_b kv_lora_rank -> heads/mp (nope + v_head_dim)
//               out  heads/mp v_head_dim -> d_model
// (DeepSeek-V2, arXiv 2405.04434, sec. 2.1.2-2.1.3, eqs. 9-19; the names are DeepSeek-V3's
// modeling_deepseek.py: q_a_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj, o_proj.) MLA's low-rank
// norms (q_a_layernorm, kv_a_layernorm) are counted as norms, not here. Engineering assumption:
// with mp > 1 the down projections (q_a, kv_a) are replicated, as Megatron-Core's MLA does; the
// gradient sync still divides all non-expert parameters by mp (slightly fewer bytes than real).

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/model.hpp"

namespace switchsim::workloads {

struct Projection {
  std::string name;
  std::int64_t in = 0;   // k of the product
  std::int64_t out = 0;  // n of the product
};

// The projections before the attention op, in order.
[[nodiscard]] inline std::vector<Projection> attention_in_projections(const Model& m, std::int64_t mp) {
  const std::int64_t d = m.d_model, h = m.heads / mp;
  if (m.attention != AttentionKind::mla) {
    return {{"qkv", d, (m.heads + 2 * m.kv_head_count()) * m.d_kv / mp}};
  }
  const MlaDims& x = m.mla;
  std::vector<Projection> p;
  if (x.q_lora_rank > 0) {
    p.push_back({"q_a", d, x.q_lora_rank});
    p.push_back({"q_b", x.q_lora_rank, h * (x.qk_nope_head_dim + x.qk_rope_head_dim)});
  } else {
    p.push_back({"q", d, h * (x.qk_nope_head_dim + x.qk_rope_head_dim)});
  }
  p.push_back({"kv_a", d, x.kv_lora_rank + x.qk_rope_head_dim});
  p.push_back({"kv_b", x.kv_lora_rank, h * (x.qk_nope_head_dim + x.v_head_dim)});
  return p;
}

// The output projection after the attention op.
[[nodiscard]] inline Projection attention_out_projection(const Model& m, std::int64_t mp) {
  const std::int64_t v = m.attention == AttentionKind::mla ? m.mla.v_head_dim : m.d_kv;
  return {"out", m.heads / mp * v, m.d_model};
}

}  // namespace switchsim::workloads
