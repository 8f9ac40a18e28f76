// Deterministic capacity assignment by a parallel scan per group.
//
// Within group g, the k*G choices are ordered rank-major (all first choices
// in token order, then all second choices, ...): entry i in [0, k*G) is
// choice j = i / G of token t = g*G + i % G. The position of entry i in its
// expert e is the number of earlier entries of the group with expert e. It is
// computed in three passes over chunks of 32 entries (one warp each):
//   1. count:  counts[g][c][e] = entries of chunk c with expert e
//              (__match_any_sync groups equal experts inside the warp);
//   2. scan:   per (g, e), counts[g][.][e] becomes exclusive prefix sums over
//              chunks (a two-level scan in one block per group and 32 experts),
//              and the expert's load is recorded;
//   3. place:  position = prefix[g][c][e] + rank among equal experts of lower
//              lanes; kept when position < C (row g*C + position), else -1.
// Integer sums in a fixed order: the result does not depend on scheduling.
//
// Dropless mode (launch_assign_dropless) runs count and scan over ONE group of
// all T tokens (the global rank-major order of the CPU backend), then turns the
// experts' loads into offsets (E + 1) and places entry i at buffer row
// offsets[e] + position; nothing is dropped.

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"

namespace switchsim::kernels::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ std::int32_t entry_expert(const std::int32_t* expert, std::int64_t g, std::int64_t i,
                                                     std::int64_t G, std::int64_t k, std::int64_t entries,
                                                     std::int64_t* token, int* choice) {
  if (i >= entries) return -1;
  const std::int64_t j = i / G;
  const std::int64_t t = g * G + i % G;
  *token = t;
  *choice = static_cast<int>(j);
  return expert[t * k + j];
}

// grid (ceil(chunks / 8), groups), block 256.
__global__ void capacity_count_kernel(const std::int32_t* __restrict__ expert, std::int64_t G, std::int64_t k,
                                      std::int64_t E, std::int64_t chunks, std::int32_t* __restrict__ counts) {
  const std::int64_t g = blockIdx.y;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (c >= chunks) return;  // uniform per warp
  const int lane = threadIdx.x % 32;
  std::int64_t t = 0;
  int j = 0;
  const std::int32_t e = entry_expert(expert, g, c * 32 + lane, G, k, k * G, &t, &j);
  const unsigned same = __match_any_sync(0xffffffffu, e);
  if (e >= 0 && lane == __ffs(same) - 1) counts[(g * chunks + c) * E + e] = __popc(same);
}

// grid (ceil(E / 32), groups), block (32, 32): threadIdx.x = expert within a
// tile of 32, threadIdx.y = one of 32 contiguous segments of chunks. Each
// thread sums its segment, the segment totals are scanned in shared memory
// (fixed order), then each thread rewrites its segment as exclusive prefixes.
__global__ void capacity_scan_kernel(std::int32_t* __restrict__ counts, std::int64_t E, std::int64_t chunks,
                                     std::int32_t* __restrict__ expert_load) {
  __shared__ std::int32_t segment_total[32][33];  // [segment][expert]; +1 avoids bank conflicts
  const std::int64_t g = blockIdx.y;
  const std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const std::int64_t length = (chunks + 31) / 32;
  const std::int64_t begin = threadIdx.y * length;
  const std::int64_t end = begin + length < chunks ? begin + length : chunks;
  std::int32_t sum = 0;
  if (e < E) {
    for (std::int64_t c = begin; c < end; ++c) sum += counts[(g * chunks + c) * E + e];
  }
  segment_total[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  std::int32_t running = 0;
  for (unsigned y = 0; y < threadIdx.y; ++y) running += segment_total[y][threadIdx.x];
  if (e < E) {
    for (std::int64_t c = begin; c < end; ++c) {
      std::int32_t* cell = counts + (g * chunks + c) * E + e;
      const std::int32_t v = *cell;
      *cell = running;
      running += v;
    }
    if (threadIdx.y == 31) expert_load[g * E + e] = running;
  }
}

__global__ void capacity_place_kernel(const std::int32_t* __restrict__ expert, std::int64_t G, std::int64_t k,
                                      std::int64_t E, std::int64_t C, std::int64_t S, std::int64_t chunks,
                                      const std::int32_t* __restrict__ prefix, std::int32_t* __restrict__ slot,
                                      std::int32_t* __restrict__ row_source) {
  const std::int64_t g = blockIdx.y;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (c >= chunks) return;
  const int lane = threadIdx.x % 32;
  std::int64_t t = 0;
  int j = 0;
  const std::int32_t e = entry_expert(expert, g, c * 32 + lane, G, k, k * G, &t, &j);
  const unsigned same = __match_any_sync(0xffffffffu, e);
  if (e < 0) return;
  const unsigned lower = (1u << lane) - 1u;
  const std::int64_t position = prefix[(g * chunks + c) * E + e] + __popc(same & lower);
  if (position < C) {
    const std::int64_t row = g * C + position;
    slot[t * k + j] = static_cast<std::int32_t>(row);
    row_source[e * S + row] = static_cast<std::int32_t>(t);
  } else {
    slot[t * k + j] = -1;
  }
}

// Dropless, after count and scan over one group of all T tokens: offsets (E + 1) = exclusive
// prefix sums of the experts' loads (int64). One thread: E is at most a few thousand, and the
// serial sum in expert order is deterministic.
__global__ void dropless_offsets_kernel(const std::int32_t* __restrict__ load, std::int64_t E,
                                        std::int64_t* __restrict__ offsets) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  std::int64_t running = 0;
  offsets[0] = 0;
  for (std::int64_t e = 0; e < E; ++e) {
    running += load[e];
    offsets[e + 1] = running;
  }
}

// Dropless placement: position = rank of the entry among the entries of its expert in the global
// rank-major order (prefix over chunks + rank among equal experts of lower lanes); slot = position,
// buffer row = offsets[e] + position. Every entry is kept.
__global__ void dropless_place_kernel(const std::int32_t* __restrict__ expert, std::int64_t T, std::int64_t k,
                                      std::int64_t E, std::int64_t chunks, const std::int32_t* __restrict__ prefix,
                                      const std::int64_t* __restrict__ offsets, std::int32_t* __restrict__ slot,
                                      std::int32_t* __restrict__ row_source) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (c >= chunks) return;
  const int lane = threadIdx.x % 32;
  std::int64_t t = 0;
  int j = 0;
  const std::int32_t e = entry_expert(expert, 0, c * 32 + lane, T, k, k * T, &t, &j);
  const unsigned same = __match_any_sync(0xffffffffu, e);
  if (e < 0 || e >= E) return;
  const unsigned lower = (1u << lane) - 1u;
  const std::int64_t position = prefix[c * E + e] + __popc(same & lower);
  const std::int64_t row = offsets[e] + position;
  if (row < offsets[e + 1]) {  // always true when the counts are consistent; guards the write
    slot[t * k + j] = static_cast<std::int32_t>(position);
    row_source[row] = static_cast<std::int32_t>(t);
  }
}

// Per-group loads (groups, E) for the statistics: one thread per (token, choice), integer atomics
// (the totals do not depend on their order).
__global__ void group_load_kernel(const std::int32_t* __restrict__ expert, std::int64_t T, std::int64_t k,
                                  std::int64_t G, std::int64_t E, std::int32_t* __restrict__ expert_load) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= T * k) return;
  const std::int32_t e = expert[i];
  if (e < 0 || e >= E) return;
  atomicAdd(expert_load + (i / k / G) * E + e, 1);
}

}  // namespace

std::int64_t capacity_scratch_entries(std::int64_t groups, std::int64_t G, std::int64_t k, std::int64_t E) {
  const std::int64_t chunks = (k * G + 31) / 32;
  return groups * chunks * E;
}

void launch_assign_capacity(const std::int32_t* expert, std::int64_t T, std::int64_t k, std::int64_t G,
                            std::int64_t E, std::int64_t C, std::int32_t* chunk_counts, std::int32_t* slot,
                            std::int32_t* row_source, std::int32_t* expert_load, cudaStream_t stream) {
  require(T > 0 && k > 0 && G > 0 && E > 0 && C > 0, "assign_capacity: sizes must be positive");
  require(T % G == 0, "assign_capacity: G must divide T");
  const std::int64_t groups = T / G;
  const std::int64_t chunks = (k * G + 31) / 32;
  const std::int64_t S = groups * C;
  require(groups <= 65535, "assign_capacity: at most 65535 groups");
  require(E * S < (1ll << 31) && T * k < (1ll << 31), "assign_capacity: indices must fit int32");
  SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(chunk_counts, 0,
                                       static_cast<std::size_t>(groups * chunks * E) * sizeof(std::int32_t), stream));
  SWITCHSIM_CUDA_CHECK(
      cudaMemsetAsync(row_source, 0xff, static_cast<std::size_t>(E * S) * sizeof(std::int32_t), stream));
  const dim3 grid(static_cast<unsigned>((chunks + kWarpsPerBlock - 1) / kWarpsPerBlock), static_cast<unsigned>(groups));
  capacity_count_kernel<<<grid, kWarpsPerBlock * 32, 0, stream>>>(expert, G, k, E, chunks, chunk_counts);
  SWITCHSIM_CUDA_CHECK_LAUNCH("capacity_count_kernel");
  capacity_scan_kernel<<<dim3(static_cast<unsigned>((E + 31) / 32), static_cast<unsigned>(groups)), dim3(32, 32), 0,
                         stream>>>(chunk_counts, E, chunks, expert_load);
  SWITCHSIM_CUDA_CHECK_LAUNCH("capacity_scan_kernel");
  capacity_place_kernel<<<grid, kWarpsPerBlock * 32, 0, stream>>>(expert, G, k, E, C, S, chunks, chunk_counts, slot,
                                                                  row_source);
  SWITCHSIM_CUDA_CHECK_LAUNCH("capacity_place_kernel");
}

}  // namespace switchsim::kernels::cuda

namespace switchsim::kernels::cuda {

std::int64_t dropless_scratch_entries(std::int64_t T, std::int64_t k, std::int64_t E) {
  return capacity_scratch_entries(1, T, k, E) + E;  // chunk counts of one group, then the experts' loads
}

void launch_assign_dropless(const std::int32_t* expert, std::int64_t T, std::int64_t k, std::int64_t G, std::int64_t E,
                            std::int32_t* scratch, std::int32_t* slot, std::int32_t* row_source,
                            std::int32_t* expert_load, std::int64_t* offsets, cudaStream_t stream) {
  require(T > 0 && k > 0 && G > 0 && E > 0, "assign_dropless: sizes must be positive");
  require(T % G == 0, "assign_dropless: G must divide T");
  require(T * k < (1ll << 31), "assign_dropless: T * k must fit int32");
  const std::int64_t chunks = (k * T + 31) / 32;
  const std::int64_t blocks = (chunks + kWarpsPerBlock - 1) / kWarpsPerBlock;
  require(blocks < (1ll << 31), "assign_dropless: too many tokens");
  const std::int64_t groups = T / G;
  std::int32_t* counts = scratch;                  // (chunks, E)
  std::int32_t* total = scratch + chunks * E;      // (E)
  SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(counts, 0, static_cast<std::size_t>(chunks * E) * sizeof(std::int32_t), stream));
  SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(expert_load, 0, static_cast<std::size_t>(groups * E) * sizeof(std::int32_t), stream));
  SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(row_source, 0xff, static_cast<std::size_t>(T * k) * sizeof(std::int32_t), stream));
  SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(slot, 0xff, static_cast<std::size_t>(T * k) * sizeof(std::int32_t), stream));
  // One group of all T tokens: the global rank-major order (all first choices, then all second ...).
  capacity_count_kernel<<<dim3(static_cast<unsigned>(blocks), 1), kWarpsPerBlock * 32, 0, stream>>>(expert, T, k, E,
                                                                                                   chunks, counts);
  SWITCHSIM_CUDA_CHECK_LAUNCH("capacity_count_kernel (dropless)");
  capacity_scan_kernel<<<dim3(static_cast<unsigned>((E + 31) / 32), 1), dim3(32, 32), 0, stream>>>(counts, E, chunks,
                                                                                                  total);
  SWITCHSIM_CUDA_CHECK_LAUNCH("capacity_scan_kernel (dropless)");
  dropless_offsets_kernel<<<1, 1, 0, stream>>>(total, E, offsets);
  SWITCHSIM_CUDA_CHECK_LAUNCH("dropless_offsets_kernel");
  dropless_place_kernel<<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(expert, T, k, E, chunks,
                                                                                            counts, offsets, slot,
                                                                                            row_source);
  SWITCHSIM_CUDA_CHECK_LAUNCH("dropless_place_kernel");
  group_load_kernel<<<static_cast<unsigned>((T * k + 255) / 256), 256, 0, stream>>>(expert, T, k, G, E, expert_load);
  SWITCHSIM_CUDA_CHECK_LAUNCH("group_load_kernel");
}

}  // namespace switchsim::kernels::cuda
