#pragma once
// Launch functions of the CUDA backend's own kernels. Each checks its size
// assumptions and the last CUDA error, and throws on failure. Shapes are
// row-major; T tokens, E experts, k = top_k, G tokens per group, C capacity,
// S = groups * C rows per expert buffer.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace switchsim::kernels::cuda {

using bf16 = __nv_bfloat16;

// x (T, d) bf16, wr (d, E) fp32 -> logits (T, E) fp32, fp32 accumulation.
void launch_router_logits(const bf16* x, const float* wr, float* logits, std::int64_t T, std::int64_t d,
                          std::int64_t E, cudaStream_t stream);
// probs (T, E): logits in, softmax probabilities out (in place);
// expert (T, k), gate (T, k): top-k, best first, ties to the lower index.
void launch_softmax_topk(float* probs, std::int32_t* expert, float* gate, std::int64_t T, std::int64_t E,
                         std::int64_t k, cudaStream_t stream);
// Deterministic per-expert reductions: prob_sum (E) = sum_t probs[t, e],
// argmax_count (E) = #{t : expert[t, 0] == e}. partial_sum/partial_count are
// scratch of router_stats_partials(T) * E entries.
[[nodiscard]] std::int64_t router_stats_partials(std::int64_t T);
void launch_router_stats(const float* probs, const std::int32_t* expert, std::int64_t T, std::int64_t E,
                         std::int64_t k, double* partial_sum, std::int32_t* partial_count, double* prob_sum,
                         std::int32_t* argmax_count, cudaStream_t stream);

// Capacity assignment (see capacity.cu). chunk_counts: scratch of
// capacity_scratch_entries(T/G groups, G, k, E) int32.
[[nodiscard]] std::int64_t capacity_scratch_entries(std::int64_t groups, std::int64_t G, std::int64_t k,
                                                    std::int64_t E);
void launch_assign_capacity(const std::int32_t* expert, std::int64_t T, std::int64_t k, std::int64_t G,
                            std::int64_t E, std::int64_t C, std::int32_t* chunk_counts, std::int32_t* slot,
                            std::int32_t* row_source, std::int32_t* expert_load, cudaStream_t stream);

// Dropless assignment (see capacity.cu): every (token, choice) packed into its expert's block,
// blocks in expert order, each in rank-major order. scratch: dropless_scratch_entries(T, k, E)
// int32; slot (T, k) = position within the block; row_source (T k); expert_load (T/G groups, E);
// offsets (E + 1) int64, the first row of each block.
[[nodiscard]] std::int64_t dropless_scratch_entries(std::int64_t T, std::int64_t k, std::int64_t E);
void launch_assign_dropless(const std::int32_t* expert, std::int64_t T, std::int64_t k, std::int64_t G, std::int64_t E,
                            std::int32_t* scratch, std::int32_t* slot, std::int32_t* row_source,
                            std::int32_t* expert_load, std::int64_t* offsets, cudaStream_t stream);

// x (T, d) -> buffer (rows, d): row r gets x[row_source[r]] or zeros.
void launch_dispatch(const bf16* x, const std::int32_t* row_source, bf16* buffer, std::int64_t rows, std::int64_t d,
                     cudaStream_t stream);
// y[t] = sum_j gate[t,j] * expert_out[offsets[expert[t,j]] + slot[t,j]] over kept j (slot >= 0);
// (T, d) bf16 out. offsets (E + 1) int64 device: e S in capacity mode, the packed blocks in dropless
// mode; a row outside [offsets[e], offsets[e + 1]) is skipped (a guard: it cannot happen).
void launch_combine(const bf16* expert_out, const std::int32_t* expert, const float* gate, const std::int32_t* slot,
                    const std::int64_t* offsets, bf16* y, std::int64_t T, std::int64_t k, std::int64_t d,
                    cudaStream_t stream);

// h = relu(h) in place, or h = gelu(h) * g (geglu), or h = silu(h) * g (swiglu), n elements.
void launch_relu(bf16* h, std::int64_t n, cudaStream_t stream);
void launch_geglu(bf16* h, const bf16* g, std::int64_t n, cudaStream_t stream);
void launch_swiglu(bf16* h, const bf16* g, std::int64_t n, cudaStream_t stream);

// Backward (see backward.cu). combine_backward zeroes d_out (rows, d) and writes the kept rows'
// d o = g dy and d_gate (T, k) = <dy, o> (0 for dropped choices).
void launch_combine_backward(const bf16* dy, const bf16* expert_out, const std::int32_t* expert, const float* gate,
                             const std::int32_t* slot, const std::int64_t* offsets, bf16* d_out, float* d_gate,
                             std::int64_t T, std::int64_t k, std::int64_t E, std::int64_t rows, std::int64_t d,
                             cudaStream_t stream);
// d a -> d h in place where relu(h) = act is not positive, n elements.
void launch_relu_backward(const bf16* act, bf16* da, std::int64_t n, cudaStream_t stream);
// GEGLU (swiglu false) or SwiGLU: h -> d h, u -> d u in place, a = phi(h) u into act, n elements.
void launch_gated_backward(bool swiglu, bf16* h, bf16* u, const bf16* da, bf16* act, std::int64_t n,
                           cudaStream_t stream);
// dx (T, d) fp32 = sum over kept choices of d_in rows (overwrites dx).
void launch_dispatch_backward(const bf16* d_in, const std::int32_t* expert, const std::int32_t* slot,
                              const std::int64_t* offsets, float* dx, std::int64_t T, std::int64_t k, std::int64_t E,
                              std::int64_t d, cudaStream_t stream);
// dz (T, E) = p (d p - <p, d p>), d p = kept choices' d gates + alpha E f_e / T, f_e = argmax_count[e] / T.
void launch_router_backward(const float* probs, const std::int32_t* expert, const std::int32_t* slot,
                            const std::int64_t* offsets, const float* d_gate, const std::int32_t* argmax_count,
                            double alpha, float* dz, std::int64_t T, std::int64_t E, std::int64_t k,
                            cudaStream_t stream);

// fp32 host values -> bf16 device (round to nearest even), n elements.
void launch_float_to_bf16(const float* src, bf16* dst, std::int64_t n, cudaStream_t stream);
void launch_bf16_to_float(const bf16* src, float* dst, std::int64_t n, cudaStream_t stream);
// An empty kernel, for the launch overhead.
void launch_empty(cudaStream_t stream);

}  // namespace switchsim::kernels::cuda
