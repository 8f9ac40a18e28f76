#pragma once
// The backward products of a weighted forward product, as the step builder
// emits them and the planner's lower bounds price them.
//
// Forward Y = X W with X (m, k), W (k, n), `batch` copies (OpShape{m, k, n}):
//   dgrad  dX = dY W^T : (m, n) x (n, k)  ->  OpShape{m, k = n, n = k}
//   wgrad  dW = X^T dY : (k, m) x (m, n)  ->  OpShape{m = k, k = m, n}
// Same FLOPs (2 batch m n k) and bytes (the three operands, permuted) as the
// forward, but another shape for a shape-aware cost model: wgrad contracts over
// the tokens and its output is the weight (k x n).
// Only matmul and batched_matmul are permuted; the router keeps the forward's
// shape (its OpShape also counts the softmax over m x n, which is not a
// product), and attention's backward is the doubled forward (step_builder.hpp).

#include "kernels/cost_model.hpp"

namespace switchsim::workloads {

[[nodiscard]] inline bool has_product_backward(const kernels::OpShape& s) {
  return s.kind == kernels::OpKind::matmul || s.kind == kernels::OpKind::batched_matmul;
}

[[nodiscard]] inline kernels::OpShape dgrad_shape(const kernels::OpShape& s) {
  kernels::OpShape d = s;
  if (has_product_backward(s)) {
    d.k = s.n;
    d.n = s.k;
  }
  return d;
}

[[nodiscard]] inline kernels::OpShape wgrad_shape(const kernels::OpShape& s) {
  kernels::OpShape w = s;
  if (has_product_backward(s)) {
    w.m = s.k;
    w.k = s.m;
  }
  return w;
}

}  // namespace switchsim::workloads
