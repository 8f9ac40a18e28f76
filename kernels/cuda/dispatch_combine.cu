// Dispatch (token rows -> expert buffer, padded or packed) and combine (expert rows ->
// tokens, weighted by the gate). Memory-bound: one warp per row, 16-byte
// vector accesses (8 bf16) when d_model % 8 == 0.
// napkin math: dispatch reads up to E*S*d and writes E*S*d bf16 (2 bytes
// each); combine reads the kept rows (<= T*k*d) and writes T*d.

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"

namespace switchsim::kernels::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

template <bool kVector>
__global__ void dispatch_kernel(const bf16* __restrict__ x, const std::int32_t* __restrict__ row_source,
                                bf16* __restrict__ buffer, std::int64_t rows, std::int64_t d) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (r >= rows) return;
  const int lane = threadIdx.x % 32;
  const std::int32_t t = row_source[r];
  if constexpr (kVector) {
    const std::int64_t vectors = d / 8;
    uint4* dst = reinterpret_cast<uint4*>(buffer + r * d);
    if (t < 0) {
      const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
      for (std::int64_t v = lane; v < vectors; v += 32) dst[v] = zero;
    } else {
      const uint4* src = reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(t) * d);
      for (std::int64_t v = lane; v < vectors; v += 32) dst[v] = src[v];
    }
  } else {
    bf16* dst = buffer + r * d;
    if (t < 0) {
      for (std::int64_t i = lane; i < d; i += 32) dst[i] = __float2bfloat16(0.0f);
    } else {
      const bf16* src = x + static_cast<std::int64_t>(t) * d;
      for (std::int64_t i = lane; i < d; i += 32) dst[i] = src[i];
    }
  }
}

template <bool kVector>
__global__ void combine_kernel(const bf16* __restrict__ expert_out, const std::int32_t* __restrict__ expert,
                               const float* __restrict__ gate, const std::int32_t* __restrict__ slot,
                               const std::int64_t* __restrict__ offsets, bf16* __restrict__ y, std::int64_t T, int k,
                               std::int64_t d) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (t >= T) return;
  const int lane = threadIdx.x % 32;
  std::int64_t row_offset[8];  // element offset of each kept choice's row, -1 if dropped
  float g[8];
  for (int j = 0; j < k; ++j) {
    const std::int32_t s = slot[t * k + j];
    const std::int32_t e = expert[t * k + j];
    const std::int64_t row = s < 0 ? -1 : offsets[e] + s;
    row_offset[j] = (s < 0 || row >= offsets[e + 1]) ? -1 : row * d;
    g[j] = gate[t * k + j];
  }
  if constexpr (kVector) {
    const std::int64_t vectors = d / 8;
    uint4* dst = reinterpret_cast<uint4*>(y + t * d);
    for (std::int64_t v = lane; v < vectors; v += 32) {
      float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
      for (int j = 0; j < k; ++j) {
        if (row_offset[j] < 0) continue;
        const uint4 raw = reinterpret_cast<const uint4*>(expert_out + row_offset[j])[v];
        const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const float2 f = __bfloat1622float2(pairs[q]);
          acc[2 * q] = fmaf(g[j], f.x, acc[2 * q]);
          acc[2 * q + 1] = fmaf(g[j], f.y, acc[2 * q + 1]);
        }
      }
      uint4 out;
      __nv_bfloat162* out_pairs = reinterpret_cast<__nv_bfloat162*>(&out);
#pragma unroll
      for (int q = 0; q < 4; ++q) out_pairs[q] = __floats2bfloat162_rn(acc[2 * q], acc[2 * q + 1]);
      dst[v] = out;
    }
  } else {
    for (std::int64_t i = lane; i < d; i += 32) {
      float acc = 0.0f;
      for (int j = 0; j < k; ++j) {
        if (row_offset[j] >= 0) acc = fmaf(g[j], __bfloat162float(expert_out[row_offset[j] + i]), acc);
      }
      y[t * d + i] = __float2bfloat16(acc);
    }
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

}  // namespace

void launch_dispatch(const bf16* x, const std::int32_t* row_source, bf16* buffer, std::int64_t rows, std::int64_t d,
                     cudaStream_t stream) {
  require(rows > 0 && d > 0, "dispatch: rows and d must be positive");
  const std::int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  require(blocks < (1ll << 31), "dispatch: too many rows");
  if (d % 8 == 0 && aligned16(x) && aligned16(buffer)) {
    dispatch_kernel<true><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(x, row_source, buffer,
                                                                                           rows, d);
  } else {
    dispatch_kernel<false><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(x, row_source, buffer,
                                                                                            rows, d);
  }
  SWITCHSIM_CUDA_CHECK_LAUNCH("dispatch_kernel");
}

void launch_combine(const bf16* expert_out, const std::int32_t* expert, const float* gate, const std::int32_t* slot,
                    const std::int64_t* offsets, bf16* y, std::int64_t T, std::int64_t k, std::int64_t d,
                    cudaStream_t stream) {
  require(T > 0 && d > 0, "combine: T and d must be positive");
  require(k >= 1 && k <= 8, "combine: 1 <= k <= 8");
  const std::int64_t blocks = (T + kWarpsPerBlock - 1) / kWarpsPerBlock;
  require(blocks < (1ll << 31), "combine: too many tokens");
  if (d % 8 == 0 && aligned16(expert_out) && aligned16(y)) {
    combine_kernel<true><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(
        expert_out, expert, gate, slot, offsets, y, T, static_cast<int>(k), d);
  } else {
    combine_kernel<false><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(
        expert_out, expert, gate, slot, offsets, y, T, static_cast<int>(k), d);
  }
  SWITCHSIM_CUDA_CHECK_LAUNCH("combine_kernel");
}

}  // namespace switchsim::kernels::cuda
