#pragma once
// FP8 training (--precision fp8, --fp8-dispatch): what runs in FP8 and what stays in
// higher precision, after DeepSeek-V3's recipe (DeepSeek-AI, "DeepSeek-V3 Technical Report",
// arXiv 2412.19437, section 3.3 "FP8 Training"):
//
//   FP8 (1-byte E4M3 operands, fp32 accumulation, bf16 output; the device's fp8 peak):
//     every linear layer's product, forward (Fprop), dgrad and wgrad: the attention
//     projections, the dense FFN, the shared and routed experts' products.
//   bf16 / fp32 as with --precision bf16 (the report keeps them in higher precision):
//     the output layer (logits), the router (fp32), the attention core (softmax(QK^T)V),
//     embeddings, norms, activations, residuals, all-reduces; parameters, gradients, master
//     weights and optimizer states stay as the optimizer keeps them (workloads/memory.hpp).
//   Dispatch (--fp8-dispatch, only with --precision fp8): the forward dispatch all-to-all sends
//     the tokens quantised to FP8, 1 byte per element ("activations before MoE up-projections
//     are quantized into FP8 and then dispatched"), with the per-tile scaling factors left
//     out (one fp32 per 128 elements: +3%; engineering simplification). The combine all-to-all
//     and both backward all-to-alls stay bf16 ("For both the forward and backward combine
//     components, we retain them in BF16"; the backward dispatch of gradients is kept bf16
//     too: engineering assumption, the conservative reading).
//   Memory (workloads/memory.cpp): the inputs a linear layer saves for its wgrad are cached in
//     FP8 (1 byte instead of 2): the projection and out-projection inputs, the FFN and expert
//     inputs and the products feeding the output projections; norms' inputs, Q/K/V for the
//     attention core and pre-activations stay bf16 (the report caches some of those in FP8
//     or E5M6 too: not modelled, so the estimate is conservative).
//
// A device without an FP8 matrix path (data/devices.json gives no peak_fp8_flops: tpuv3,
// tpuv4, a100, tpuv5p, tpuv5e) refuses --precision fp8 with one line naming the device.

#include <string>

#include "kernels/cost_model.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

// InputError("--precision", naming the device) for fp8 on a device without it or with a
// measured profile (profiles measure bf16/fp32 products only); InputError("--fp8-dispatch")
// for FP8 dispatch without --precision fp8.
void validate_precision(const TrainingSetup& setup, const std::string& device_kind, bool has_profile);

// A linear layer's product in the setup's precision: fp8 for matmul / batched_matmul shapes
// when the step runs fp8, unchanged otherwise (and for every other kind).
[[nodiscard]] kernels::OpShape linear_in_precision(kernels::OpShape shape, const TrainingSetup& setup);

// Bytes per element of the forward dispatch all-to-all: 1 with --fp8-dispatch, else the
// activation bytes. The combine and the backward all-to-alls use setup.activation_bytes().
[[nodiscard]] double dispatch_element_bytes(const TrainingSetup& setup);

}  // namespace switchsim::workloads
