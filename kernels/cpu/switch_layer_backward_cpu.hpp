#pragma once
// The Switch layer's backward pass on the CPU (fp32, OpenBLAS): the gradients
// of the forward in kernels/switch_layer.hpp with the routing decisions (top-k
// choices, capacity and drops, f_i) held fixed, as autodiff of the forward
// gives them (argmax and top-k have no gradient).
//
// Forward, per kept (token t, choice j), e = expert[t, j], r its buffer row:
//   p_t = softmax(x_t Wr),  g_tj = p_t[e]
//   h_r = x_t Wi_e,  u_r = x_t Wg_e (GEGLU, SwiGLU),  a_r = relu(h_r) | gelu(h_r) * u_r | silu(h_r) * u_r
//   o_r = a_r Wo_e,  y_t = sum_j g_tj o_r
//   aux = alpha E sum_i f_i P_i,  P_i = (1/T) sum_t p_t[i]
// Loss L = <dy, y> + aux (the aux loss is the layer's own term of the loss).
// Backward, kernel by kernel (each one call below, so each can be timed):
//   combine_backward:  d o_r = g_tj dy_t;  d g_tj = <dy_t, o_r>
//   expert_backward:   per expert e over its block of rows (a grouped GEMM in
//                      dropless mode): h, u are recomputed from the dispatch
//                      buffer (activation recomputation, as Megatron's
//                      recompute of the FFN does), then
//                        d a = d o Wo_e^T,        dWo_e = a^T d o
//                        relu:  d h = d a * [h > 0]
//                        geglu: d h = d a * u * gelu'(h),  d u = d a * gelu(h)
//                        swiglu: d h = d a * u * silu'(h),  d u = d a * silu(h)
//                        dWi_e = in^T d h,  dWg_e = in^T d u
//                        d in  = d h Wi_e^T (+ d u Wg_e^T)
//                      gelu'(h) = 0.5 (1 + tanh z) + 0.5 h (1 - tanh^2 z) c (1 + 3 b h^2),
//                      z = c (h + b h^3), c = sqrt(2/pi), b = 0.044715
//                      silu'(h) = s (1 + h (1 - s)), s = sigmoid(h) (d/dh of h s, s' = s (1 - s))
//   dispatch_backward: dx_t = sum over kept j of d in_r (padding rows get none)
//   router_backward:   d p_t[i] = sum_{j: expert[t,j] = i, kept} d g_tj + alpha E f_i / T
//                      d z_t = p_t * (d p_t - <p_t, d p_t>)      (softmax backward)
//                      dWr = x^T d z,  dx_t += d z_t Wr^T

#include <cstdint>
#include <vector>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels::cpu {

using SwitchLayerGrads = SwitchLayerGradients;  // kernels/switch_layer.hpp

// Scratch of the backward: gradients that flow between its kernels.
struct SwitchLayerBackwardScratch {
  std::vector<float> d_out;    // (rows, d_model): d o
  std::vector<float> d_gate;   // (T, k)
  std::vector<float> d_in;     // (rows, d_model)
  std::vector<float> h, u, da, act;  // (rows, d_ff): h then d h, u then d u, d a, a
  std::vector<float> d_logits;  // (T, E)
};

// d o and d gate from dy (T, d_model) and the expert outputs (rows, d_model).
void combine_backward(const SwitchLayerConfig& c, const std::vector<float>& gate, const std::vector<std::int32_t>& expert,
                      const CapacityAssignment& a, const std::vector<float>& expert_out, const std::vector<float>& dy,
                      SwitchLayerBackwardScratch& s);

// Weight gradients of every expert and d in, from the dispatch buffer (rows, d_model) and d o.
// `relu_hidden` (optional, ReLU only): the forward's hidden activations after the ReLU (expert_ffn's
// `hidden`, rows x d_ff); with it h is not recomputed (relu(h) > 0 exactly where h > 0), so the
// backward runs the products of the step's dgrad and wgrad only, as a training step that keeps
// its activations does.
void expert_backward(const SwitchLayerConfig& c, const SwitchLayerWeights& w, const CapacityAssignment& a,
                     const std::vector<float>& in, SwitchLayerBackwardScratch& s, SwitchLayerGrads& g,
                     const std::vector<float>* relu_hidden = nullptr);

// dx (T, d_model) = the kept rows' d in summed per token (overwrites g.dx).
void dispatch_backward(const SwitchLayerConfig& c, const std::vector<std::int32_t>& expert, const CapacityAssignment& a,
                       const SwitchLayerBackwardScratch& s, SwitchLayerGrads& g);

// dWr and the router path's dx (added to g.dx), from the softmax probabilities (T, E), d gate and f_i.
void router_backward(const SwitchLayerConfig& c, const float* x, const float* router_w, const std::vector<float>& probs,
                     const RouterOutput& routing, const CapacityAssignment& a, SwitchLayerBackwardScratch& s,
                     SwitchLayerGrads& g);

// The four in order: the whole layer's gradients.
void switch_layer_backward(const SwitchLayerConfig& c, const SwitchLayerProblem& p, const std::vector<float>& probs,
                           const RouterOutput& routing, const CapacityAssignment& a, const std::vector<float>& in,
                           const std::vector<float>& expert_out, const std::vector<float>& dy,
                           SwitchLayerBackwardScratch& s, SwitchLayerGrads& g);

}  // namespace switchsim::kernels::cpu
