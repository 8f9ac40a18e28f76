// The Switch layer's backward on the GPU: the non-GEMM kernels (the products are cuBLAS calls in
// cuda_backend.cu). Maths in kernels/cpu/switch_layer_backward_cpu.hpp, which is the reference.
//   combine_backward   one warp per token: d o[row] = g dy_t (bf16), d g = <dy_t, o[row]> (fp32)
//   relu / gated backward   elementwise over the (rows, d_ff) activations, fp32 arithmetic
//   dispatch_backward  one warp per token: dx_t = sum over kept choices of d in[row] (fp32 out)
//   router_backward    one warp per token: d p = d g (kept choices) + alpha E f_i / T,
//                      d z = p (d p - <p, d p>), fp32
// Rows come from offsets[e] + slot (offsets (E + 1): e S in capacity mode, the packed blocks in
// dropless mode); a row outside its expert's block is skipped (a guard: it cannot happen).
// napkin math: all are memory-bound passes over (T, d), (rows, d), (rows, d_ff) or (T, E).

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/warp.cuh"

namespace switchsim::kernels::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

// The row of (t, j), or -1 when the choice was dropped.
__device__ __forceinline__ std::int64_t choice_row(const std::int32_t* expert, const std::int32_t* slot,
                                                   const std::int64_t* offsets, std::int64_t E, std::int64_t i) {
  const std::int32_t s = slot[i];
  const std::int32_t e = expert[i];
  if (s < 0 || e < 0 || e >= E) return -1;
  const std::int64_t row = offsets[e] + s;
  return row < offsets[e + 1] ? row : -1;
}

__global__ void combine_backward_kernel(const bf16* __restrict__ dy, const bf16* __restrict__ expert_out,
                                        const std::int32_t* __restrict__ expert, const float* __restrict__ gate,
                                        const std::int32_t* __restrict__ slot, const std::int64_t* __restrict__ offsets,
                                        bf16* __restrict__ d_out, float* __restrict__ d_gate, std::int64_t T, int k,
                                        std::int64_t E, std::int64_t d) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (t >= T) return;  // uniform per warp
  const int lane = threadIdx.x % 32;
  const bf16* dy_t = dy + t * d;
  for (int j = 0; j < k; ++j) {
    const std::int64_t row = choice_row(expert, slot, offsets, E, t * k + j);
    if (row < 0) {
      if (lane == 0) d_gate[t * k + j] = 0.0f;
      continue;
    }
    const float g = gate[t * k + j];
    const bf16* o = expert_out + row * d;
    bf16* d_o = d_out + row * d;
    float dot = 0.0f;
    for (std::int64_t i = lane; i < d; i += 32) {
      const float v = __bfloat162float(dy_t[i]);
      dot = fmaf(v, __bfloat162float(o[i]), dot);
      d_o[i] = __float2bfloat16(g * v);
    }
    dot = warp_sum(dot);
    if (lane == 0) d_gate[t * k + j] = dot;
  }
}

// ReLU: d h = d a where a = relu(h) > 0, else 0 (in place in d a).
__global__ void relu_backward_kernel(const bf16* __restrict__ act, bf16* __restrict__ da, std::int64_t n) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (!(__bfloat162float(act[i]) > 0.0f)) da[i] = __float2bfloat16(0.0f);
  }
}

// Gated: a = phi(h) u; d h = d a u phi'(h) (into h), d u = d a phi(h) (into u), a into act.
//   gelu (tanh form): z = c (h + b h^3), phi = 0.5 h (1 + tanh z),
//                     phi' = 0.5 (1 + tanh z) + 0.5 h (1 - tanh^2 z) c (1 + 3 b h^2)
//   silu: s = 1 / (1 + e^-h), phi = h s, phi' = s (1 + h (1 - s)); for h < -88 expf(-h) is +inf,
//         s = 0, phi = -0, phi' = 0: no NaN.
template <bool kSwiglu>
__global__ void gated_backward_kernel(bf16* __restrict__ h, bf16* __restrict__ u, const bf16* __restrict__ da,
                                      bf16* __restrict__ act, std::int64_t n) {
  constexpr float c = 0.7978845608028654f, b = 0.044715f;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float hv = __bfloat162float(h[i]), uv = __bfloat162float(u[i]), dav = __bfloat162float(da[i]);
    float phi = 0.0f, dphi = 0.0f;
    if constexpr (kSwiglu) {
      const float s = 1.0f / (1.0f + expf(-hv));
      phi = hv * s;
      dphi = s * (1.0f + hv * (1.0f - s));
    } else {
      const float th = tanhf(c * (hv + b * hv * hv * hv));
      phi = 0.5f * hv * (1.0f + th);
      dphi = 0.5f * (1.0f + th) + 0.5f * hv * (1.0f - th * th) * c * (1.0f + 3.0f * b * hv * hv);
    }
    act[i] = __float2bfloat16(phi * uv);
    h[i] = __float2bfloat16(dav * uv * dphi);
    u[i] = __float2bfloat16(dav * phi);
  }
}

__global__ void dispatch_backward_kernel(const bf16* __restrict__ d_in, const std::int32_t* __restrict__ expert,
                                         const std::int32_t* __restrict__ slot,
                                         const std::int64_t* __restrict__ offsets, float* __restrict__ dx,
                                         std::int64_t T, int k, std::int64_t E, std::int64_t d) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (t >= T) return;
  const int lane = threadIdx.x % 32;
  std::int64_t rows[8];
  for (int j = 0; j < k; ++j) rows[j] = choice_row(expert, slot, offsets, E, t * k + j);
  for (std::int64_t i = lane; i < d; i += 32) {
    float acc = 0.0f;
    for (int j = 0; j < k; ++j) {
      if (rows[j] >= 0) acc += __bfloat162float(d_in[rows[j] * d + i]);
    }
    dx[t * d + i] = acc;
  }
}

__global__ void router_backward_kernel(const float* __restrict__ probs, const std::int32_t* __restrict__ expert,
                                       const std::int32_t* __restrict__ slot, const std::int64_t* __restrict__ offsets,
                                       const float* __restrict__ d_gate, const std::int32_t* __restrict__ argmax_count,
                                       float aux_scale, float* __restrict__ dz, std::int64_t T, std::int64_t E, int k) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (t >= T) return;
  const int lane = threadIdx.x % 32;
  const float* p = probs + t * E;
  // d p_e = aux_scale count_e + the d gates of the kept choices of expert e;
  // aux_scale count_e = alpha E f_e / T with f_e = count_e / T.
  float dot = 0.0f;
  for (std::int64_t e = lane; e < E; e += 32) {
    float dp = aux_scale * static_cast<float>(argmax_count[e]);
    for (int j = 0; j < k; ++j) {
      if (expert[t * k + j] == e && choice_row(expert, slot, offsets, E, t * k + j) >= 0) dp += d_gate[t * k + j];
    }
    dz[t * E + e] = dp;  // d p for now
    dot = fmaf(p[e], dp, dot);
  }
  dot = warp_sum(dot);
  for (std::int64_t e = lane; e < E; e += 32) dz[t * E + e] = p[e] * (dz[t * E + e] - dot);
}

unsigned grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);  // grid-stride beyond
}

unsigned token_blocks(std::int64_t T, const char* what) {
  const std::int64_t blocks = (T + kWarpsPerBlock - 1) / kWarpsPerBlock;
  require(blocks > 0 && blocks < (1ll << 31), what);
  return static_cast<unsigned>(blocks);
}

}  // namespace

void launch_combine_backward(const bf16* dy, const bf16* expert_out, const std::int32_t* expert, const float* gate,
                             const std::int32_t* slot, const std::int64_t* offsets, bf16* d_out, float* d_gate,
                             std::int64_t T, std::int64_t k, std::int64_t E, std::int64_t rows, std::int64_t d,
                             cudaStream_t stream) {
  require(T > 0 && E > 0 && rows > 0 && d > 0, "combine_backward: sizes must be positive");
  require(k >= 1 && k <= 8, "combine_backward: 1 <= k <= 8");
  // Padding rows (and dropped choices' rows) get no gradient.
  SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(d_out, 0, static_cast<std::size_t>(rows * d) * sizeof(bf16), stream));
  combine_backward_kernel<<<token_blocks(T, "combine_backward: too many tokens"), kWarpsPerBlock * 32, 0, stream>>>(
      dy, expert_out, expert, gate, slot, offsets, d_out, d_gate, T, static_cast<int>(k), E, d);
  SWITCHSIM_CUDA_CHECK_LAUNCH("combine_backward_kernel");
}

void launch_relu_backward(const bf16* act, bf16* da, std::int64_t n, cudaStream_t stream) {
  require(n > 0, "relu_backward: n must be positive");
  relu_backward_kernel<<<grid_for(n), 256, 0, stream>>>(act, da, n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("relu_backward_kernel");
}

void launch_gated_backward(bool swiglu, bf16* h, bf16* u, const bf16* da, bf16* act, std::int64_t n,
                           cudaStream_t stream) {
  require(n > 0, "gated_backward: n must be positive");
  if (swiglu) {
    gated_backward_kernel<true><<<grid_for(n), 256, 0, stream>>>(h, u, da, act, n);
  } else {
    gated_backward_kernel<false><<<grid_for(n), 256, 0, stream>>>(h, u, da, act, n);
  }
  SWITCHSIM_CUDA_CHECK_LAUNCH("gated_backward_kernel");
}

void launch_dispatch_backward(const bf16* d_in, const std::int32_t* expert, const std::int32_t* slot,
                              const std::int64_t* offsets, float* dx, std::int64_t T, std::int64_t k, std::int64_t E,
                              std::int64_t d, cudaStream_t stream) {
  require(T > 0 && E > 0 && d > 0, "dispatch_backward: sizes must be positive");
  require(k >= 1 && k <= 8, "dispatch_backward: 1 <= k <= 8");
  dispatch_backward_kernel<<<token_blocks(T, "dispatch_backward: too many tokens"), kWarpsPerBlock * 32, 0, stream>>>(
      d_in, expert, slot, offsets, dx, T, static_cast<int>(k), E, d);
  SWITCHSIM_CUDA_CHECK_LAUNCH("dispatch_backward_kernel");
}

void launch_router_backward(const float* probs, const std::int32_t* expert, const std::int32_t* slot,
                            const std::int64_t* offsets, const float* d_gate, const std::int32_t* argmax_count,
                            double alpha, float* dz, std::int64_t T, std::int64_t E, std::int64_t k,
                            cudaStream_t stream) {
  require(T > 0 && E > 0, "router_backward: sizes must be positive");
  require(k >= 1 && k <= 8, "router_backward: 1 <= k <= 8");
  const double Td = static_cast<double>(T);
  const auto aux_scale = static_cast<float>(alpha * static_cast<double>(E) / (Td * Td));
  router_backward_kernel<<<token_blocks(T, "router_backward: too many tokens"), kWarpsPerBlock * 32, 0, stream>>>(
      probs, expert, slot, offsets, d_gate, argmax_count, aux_scale, dz, T, E, static_cast<int>(k));
  SWITCHSIM_CUDA_CHECK_LAUNCH("router_backward_kernel");
}

}  // namespace switchsim::kernels::cuda
