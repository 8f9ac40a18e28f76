// Elementwise kernels of the expert FFN (the matrix products are cuBLAS calls
// in cuda_backend.cu), conversions, and an empty kernel for launch overhead.

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/launch.cuh"

namespace switchsim::kernels::cuda {

namespace {

__device__ __forceinline__ float gelu_tanh(float v) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * v * (1.0f + tanhf(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
}

// SiLU: v sigmoid(v) = v / (1 + e^-v). For v < -88, expf(-v) overflows to +inf and the IEEE
// division gives v / inf = -0 (the true value is below 1e-36 in magnitude): no NaN. expf, not
// the __expf intrinsic, as the GELU uses tanhf: the kernel is memory-bound either way.
__device__ __forceinline__ float silu(float v) { return v / (1.0f + expf(-v)); }

__global__ void relu_kernel(bf16* __restrict__ h, std::int64_t n) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    h[i] = __float2bfloat16(fmaxf(__bfloat162float(h[i]), 0.0f));
  }
}

__global__ void geglu_kernel(bf16* __restrict__ h, const bf16* __restrict__ g, std::int64_t n) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    h[i] = __float2bfloat16(gelu_tanh(__bfloat162float(h[i])) * __bfloat162float(g[i]));
  }
}

__global__ void swiglu_kernel(bf16* __restrict__ h, const bf16* __restrict__ g, std::int64_t n) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    h[i] = __float2bfloat16(silu(__bfloat162float(h[i])) * __bfloat162float(g[i]));
  }
}

__global__ void float_to_bf16_kernel(const float* __restrict__ src, bf16* __restrict__ dst, std::int64_t n) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    dst[i] = __float2bfloat16_rn(src[i]);
  }
}

__global__ void bf16_to_float_kernel(const bf16* __restrict__ src, float* __restrict__ dst, std::int64_t n) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    dst[i] = __bfloat162float(src[i]);
  }
}

__global__ void empty_kernel() {}

unsigned grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);  // grid-stride beyond
}

}  // namespace

void launch_relu(bf16* h, std::int64_t n, cudaStream_t stream) {
  require(n > 0, "relu: n must be positive");
  relu_kernel<<<grid_for(n), 256, 0, stream>>>(h, n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("relu_kernel");
}

void launch_geglu(bf16* h, const bf16* g, std::int64_t n, cudaStream_t stream) {
  require(n > 0, "geglu: n must be positive");
  geglu_kernel<<<grid_for(n), 256, 0, stream>>>(h, g, n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("geglu_kernel");
}

void launch_swiglu(bf16* h, const bf16* g, std::int64_t n, cudaStream_t stream) {
  require(n > 0, "swiglu: n must be positive");
  swiglu_kernel<<<grid_for(n), 256, 0, stream>>>(h, g, n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("swiglu_kernel");
}

void launch_float_to_bf16(const float* src, bf16* dst, std::int64_t n, cudaStream_t stream) {
  require(n > 0, "float_to_bf16: n must be positive");
  float_to_bf16_kernel<<<grid_for(n), 256, 0, stream>>>(src, dst, n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("float_to_bf16_kernel");
}

void launch_bf16_to_float(const bf16* src, float* dst, std::int64_t n, cudaStream_t stream) {
  require(n > 0, "bf16_to_float: n must be positive");
  bf16_to_float_kernel<<<grid_for(n), 256, 0, stream>>>(src, dst, n);
  SWITCHSIM_CUDA_CHECK_LAUNCH("bf16_to_float_kernel");
}

void launch_empty(cudaStream_t stream) {
  empty_kernel<<<1, 32, 0, stream>>>();
  SWITCHSIM_CUDA_CHECK_LAUNCH("empty_kernel");
}

}  // namespace switchsim::kernels::cuda
