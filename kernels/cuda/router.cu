// Router kernels: fp32 logits from bf16 tokens and fp32 weights, fp32 softmax
// and top-k (one warp per token), deterministic load-balancing statistics.

#include <cfloat>

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/warp.cuh"

namespace switchsim::kernels::cuda {

namespace {

constexpr int kTokensPerBlock = 8;   // TB: tokens sharing one load of weights
constexpr int kDimTile = 256;        // TD: d_model slice held in shared memory
constexpr int kStatsChunks = 64;     // token chunks of the statistics reduction

// grid (ceil(T/TB), ceil(E/blockDim.x)); thread = one expert for TB tokens.
// napkin math: T*d*E*2 flops; weights (d, E) fp32 read once per block (L2-resident).
__global__ void router_logits_kernel(const bf16* __restrict__ x, const float* __restrict__ wr,
                                     float* __restrict__ logits, std::int64_t T, std::int64_t d, std::int64_t E) {
  __shared__ float xs[kTokensPerBlock][kDimTile];  // (TB, TD)
  const std::int64_t t0 = static_cast<std::int64_t>(blockIdx.x) * kTokensPerBlock;
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  float acc[kTokensPerBlock];
#pragma unroll
  for (int i = 0; i < kTokensPerBlock; ++i) acc[i] = 0.0f;
  for (std::int64_t d0 = 0; d0 < d; d0 += kDimTile) {
    const int width = static_cast<int>(d - d0 < kDimTile ? d - d0 : kDimTile);
    for (int i = threadIdx.x; i < kTokensPerBlock * kDimTile; i += blockDim.x) {
      const int tb = i / kDimTile, kk = i % kDimTile;
      const std::int64_t t = t0 + tb;
      xs[tb][kk] = (t < T && kk < width) ? __bfloat162float(x[t * d + d0 + kk]) : 0.0f;
    }
    __syncthreads();
    if (e < E) {
      for (int kk = 0; kk < width; ++kk) {
        const float w = wr[(d0 + kk) * E + e];
#pragma unroll
        for (int tb = 0; tb < kTokensPerBlock; ++tb) acc[tb] = fmaf(xs[tb][kk], w, acc[tb]);
      }
    }
    __syncthreads();
  }
  if (e < E) {
#pragma unroll
    for (int tb = 0; tb < kTokensPerBlock; ++tb) {
      if (t0 + tb < T) logits[(t0 + tb) * E + e] = acc[tb];
    }
  }
}

// One warp per token; block = 8 warps.
__global__ void softmax_topk_kernel(float* __restrict__ probs, std::int32_t* __restrict__ expert,
                                    float* __restrict__ gate, std::int64_t T, std::int64_t E, int k) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (t >= T) return;  // uniform per warp
  float* p = probs + t * E;
  warp_softmax_in_place(p, E, lane);
  int chosen[8];
  for (int j = 0; j < k; ++j) {
    float best = -1.0f;
    int best_e = 0x7fffffff;
    for (std::int64_t e = lane; e < E; e += 32) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || chosen[i] == static_cast<int>(e);
      const float v = p[e];
      if (!taken && v > best) {  // ascending e per lane: ties keep the lower index
        best = v;
        best_e = static_cast<int>(e);
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, o);
      const int oe = __shfl_xor_sync(0xffffffffu, best_e, o);
      if (ov > best || (ov == best && oe < best_e)) {
        best = ov;
        best_e = oe;
      }
    }
    chosen[j] = best_e;
    if (lane == 0) {
      expert[t * k + j] = best_e;
      gate[t * k + j] = best;
    }
  }
}

// grid (ceil(E/32), chunks), block (32, 8): partial sums over one token chunk.
__global__ void router_stats_partial_kernel(const float* __restrict__ probs, const std::int32_t* __restrict__ expert,
                                            std::int64_t T, std::int64_t E, int k, std::int64_t chunk,
                                            double* __restrict__ partial_sum,
                                            std::int32_t* __restrict__ partial_count) {
  __shared__ double sums[8][32];
  __shared__ int counts[8][32];
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.y) * chunk;
  const std::int64_t end = begin + chunk < T ? begin + chunk : T;
  double s = 0.0;
  int c = 0;
  if (e < E) {
    for (std::int64_t t = begin + threadIdx.y; t < end; t += 8) {
      s += probs[t * E + e];
      c += expert[t * k] == e ? 1 : 0;
    }
  }
  sums[threadIdx.y][threadIdx.x] = s;
  counts[threadIdx.y][threadIdx.x] = c;
  __syncthreads();
  if (threadIdx.y == 0 && e < E) {
    for (int y = 1; y < 8; ++y) {  // fixed order: deterministic
      s += sums[y][threadIdx.x];
      c += counts[y][threadIdx.x];
    }
    partial_sum[blockIdx.y * E + e] = s;
    partial_count[blockIdx.y * E + e] = c;
  }
}

__global__ void router_stats_final_kernel(const double* __restrict__ partial_sum,
                                          const std::int32_t* __restrict__ partial_count, std::int64_t E, int chunks,
                                          double* __restrict__ prob_sum, std::int32_t* __restrict__ argmax_count) {
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= E) return;
  double s = 0.0;
  int c = 0;
  for (int i = 0; i < chunks; ++i) {
    s += partial_sum[i * E + e];
    c += partial_count[i * E + e];
  }
  prob_sum[e] = s;
  argmax_count[e] = c;
}

}  // namespace

void launch_router_logits(const bf16* x, const float* wr, float* logits, std::int64_t T, std::int64_t d,
                          std::int64_t E, cudaStream_t stream) {
  require(T > 0 && d > 0 && E > 0, "router_logits: T, d, E must be positive");
  require((T + kTokensPerBlock - 1) / kTokensPerBlock < (1ll << 31), "router_logits: too many tokens");
  const int threads = static_cast<int>(E >= 128 ? 128 : ((E + 31) / 32) * 32);
  const dim3 grid(static_cast<unsigned>((T + kTokensPerBlock - 1) / kTokensPerBlock),
                  static_cast<unsigned>((E + threads - 1) / threads));
  require(grid.y <= 65535, "router_logits: too many experts");
  router_logits_kernel<<<grid, threads, 0, stream>>>(x, wr, logits, T, d, E);
  SWITCHSIM_CUDA_CHECK_LAUNCH("router_logits_kernel");
}

void launch_softmax_topk(float* probs, std::int32_t* expert, float* gate, std::int64_t T, std::int64_t E,
                         std::int64_t k, cudaStream_t stream) {
  require(T > 0 && E > 0, "softmax_topk: T, E must be positive");
  require(k >= 1 && k <= 8 && k <= E, "softmax_topk: 1 <= k <= min(8, E)");
  constexpr int kWarps = 8;
  const auto blocks = static_cast<unsigned>((T + kWarps - 1) / kWarps);
  softmax_topk_kernel<<<blocks, kWarps * 32, 0, stream>>>(probs, expert, gate, T, E, static_cast<int>(k));
  SWITCHSIM_CUDA_CHECK_LAUNCH("softmax_topk_kernel");
}

std::int64_t router_stats_partials(std::int64_t T) {
  const std::int64_t by_tokens = (T + 255) / 256;
  return by_tokens < kStatsChunks ? (by_tokens > 0 ? by_tokens : 1) : kStatsChunks;
}

void launch_router_stats(const float* probs, const std::int32_t* expert, std::int64_t T, std::int64_t E,
                         std::int64_t k, double* partial_sum, std::int32_t* partial_count, double* prob_sum,
                         std::int32_t* argmax_count, cudaStream_t stream) {
  require(T > 0 && E > 0 && k >= 1, "router_stats: T, E, k must be positive");
  const std::int64_t chunks = router_stats_partials(T);
  const std::int64_t chunk = (T + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned>((E + 31) / 32), static_cast<unsigned>(chunks));
  router_stats_partial_kernel<<<grid, dim3(32, 8), 0, stream>>>(probs, expert, T, E, static_cast<int>(k), chunk,
                                                                 partial_sum, partial_count);
  SWITCHSIM_CUDA_CHECK_LAUNCH("router_stats_partial_kernel");
  router_stats_final_kernel<<<static_cast<unsigned>((E + 127) / 128), 128, 0, stream>>>(
      partial_sum, partial_count, E, static_cast<int>(chunks), prob_sum, argmax_count);
  SWITCHSIM_CUDA_CHECK_LAUNCH("router_stats_final_kernel");
}

}  // namespace switchsim::kernels::cuda
