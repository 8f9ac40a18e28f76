#include "workloads/zero_sharding.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

std::int32_t parse_zero_stage(std::int64_t stage, const std::string& field) {
  if (stage < 0 || stage > kMaxZeroStage) {
    throw InputError(field, "must be 0, 1, 2 or 3 (ZeRO stage; got " + std::to_string(stage) + ")");
  }
  return static_cast<std::int32_t>(stage);
}

double shard_elements(double elements, std::int64_t group) {
  if (group <= 1) return elements;
  return std::ceil(elements / static_cast<double>(group));
}

ZeroGroups zero_groups(const Model& model, const Layout& layout) {
  ZeroGroups g;
  g.dense = layout.dp;
  g.expert = model.is_moe() ? layout.replicas() : 1;
  return g;
}

double largest_layer_local_params(const Model& m, const Layout& layout) {
  const ParamCount p = count_params(m);
  const double mp = static_cast<double>(layout.mp);
  const double d = static_cast<double>(m.d_model);
  const double nm = static_cast<double>(m.ffn_matrices());
  // Attention blocks: one per encoder (or decoder-only) layer, two per T5 decoder layer.
  const double blocks = static_cast<double>(m.encoder_layers + 2 * m.decoder_layers);
  const double attn_block = blocks > 0.0 ? p.attention / blocks : 0.0;
  const double max_blocks = m.decoder_layers > 0 ? 2.0 : 1.0;
  const double dense_ffn = nm * d * static_cast<double>(m.d_ff);
  double ffn = 0.0;
  const std::int64_t layers = std::max(m.encoder_layers, m.decoder_layers);
  for (std::int64_t i = 0; i < layers; ++i) {
    if (m.is_switch_layer(i)) {
      const double expert = nm * d * static_cast<double>(m.expert_width());
      // Routed experts split over etp (not mp): scaled by mp / etp before the common / mp below.
      const double routed = static_cast<double>(m.experts) / static_cast<double>(layout.ep) * expert *
                            (mp / static_cast<double>(layout.expert_tp()));
      const double shared = static_cast<double>(m.shared_experts) * expert;
      ffn = std::max(ffn, routed + d * static_cast<double>(m.experts) + shared);
    } else {
      ffn = std::max(ffn, dense_ffn);
    }
  }
  const double layer = (max_blocks * attn_block + ffn) / mp + 3.0 * d;  // + its norms (replicated)
  const double table = static_cast<double>(m.vocab) * d / mp;           // embedding / LM head unit
  return std::max(layer, table);
}

}  // namespace switchsim::workloads
