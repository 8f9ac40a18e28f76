#pragma once
// Warp-level reductions and the row softmax the router and the attention share: one warp (32
// lanes) per row, each lane striding over the row's entries.

#include <cfloat>
#include <cstdint>

namespace switchsim::kernels::cuda {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// row = softmax(row) over its n entries, in fp32, in place: p_j = e^(s_j - max s) / sum_i e^(s_i - max s).
// Every lane of the warp calls it with its own `lane`; on return every entry is written.
__device__ __forceinline__ void warp_softmax_in_place(float* row, std::int64_t n, int lane) {
  float m = -FLT_MAX;
  for (std::int64_t j = lane; j < n; j += 32) m = fmaxf(m, row[j]);
  m = warp_max(m);
  float s = 0.0f;
  for (std::int64_t j = lane; j < n; j += 32) {
    const float e = expf(row[j] - m);
    row[j] = e;
    s += e;
  }
  const float inv = 1.0f / warp_sum(s);
  for (std::int64_t j = lane; j < n; j += 32) row[j] *= inv;
  __syncwarp();
}

}  // namespace switchsim::kernels::cuda
