#pragma once
// The per-device dimensions of one training step's layers, as the step
// builder emits them and the planner's lower bounds price them. Model
// parallelism (mp) splits the attention heads, the attention inner width
// (heads * d_kv) and d_ff evenly (the layout checks that mp divides them):
//     heads_local = heads / mp,  inner_local = heads * d_kv / mp,  d_ff_local = d_ff / mp,
//     expert_d_ff_local = expert_d_ff / etp (each expert's width is split as a dense FFN's, over
//     the expert-tensor-parallel degree: etp = mp unless the layout gives etp, layout.hpp).
// Decoder-only models' attention projections: workloads/decoder_layer.hpp.
// Token counts are per device and micro-batch (StepShape).

#include <cstdint>

#include "workloads/layout.hpp"
#include "workloads/model.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

struct LayerDims {
  std::int64_t d_model = 0;
  std::int64_t mp = 1;
  std::int64_t inner = 0;        // attention inner width per device
  std::int64_t heads = 0;        // attention heads per device
  std::int64_t d_ff = 0;         // dense FFN width per device
  std::int64_t expert_d_ff = 0;  // routed expert width per device (expert_d_ff / etp; T5: d_ff / etp)
  std::int64_t shared_d_ff = 0;  // decoder-only: shared experts as one dense FFN, shared_experts x expert_d_ff / mp
  std::int64_t ffn_matrices = 0; // 3 for GEGLU, 2 for ReLU
  std::int64_t sequences = 0;    // per device and micro-batch
  std::int64_t encoder_tokens = 0;
  std::int64_t decoder_tokens = 0;
  std::int64_t groups = 1;       // encoder routing groups per device and micro-batch
  std::int64_t decoder_groups = 1;  // decoder routing groups per device and micro-batch
  std::int64_t experts = 0;
};

[[nodiscard]] inline LayerDims layer_dims(const Model& m, const Layout& layout, const StepShape& shape) {
  LayerDims dims;
  dims.d_model = m.d_model;
  dims.mp = layout.mp;
  dims.inner = m.inner_dim() / layout.mp;
  dims.heads = m.heads / layout.mp;
  dims.d_ff = m.d_ff / layout.mp;
  dims.expert_d_ff = m.expert_width() / layout.expert_tp();
  dims.shared_d_ff = m.shared_experts * m.expert_width() / layout.mp;
  dims.ffn_matrices = m.ffn_matrices();
  dims.sequences = shape.local_sequences;
  dims.encoder_tokens = shape.local_tokens;
  dims.decoder_tokens = shape.local_decoder_tokens;
  dims.groups = shape.groups_per_device;
  dims.decoder_groups = shape.decoder_groups_per_device;
  dims.experts = m.experts;
  return dims;
}

}  // namespace switchsim::workloads
