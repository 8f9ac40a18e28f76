#pragma once
// Shape-aware compute cost model: how well a matrix product of a given shape
// uses the device's matrix units, instead of one flat efficiency.
//
//   time = launch_overhead_s + max( (padded_flops + other_flops) / (peak * large_gemm_efficiency)
//                                     + split_k_bytes / (memory_Bps * memory_efficiency),
//                                   min_bytes / (memory_Bps * memory_efficiency) )
//
// * peak: DeviceCeilings::matrix_flops_per_s for bf16 ops of the matrix kinds
//   (matmul, batched_matmul, router, attention); vector_flops_per_s (the
//   device's fp32 peak) for fp32 ones (the router; a --precision fp32 step),
//   as the MFU of op_accounting.hpp counts against the fp32 peak for fp32;
//   fp8_matrix_flops_per_s for fp8 ops of the matrix kinds (roofline_cost_model.hpp,
//   fp8_matrix_peak: refused on a device without one). The padding below is the same
//   (engineering assumption: the library keeps the bf16 tile for fp8 products).
//   Memory kinds (dispatch, combine, elementwise, optimizer) have no FLOPs:
//   time = launch + bytes / (memory_Bps * memory_efficiency).
// * large_gemm_efficiency = DeviceCeilings::matrix_efficiency: the fraction of
//   the peak a large, well-shaped product reaches once the padding below is
//   accounted for (data/devices.json "large_gemm_efficiency", with its source).
// * min_bytes: OpShape::min_bytes(): each operand read once and the output
//   written once, what any kernel must move through HBM at least (padding is
//   done on chip and moves nothing).
// * other_flops: the non-product part of OpShape::flops(): the router's and
//   attention's softmax (5 m n per head / product), not padded.
// * padded_flops: the multiply-adds the hardware spends on the products,
//   useful or not (2 per multiply-add), from the device's MatrixGeometry:
//
// Systolic arrays (TPU; jax-ml scaling-book "How to think about TPUs"): an MXU
// is a dim x dim array that holds one dim x dim block of the weight operand
// (K x N) and streams the other operand's rows through it, row_step rows (8
// sublanes) at a time; operand dimensions below or between multiples of 128
// are padded to 128. A product (M, K) x (K, N), `batch` copies:
//     blocks = batch * ceil(K/dim) * ceil(N/dim)       weight blocks
//     passes = ceil(blocks / mxus)                     the device's MXUs take one block each
//     Mp     = ceil(M/row_step) * row_step
//     padded = 2 * passes * mxus * dim^2 * Mp
// (a product whose blocks cannot fill every MXU leaves some idle: the
// scaling-book's "tiling dimensions larger than 128 x number of MXUs").
// Attention per head: QK^T is (m, d) x (d, n) and PV is (m, n) x (n, d), both
// priced as above, so d_kv = 64 fills half of a 128-wide array.
//
// GPU tensor cores (NVIDIA "Matrix Multiplication Background" user guide:
// tile and wave quantization): the library splits the output into CTA tiles of
// tile_m x tile_n, one CTA per SM at a time, each stepping through K in
// tile_k slices; a wave is sm_count tiles:
//     Kt     = ceil(K/tile_k)                          k-steps
//     tiles  = batch * ceil(M/a) * ceil(N/b)           (a, b) = (tile_m, tile_n) or (tile_n, tile_m)
//     waves  = ceil(tiles * s / sm_count)
//     padded = 2 * waves * sm_count * a * b * ceil(Kt/s) * tile_k
//     split  = s > 1: 2 * s * batch * M * N * 4 bytes   (fp32 partial sums written and read back)
// where s is the split-K factor: a grid of fewer tiles than SMs (a weight
// gradient: small output, K = tokens) is split along K into s slices run by
// separate CTAs and reduced afterwards (CUTLASS "Efficient GEMM in CUDA",
// parallelized reductions: split-K). The library is taken to pick the
// orientation and the s in [1, min(Kt, 2 ceil(sm_count / tiles))] with the
// least time (padded / rate + split / bandwidth): an idealised heuristic
// (engineering assumption; s = 1 whenever the grid fills a wave).
// Attention (FlashAttention-2 style, Dao 2023: one CTA per head and block of
// kAttentionBlock query rows, looping over keys in blocks of kAttentionBlock;
// head dims in steps of kAttentionHeadDimStep):
//     ctas   = batch * ceil(m/B),  waves = ceil(ctas / sm_count)
//     padded = 4 * waves * sm_count * B * ceil(n/B)*B * ceil(d/32)*32
//
// With all dimensions multiples of the tiles and whole waves, padded = useful
// FLOPs and a product reaches large_gemm_efficiency of the peak.
//
// Uncertainty (one relative standard deviation, documented, not fitted):
//   compute-bound body: sqrt(kLargeGemmUncertainty^2 + (1 - u)^2), u = useful / padded
//     (split-K traffic counted as padding)
//     (the large-GEMM efficiency varies by some 5-10% between parts, clocks and
//     library versions; the library may tile better than the assumed tile, by
//     at most the padding the model charges);
//   memory-bound body: kMemoryUncertainty (memory_efficiency is an assumption);
//   the launch overhead: kLaunchUncertainty of itself;
//   the op: the time-weighted sum of those (an upper bound of the combined error).

#include <cstdint>
#include <string>

#include "kernels/cost_model.hpp"

namespace switchsim::kernels {

inline constexpr double kLargeGemmUncertainty = 0.10;
inline constexpr double kMemoryUncertainty = 0.20;
inline constexpr double kLaunchUncertainty = 0.50;
// GPU attention (FlashAttention-2's forward kernel for head dim 64 uses
// 128 x 128 blocks, csrc/flash_attn/src/flash_fwd_launch_template.h; its kernels
// are instantiated for head dims in multiples of 32). Engineering assumption:
// the same blocks for every head dim.
inline constexpr std::int64_t kAttentionBlock = 128;
inline constexpr std::int64_t kAttentionHeadDimStep = 32;

// The matrix units of one device (data/devices.json "chip", per device).
struct MatrixGeometry {
  enum class Family : std::uint8_t { systolic, gpu_tiles };
  Family family = Family::gpu_tiles;
  // systolic (TPU)
  std::int64_t mxu_dim = 0;   // array side (128)
  std::int64_t mxus = 0;      // MXUs per device (mxus_per_core x TensorCores per device)
  std::int64_t row_step = 0;  // rows stream in groups of this many (8 sublanes)
  // gpu_tiles
  std::int64_t sm_count = 0;
  std::int64_t tile_m = 0;
  std::int64_t tile_n = 0;
  std::int64_t tile_k = 0;
};

// What the matrix units do for `op`'s products (see above); zeros for memory kinds.
struct MatrixWork {
  double padded_flops = 0.0;   // FLOPs spent, useful or not
  double split_k_bytes = 0.0;  // GPU split-K partial sums moved (0 without a split)
  std::int64_t split_k = 1;    // the split-K factor s
};
// `flops_per_s` and `bytes_per_s` (achievable rates) choose the GPU split-K factor.
[[nodiscard]] MatrixWork matrix_work(const OpShape& op, const MatrixGeometry& g, double flops_per_s,
                                     double bytes_per_s);
// Useful FLOPs of `op`'s products: OpShape::flops() without the softmax terms.
[[nodiscard]] double useful_matrix_flops(const OpShape& op);

class ShapeAwareCostModel final : public CostModel {
 public:
  // Throws InputError("ceilings...", ...) for a non-positive ceiling and
  // InputError("geometry...", ...) for a non-positive dimension of its family.
  ShapeAwareCostModel(DeviceCeilings ceilings, MatrixGeometry geometry);

  [[nodiscard]] Prediction predict(const OpShape& op) const override;
  [[nodiscard]] std::string name() const override;  // "shape-aware:<device_kind>"

  // useful / padded FLOPs of `op`'s products (1 for memory kinds).
  [[nodiscard]] double utilisation(const OpShape& op) const;
  // The same time without padding (padded_flops = useful): <= predict(op) for
  // every op, and convex and non-decreasing in each dimension (a maximum of
  // linear functions plus a constant). The planner's lower bounds price an
  // averaged shape with it (planner/bounds.hpp).
  [[nodiscard]] Prediction predict_unpadded(const OpShape& op) const;

  [[nodiscard]] const DeviceCeilings& ceilings() const { return ceilings_; }
  [[nodiscard]] const MatrixGeometry& geometry() const { return geometry_; }

 private:
  [[nodiscard]] double peak_for(const OpShape& op) const;
  [[nodiscard]] MatrixWork work(const OpShape& op) const;
  [[nodiscard]] Prediction price(const OpShape& op, const MatrixWork& w) const;
  DeviceCeilings ceilings_;
  MatrixGeometry geometry_;
};

}  // namespace switchsim::kernels
