#pragma once
// Plain (unfused) attention on the CPU, fp32, OpenBLAS: what the cost model's
// OpKind::attention prices (cost_model.hpp: `batch` heads, m queries, n keys,
// k = d_kv per head), measured by calibrate so that a CPU profile covers it.
// Per head b, row-major Q (m, k), K (n, k), V (n, k), O (m, k), P (m, n):
//   forward:  S = Q K^T / sqrt(k),  P = softmax_rows(S),  O = P V
//   backward: dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),
//             dQ = dS K / sqrt(k),  dK = dS^T Q / sqrt(k)
// (rowsum(dO * O) = rowsum(P * dP): the softmax backward without a second pass
// over P.) No mask: a causal layer's cost is priced with n = the mean number of
// keys a query sees (workloads/decoder_layer.hpp), the same product sizes.

#include <cstdint>
#include <vector>

namespace switchsim::kernels::cpu {

struct AttentionShape {
  std::int64_t batch = 1;  // heads x sequences
  std::int64_t m = 0;      // queries
  std::int64_t n = 0;      // keys
  std::int64_t k = 0;      // head dimension
  // Query i sees keys 0..i only (m == n): the scores above the diagonal are set to -inf before the
  // softmax, so P is 0 there and the backward needs no mask. The products still cover the full
  // m x n square, as Mesh TensorFlow's T5 decoder computes it (the step prices that square).
  bool causal = false;
};

// Where each head's (rows, k) matrix lies in a row-major buffer: head b (of batch = groups x
// heads, `heads` per group) starts at col0 + (b % heads) k + (b / heads) rows ld and its rows are
// ld apart. Contiguous (batch, rows, k) is {ld = k, col0 = 0} with heads = 1; the fused projection
// of a transformer layer, (sequences L, 3 heads k) holding q | k | v, is {ld = 3 heads k, col0 =
// 0, heads k or 2 heads k} with the model's heads: the heads are read and written in place, with
// no split or merge copies (what the step simulation prices: nothing between the products).
struct HeadMatrix {
  std::int64_t ld = 0;
  std::int64_t col0 = 0;
};

// The operands in place (layouts above, `heads` per group); p (batch, m, n) contiguous. Sizes are
// the caller's to get right (the vector overloads below check theirs).
void attention_forward(const AttentionShape& s, std::int64_t heads, const float* q, HeadMatrix lq, const float* kk,
                       HeadMatrix lk, const float* v, HeadMatrix lv, float* p, float* o, HeadMatrix lo);
void attention_backward(const AttentionShape& s, std::int64_t heads, const float* q, HeadMatrix lq, const float* kk,
                        HeadMatrix lk, const float* v, HeadMatrix lv, const float* p, const float* o, HeadMatrix lo,
                        const float* d_o, HeadMatrix ldo, float* dp, float* dq, HeadMatrix ldq, float* dk,
                        HeadMatrix ldk, float* dv, HeadMatrix ldv);

// q (batch, m, k), kk (batch, n, k), v (batch, n, k) -> o (batch, m, k); p (batch, m, n) kept
// for the backward.
void attention_forward(const AttentionShape& s, const std::vector<float>& q, const std::vector<float>& kk,
                       const std::vector<float>& v, std::vector<float>& p, std::vector<float>& o);

// From the forward's p and o and the output gradient do: dq, dk, dv (shapes of q, kk, v).
// dp (batch, m, n) is scratch.
void attention_backward(const AttentionShape& s, const std::vector<float>& q, const std::vector<float>& kk,
                        const std::vector<float>& v, const std::vector<float>& p, const std::vector<float>& o,
                        const std::vector<float>& d_o, std::vector<float>& dp, std::vector<float>& dq,
                        std::vector<float>& dk, std::vector<float>& dv);

}  // namespace switchsim::kernels::cpu
