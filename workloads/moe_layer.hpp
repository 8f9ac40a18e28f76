#pragma once
// The compute ops of one MoE (Switch) layer on one device and micro-batch, per implementation
// (moe_impl.hpp), forward and backward. The step builder emits them and the planner's lower
// bounds price them, so both see the same shapes. The router (fp32 logits, softmax, top-k), the
// norm before and the residual after are the same for every implementation and stay in the
// builder.
//
// Notation (per device, one Switch layer, one micro-batch):
//   T tokens, S tokens per routing group, g groups (T = g S; a decoder stack's last group may be
//   shorter), E experts, ep expert-parallel ranks, E_l = E / ep local experts, k = top_k,
//   C capacity per expert and group, d = d_model, f = d_ff / mp, n_m FFN matrices (3 GEGLU, 2 ReLU),
//   a bytes per activation element (2 bf16, 4 fp32),
//   P = E g C padded slots a device sends (and receives) in capacity mode,
//   kT = k T routed assignments of the device's tokens,
//   R rows the device's experts process (P padded; grouped: the routed loads, from the routing).
// FLOPs count a multiply-add as 2 (kernels/cost_model.hpp). Byte counts are what each op must
// move through memory, reads + writes; index tensors are int32 (expert id and slot: 8 B per
// assignment), gates fp32 (4 B per assignment).
//
// einsum (Mesh-TF transformer_moe_layer_v1 + _switch_gating; the paper's appendix):
//   dispatch_mask     the [g, S, E, C] combine tensor is built in fp32 (gate x one-hot(expert) x
//                     one-hot(slot)) and cast to the activation dtype; the dispatch tensor is
//                     cast(cast(combine, bool), dtype). Engineering assumption: the graph as
//                     written, unfused: write the fp32 tensor (4 B/element), read it (4), write
//                     the dispatch tensor (a) and, below fp32, the cast combine tensor (a):
//                     forward S P (8 + a + (a < 4 ? a : 0)) bytes (S P = g S E C elements).
//                     Backward: the gradient of the combine tensor (a) times the saved fp32 mask
//                     product (4), reduced over (e, c) to the gate's gradient: S P (a + 4).
//   dispatch_einsum   expert_inputs[e,g,c,d] = sum_s dispatch[g,s,e,c] inputs[g,s,d]: per group
//                     an [E C, S] x [S, d] product, 2 S E C d FLOPs per group (matmul m = E C,
//                     k = S, n = d, batch g). Backward: the dispatch tensor is a cast through
//                     bool and has no gradient, so only d inputs = dispatch x d expert_inputs is
//                     needed: ONE product of the same size ([S, E C] x [E C, d], batch g).
//   experts           batched over the E_l local experts with ep g C padded rows each (the
//                     all-to-all's [E_l, ep, g, C, d] layout is the einsum's operand; no copy).
//   combine_einsum    outputs[g,s,d] = sum_{e,c} combine[g,s,e,c] expert_outputs[e,g,c,d]: per
//                     group [S, E C] x [E C, d], 2 S E C d FLOPs. Backward: the combine tensor
//                     carries the gate, so both operands need gradients:
//                       d expert_outputs = combine^T x d outputs   ([E C, S] x [S, d])
//                       d combine        = d outputs x expert_outputs^T  ([S, d] x [d, E C])
//                     TWO products of the same size (2 x 2 S E C d FLOPs per group).
// gather (Tutel fast_encode / fast_decode; Megatron-Core's capacity path, drop_and_pad):
//   dispatch          forward: read one token row per assignment, write the padded [E, g C, d]
//                     buffer (padding zeroed in the same pass), read the indices:
//                     (kT + P) d a + 8 kT. Backward (the inputs' gradient gathers each
//                     assignment's row of the buffer's gradient, summed over k): (kT + T) d a + 8 kT.
//   sort_by_expert    with ep > 1 and E_l > 1 the received [ep, E_l, g C, d] rows are reordered
//                     to [E_l, ep g C, d] for the per-expert products (Megatron-Core token
//                     dispatcher "permutation 2", a transpose copy when padded): 2 R d a, and the
//                     same in the backward; `unsort` is its reverse before the all-to-all back.
//   experts           batched over E_l experts, ep g C padded rows each.
//   combine           forward: gather each assignment's expert output, times its gate, summed
//                     into the token's row: (kT + T) d a + 12 kT (indices and gates).
//                     Backward, one fused pass: d buffer (gate x d output, padded buffer written
//                     in full) and d gate (expert output . d output): (2 kT + P) d a + 16 kT.
// grouped (MegaBlocks; Megatron-Core --moe-grouped-gemm, moe_utils.permute / unpermute):
//   permute           rows sorted by expert, no padding: forward 2 kT d a + 8 kT; backward
//                     (kT + T) d a + 8 kT.
//   sort_by_expert / unsort  as for gather, over the R received rows.
//   experts           ONE grouped GEMM per device over its E_l experts' uneven loads r_e
//                     (sum r_e = R): FLOPs 2 R d (n_m - 1) f and 2 R f d, exactly the per-expert
//                     GEMMs' sum, no padding; bytes (R k + E_l k n + R n) a (each expert's weights
//                     read once). Priced as one kernel (one launch) of R rows: under the roofline
//                     that is the sum of the per-expert GEMMs' work in one launch; per-expert
//                     tile quantization of each expert's last row tile is not represented.
//                     Dropless R follows the routing's per-device loads; with a capacity factor
//                     R is the capacity-truncated load (Megatron-Core without padding).
//   unpermute         (combine) forward (kT + T) d a + 12 kT; backward 3 kT d a + 16 kT (as
//                     gather, with the kT-row buffer instead of the padded one).
// Dropped assignments (capacity mode) are counted as moved by dispatch and combine (the kernels
// visit every assignment; the paper's drops are typically under 1%).

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cost_model.hpp"
#include "workloads/layer_dims.hpp"
#include "workloads/moe_impl.hpp"

namespace switchsim::workloads {

struct MoeLayerDims {
  MoeImpl impl = MoeImpl::gather;  // resolved (never automatic)
  std::int64_t tokens = 0;         // T
  std::int64_t group_tokens = 0;   // S
  std::int64_t groups = 1;         // g
  std::int64_t capacity = 0;       // C per expert and group (capacity mode)
  std::int64_t experts = 0;        // E
  std::int64_t ep = 1;
  std::int64_t top_k = 1;
  std::int64_t d_model = 0;
  std::int64_t d_ff = 0;  // per device (d_ff / mp)
  std::int64_t ffn_matrices = 2;
  double act_bytes = 2.0;  // a

  [[nodiscard]] std::int64_t local_experts() const { return experts / ep; }
  [[nodiscard]] double padded_slots() const {  // P = E g C
    return static_cast<double>(experts) * static_cast<double>(groups) * static_cast<double>(capacity);
  }
  [[nodiscard]] double assignments() const { return static_cast<double>(top_k) * static_cast<double>(tokens); }
  // Received rows are reordered by local expert around the expert products (gather, grouped).
  [[nodiscard]] bool sorts_by_expert() const { return impl != MoeImpl::einsum && ep > 1 && local_experts() > 1; }
  // Expert loads differ between devices (the grouped GEMM follows the routing; the others pad).
  [[nodiscard]] bool uneven() const { return impl == MoeImpl::grouped; }
};

// The MoE layer's dimensions for one Switch layer of `tokens` tokens per device in `groups`
// routing groups of `group_tokens`, capacity `capacity` per expert and group, from the
// per-device layer dimensions (layer_dims.hpp: the routed expert width); the step builder and the planner's bounds
// both build them here.
[[nodiscard]] MoeLayerDims moe_layer_dims(MoeImpl impl, const Model& model, const Layout& layout,
                                          const LayerDims& dims, std::int64_t tokens, std::int64_t group_tokens,
                                          std::int64_t groups, std::int64_t capacity, double act_bytes);

struct MoeOp {
  std::string name;  // "dispatch_einsum" (the builder prefixes the layer's "switch.")
  kernels::OpShape forward;
  kernels::OpShape backward;  // the backward pass's op, priced once (unused when weighted)
  bool weighted = false;      // a product with a weight: backward = dgrad + wgrad, each the forward's shape
};

// After the router, before the dispatch all-to-all (sending side).
[[nodiscard]] std::vector<MoeOp> moe_dispatch_ops(const MoeLayerDims& dims);
// Between the two all-to-alls (receiving side), for `rows` received rows R: [sort_by_expert],
// expert_wi, expert_act, expert_wo, [unsort].
[[nodiscard]] std::vector<MoeOp> moe_expert_ops(const MoeLayerDims& dims, std::int64_t rows);
// After the all-to-all back (sending side).
[[nodiscard]] std::vector<MoeOp> moe_combine_ops(const MoeLayerDims& dims);

// Bytes the implementation's routing tensors keep for the backward pass, per layer (memory.hpp):
//   einsum   the dispatch and combine tensors in the activation dtype (the einsums' saved
//            operands) and the fp32 mask product (the gate multiply's saved operand):
//            S P (4 + 2 a) for S P = g S E C elements
//   gather, grouped  the routing indices: 8 kT
[[nodiscard]] double moe_routing_saved_bytes(MoeImpl impl, double tokens, double group_tokens, std::int64_t top_k,
                                             double padded_slots, double act_bytes);

}  // namespace switchsim::workloads
