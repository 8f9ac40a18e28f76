#include "workloads/memory.hpp"

#include <algorithm>
#include <cstdio>

#include "workloads/expert_tensor_parallel.hpp"
#include "workloads/moe_layer.hpp"
#include "workloads/zero_sharding.hpp"

namespace switchsim::workloads {

std::string MemoryEstimate::explain(const std::string& device_kind) const {
  constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "needs %.2f GiB per device (parameters %.2f, gradients %.2f, optimizer %.2f, activations %.2f of which "
                "capacity buffers %.2f, routing tensors %.2f) but a %s device has %.2f GiB",
                total_bytes() / GiB, parameters_bytes / GiB, gradients_bytes / GiB, optimizer_bytes / GiB,
                activations_bytes / GiB, capacity_buffers_bytes / GiB, routing_tensors_bytes / GiB, device_kind.c_str(),
                device_memory_bytes / GiB);
  std::string s = buf;
  if (gathered_bytes > 0.0) {
    std::snprintf(buf, sizeof buf, " (of which %.2f GiB gathered layers in flight, --zero 3)", gathered_bytes / GiB);
    s += buf;
  }
  return s;
}

MemoryEstimate estimate_memory(const Model& m, const Layout& layout, const TrainingSetup& setup,
                               const StepShape& shape, double received_enc, double received_dec,
                               double device_memory_bytes) {
  MemoryEstimate r;
  r.device_memory_bytes = device_memory_bytes;
  const ParamCount p = count_params(m);
  const double mp = static_cast<double>(layout.mp);
  const double ep = static_cast<double>(layout.ep);
  const double etp = static_cast<double>(layout.expert_tp());  // = mp unless the layout gives etp
  // Local elements per kind (before ZeRO sharding): dense over mp, experts over ep x etp.
  const double dense_local = p.non_expert() / mp;
  const double expert_local = p.experts / (ep * etp);
  const bool adam = setup.optimizer == Optimizer::adam;
  // ZeRO (zero_sharding.hpp): each sharded kind keeps ceil(local / group) elements per device.
  const std::int32_t stage = setup.zero_stage;
  const ZeroGroups zg = zero_groups(m, layout);
  auto held = [&](bool sharded) {
    return sharded ? shard_elements(dense_local, zg.dense) + shard_elements(expert_local, zg.expert)
                   : dense_local + expert_local;
  };
  const double param_bytes = adam ? 2.0 : 4.0;
  r.parameters_bytes = held(shards_parameters(stage)) * param_bytes;
  r.gradients_bytes = held(shards_gradients(stage)) * param_bytes;
  if (adam) {
    r.optimizer_bytes = held(shards_optimizer(stage)) * 12.0;
  } else {
    // Factored second moments: (rows + cols) floats per weight matrix (dense and expert kinds apart,
    // for their ZeRO groups).
    const double d = static_cast<double>(m.d_model);
    const double inner = static_cast<double>(m.inner_dim()) / mp;
    const double dff = static_cast<double>(m.d_ff) / mp;
    const double nm = static_cast<double>(m.ffn_matrices());
    double floats = 0.0;
    double expert_floats = 0.0;
    double all_floats = 0.0;  // both kinds, summed in one order (stage 0: the unsharded total)
    const double attn_blocks = static_cast<double>(m.encoder_layers + 2 * m.decoder_layers);
    floats += attn_blocks * 4.0 * (d + inner);
    all_floats += attn_blocks * 4.0 * (d + inner);
    for (int stack = 0; stack < 2; ++stack) {
      const std::int64_t layers = stack == 0 ? m.encoder_layers : m.decoder_layers;
      for (std::int64_t i = 0; i < layers; ++i) {
        if (m.is_switch_layer(i)) {
          const double edff = static_cast<double>(m.expert_width()) / etp;
          const double sdff = static_cast<double>(m.shared_experts * m.expert_width()) / mp;
          const double routed = static_cast<double>(m.experts) / ep * nm * (d + edff);
          expert_floats += routed;
          all_floats += routed + (d + static_cast<double>(m.experts));
          floats += d + static_cast<double>(m.experts);
          if (sdff > 0.0) {
            floats += nm * (d + sdff);
            all_floats += nm * (d + sdff);
          }
        } else {
          floats += nm * (d + dff);
          all_floats += nm * (d + dff);
        }
      }
    }
    floats += static_cast<double>(m.vocab) / mp + d;
    all_floats += static_cast<double>(m.vocab) / mp + d;
    if (shards_optimizer(stage)) {
      r.optimizer_bytes = (shard_elements(floats, zg.dense) + shard_elements(expert_floats, zg.expert)) * 4.0;
    } else {
      r.optimizer_bytes = all_floats * 4.0;
    }
  }
  // Stage 3: two layers' gathered parameters and one layer's unsharded gradients in flight.
  if (shards_parameters(stage) && (zg.dense > 1 || zg.expert > 1)) {
    r.gathered_bytes = largest_layer_local_params(m, layout) * param_bytes * 3.0;
  }

  // Activations per micro-batch (only one micro-batch's activations live at a time).
  const double a = setup.activation_bytes();
  const double d = static_cast<double>(m.d_model);
  const double inner = static_cast<double>(m.inner_dim()) / mp;
  const double heads = static_cast<double>(m.heads) / mp;
  const double dff = static_cast<double>(m.d_ff) / mp;
  const double nm = static_cast<double>(m.ffn_matrices());
  const double Lin = static_cast<double>(m.input_length);
  const double Ltg = static_cast<double>(m.target_length);
  const double T_enc = static_cast<double>(shape.local_tokens);
  const double T_dec = static_cast<double>(shape.local_decoder_tokens);
  // Decoder-only models: FlashAttention keeps no L x L score matrix, only Q, K, V, the output
  // (4 inner, an upper bound for gqa's narrower K/V) and an fp32 log-sum-exp per query and head
  // (engineering assumption: the GPU stacks these models are trained with use fused attention).
  // fp8 (workloads/fp8.hpp): the inputs a linear layer keeps for its wgrad take l = 1 byte
  // (the projection input d and the out-projection input, the context, inner); the rest a.
  const double l = setup.precision == Precision::fp8 ? 1.0 : a;
  auto attn = [&](double tokens, double keys) {
    const double linear_inputs = tokens * (d + inner) * l;
    if (m.decoder_only()) return tokens * (d + 3.0 * inner) * a + linear_inputs + tokens * heads * 4.0;
    return tokens * (d + 3.0 * inner + 2.0 * heads * keys) * a + linear_inputs;
  };
  const double edff = static_cast<double>(m.expert_width()) / etp;
  const double shared_ff = static_cast<double>(m.shared_experts * m.expert_width()) / mp;
  // Dense FFN: norm input and pre-activations in a, the wi input d and the wo input (the
  // product, d_ff) in l.
  auto dense_ffn = [&](double tokens) { return tokens * (d + (nm - 1.0) * dff) * a + tokens * (d + dff) * l; };
  // Switch layer: received rows keep the expert input (d) and hidden (n_mats d_ff/mp); the expert
  // outputs come back to the sending device, which keeps them for the combine's gate gradient
  // (padded: P rows, as received; grouped: its k T routed assignments). Routing tensors per
  // implementation: moe_layer.hpp, moe_routing_saved_bytes (einsum: the [S, E, C] tensors).
  const MoeImpl impl = setup.moe_impl;
  const bool uneven = impl == MoeImpl::grouped;
  // Folded layouts (etp != mp, layout.hpp) route a slice of tokens / s per device: routed = tokens / s.
  const double slices = static_cast<double>(layout.token_slices());
  auto switch_ffn = [&](double tokens, double group_tokens, double received, double& buffers, double& routing) {
    const double routed = tokens / slices;
    const double returned = uneven ? static_cast<double>(m.top_k) * routed : received;
    // Expert input (the dispatched token, d) and the wo input (edff) in l, pre-activations in a.
    const double buf = received * ((d + edff) * l + (nm - 1.0) * edff * a) + returned * d * a;
    const double tensors = moe_routing_saved_bytes(impl, routed, group_tokens, m.top_k, received, a);
    buffers += buf;
    routing += tensors;
    return tokens * 2.0 * d * a + routed * static_cast<double>(m.experts) * 4.0 + buf + tensors +
           tokens * ((nm - 1.0) * shared_ff * a + shared_ff * l);  // shared experts' hidden activations
  };
  double total = 0.0;
  double largest = 0.0;
  double buffers = 0.0;
  double routing = 0.0;
  for (int stack = 0; stack < 2; ++stack) {
    const bool dec = stack == 1;
    const std::int64_t layers = dec ? m.decoder_layers : m.encoder_layers;
    const double T = dec ? T_dec : T_enc;
    for (std::int64_t i = 0; i < layers; ++i) {
      double layer = attn(T, dec ? Ltg : Lin);
      if (dec) layer += attn(T, Lin);
      double layer_buffers = 0.0;
      double layer_routing = 0.0;
      // Folded layouts route sliced groups (expert_tensor_parallel.hpp); otherwise G as it is.
      const double G = static_cast<double>(
          split_routing(dec ? shape.local_decoder_tokens : shape.local_tokens,
                        dec ? shape.decoder_groups_per_device : shape.groups_per_device,
                        dec ? shape.decoder_group_tokens : shape.group_tokens, layout.token_slices())
              .group_tokens);
      layer += m.is_switch_layer(i) ? switch_ffn(T, G, dec ? received_dec : received_enc, layer_buffers, layer_routing)
                                    : dense_ffn(T);
      largest = std::max(largest, layer);
      if (setup.rematerialize) {
        total += T * d * a;
        buffers = std::max(buffers, layer_buffers);
        routing = std::max(routing, layer_routing);
      } else {
        total += layer;
        buffers += layer_buffers;
        routing += layer_routing;
      }
    }
  }
  // Logits of the LM head (fp32 for the loss), vocab sharded over mp.
  const double logits = (m.decoder_only() ? T_enc : T_dec) * static_cast<double>(m.vocab) / mp * 4.0;
  total += logits;
  if (setup.rematerialize) total += largest;
  r.activations_bytes = total;
  r.capacity_buffers_bytes = buffers;
  r.routing_tensors_bytes = routing;
  return r;
}

json to_json(const MemoryEstimate& m) {
  json j;
  j["parameters_bytes"] = m.parameters_bytes;
  j["gradients_bytes"] = m.gradients_bytes;
  j["optimizer_bytes"] = m.optimizer_bytes;
  j["activations_bytes"] = m.activations_bytes;
  j["capacity_buffers_bytes"] = m.capacity_buffers_bytes;
  j["routing_tensors_bytes"] = m.routing_tensors_bytes;
  if (m.gathered_bytes > 0.0) j["zero_gathered_bytes"] = m.gathered_bytes;  // --zero 3 only
  j["total_bytes"] = m.total_bytes();
  j["device_memory_bytes"] = m.device_memory_bytes;
  j["fits"] = m.fits();
  return j;
}

}  // namespace switchsim::workloads
