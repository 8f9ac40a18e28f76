#pragma once
// Memory per device for one layout (DESIGN.md 2.7). Bytes, per device:
//
//   parameters   non-expert params / mp  +  expert params / (ep * etp)
//                (each device holds E/ep experts, each sharded over etp on d_ff, etp = mp unless
//                the layout gives etp (layout.hpp); attention, dense FFN, embeddings sharded over mp;
//                a folded layout's expert hidden activations use d_ff/etp and its router
//                probabilities and routing indices the routed T / s tokens, expert_tensor_parallel.hpp)
//   precision    adafactor: fp32 parameters (4 B) and fp32 gradients (4 B), factored
//                second moments: (rows + cols) fp32 per weight matrix, no first moment;
//                adam: bf16 parameters (2 B) and gradients (2 B), fp32 master copy and
//                two fp32 moments (12 B) = 16 B per parameter.
//   activations  kept for the backward pass, per layer, per local token (elements, then x2 B bf16):
//                attention block   2 d + 4 inner/mp + 2 (heads/mp) L_k   (norm and projection inputs,
//                                  Q K V and context, scores and probabilities)
//                dense FFN         2 d + (n_mats) d_ff/mp                 (inputs, pre-activations, product)
//                Switch FFN        2 d + fp32 router probabilities (4 B x E per token)
//                                  + capacity buffers: per received slot the dispatched input d
//                                    and hidden (n_mats) d_ff/mp, per returned slot the expert
//                                    output d (kept by the sending device for the combine's gate
//                                    gradient: P padded slots, or k T assignments for grouped)
//                                  + routing tensors of the MoE implementation (moe_layer.hpp,
//                                    moe_routing_saved_bytes): einsum the [S, E, C] dispatch and
//                                    combine tensors (activation dtype) and the fp32 mask product,
//                                    S P (4 + 2a) bytes; gather and grouped their indices, 8 k T
//                --precision fp8 (workloads/fp8.hpp): the inputs the linear layers keep for their
//                wgrad take 1 byte: attention d + inner (projection and out-projection inputs),
//                dense FFN d + d_ff, expert rows d + d_ff (input and wo input), shared experts d_ff
//                (their input is the layer's, counted once); everything else as bf16
//                with rematerialization only each layer's input (d per token) is kept, plus
//                the working set of the largest single layer.
//   ZeRO (setup.zero_stage, zero_sharding.hpp): stage 1 keeps ceil(1/group) of the optimizer state,
//                stage 2 also of the gradients, stage 3 also of the parameters, with group = dp for
//                dense parameters and rep = dp / ep for expert parameters (adafactor's factored
//                moments split the same way); stage 3 adds gathered_bytes = 3 x the largest layer's
//                local parameters (two layers gathered, prefetch depth 1, and one layer's unsharded
//                gradients; engineering assumption, FSDP's defaults).
//   Capacity buffers hold received slots: padded buffers (einsum, gather) E/ep experts x ep sources
//   x groups x C; grouped the busiest device's actual received assignments.
//   A device's memory is the catalog's per-device figure; `fits` compares the total with it.

#include <cstdint>
#include <string>

#include "common/json_io.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

struct MemoryEstimate {
  double parameters_bytes = 0.0;
  double gradients_bytes = 0.0;
  double optimizer_bytes = 0.0;
  double activations_bytes = 0.0;
  double capacity_buffers_bytes = 0.0;  // part of activations_bytes
  double routing_tensors_bytes = 0.0;   // part of activations_bytes (einsum masks, gather/grouped indices)
  // --zero 3: gathered parameters and unsharded gradients of the layers in flight (zero_sharding.hpp)
  double gathered_bytes = 0.0;
  double device_memory_bytes = 0.0;
  [[nodiscard]] double total_bytes() const {
    return parameters_bytes + gradients_bytes + optimizer_bytes + activations_bytes + gathered_bytes;
  }
  [[nodiscard]] bool fits() const { return total_bytes() <= device_memory_bytes; }
  // "needs 21.3 GiB per device (parameters 6.1, gradients 6.1, optimizer 0.1, activations 9.0) but a tpuv3 device has 16.0 GiB"
  [[nodiscard]] std::string explain(const std::string& device_kind) const;
};

// received_slots_encoder / _decoder: slots each device's experts process per Switch layer and
// micro-batch (padded count for einsum and gather; grouped: the busiest device's load).
// setup.moe_impl must be resolved for MoE models.
[[nodiscard]] MemoryEstimate estimate_memory(const Model& model, const Layout& layout, const TrainingSetup& setup,
                                             const StepShape& shape, double received_slots_encoder,
                                             double received_slots_decoder, double device_memory_bytes);

[[nodiscard]] json to_json(const MemoryEstimate& m);

}  // namespace switchsim::workloads
