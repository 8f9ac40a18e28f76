#pragma once
// The training setup of one step.
//
//   batch_tokens   encoder input tokens per global batch (paper: 2^20 = 2048 sequences of 512);
//                  sequences = batch_tokens / input_length, each with target_length decoder tokens.
//   micro_batches  forward/backward passes per step; gradients accumulate, one all-reduce per step.
//   group_tokens   routing group size (--group-tokens); 0 = the implementation's default: einsum
//                  splits each stack's local tokens as Mesh-TF does (groups of at most 1024 tokens,
//                  moe_impl.hpp, mesh_tf_group_split), gather and grouped route one device's local
//                  batch per micro-batch as one group (the paper's tokens_per_core). With a given
//                  size (or the local batch), decoder layers route the matching decoder tokens in
//                  the same number of groups per device, each of local_decoder_tokens / groups tokens.
//   moe_impl       how the MoE layer runs (moe_impl.hpp); `automatic` until a step resolves it
//                  against its mesh and mode (resolve_moe_impl).
//   precision      bf16: activations, matrix products and all-to-alls in bfloat16, the router in
//                  float32 (selective precision); fp32: everything in float32; fp8: as bf16, with
//                  the linear layers' products in FP8 (DeepSeek-V3's recipe, workloads/fp8.hpp).
//   fp8_dispatch   the forward dispatch all-to-all in FP8, 1 byte per element (fp8.hpp).
//   optimizer      adafactor (paper; factored second moments, no first moment, fp32 parameters and
//                  gradients) or adam (GPU practice: bf16 parameters and gradients, fp32 master copy
//                  and two fp32 moments).
//   pp_schedule    the pipeline schedule when the layout has pp > 1 (pipeline_schedule.hpp).
//   rematerialize  keep only each layer's input for the backward pass and recompute the rest
//                  (costs one more forward pass of compute).
//   zero_stage     ZeRO / FSDP sharding of optimizer state (1), + gradients (2), + parameters (3)
//                  over each parameter's data-parallel group (--zero; workloads/zero_sharding.hpp).

#include <cstdint>
#include <string>

#include "workloads/moe_impl.hpp"
#include "workloads/pipeline_schedule.hpp"

namespace switchsim::workloads {

struct Model;
struct Layout;

enum class Optimizer : std::uint8_t { adafactor, adam };

// Gradient synchronisation over the data-parallel replicas (--grad-sync).
//   fused     one all-reduce per parameter kind after the whole backward pass
//             (XLA on TPU: gradients are reduced once, outside the backward)
//   bucketed  gradients are packed, in the order the backward pass produces them,
//             into buckets of `bucket_bytes`; each bucket is all-reduced as soon as
//             its last gradient exists, overlapping the rest of the backward pass
//             (PyTorch DDP, default 25 MiB; Megatron-Core's overlapped grad reduce).
//             Only the last micro-batch's backward syncs (gradient accumulation).
// separate_stream: gradient all-reduces run on their own communication stream
// (a separate NCCL communicator, as DDP's process group and Megatron's dp group
// have), so they run concurrently with the expert all-to-alls.
enum class GradSyncKind : std::uint8_t { fused, bucketed };
inline constexpr double kDdpBucketBytes = 25.0 * 1024.0 * 1024.0;  // torch DDP bucket_cap_mb = 25
struct GradSync {
  GradSyncKind kind = GradSyncKind::fused;
  double bucket_bytes = kDdpBucketBytes;
  bool separate_stream = false;
};
[[nodiscard]] const char* to_string(GradSyncKind kind);
[[nodiscard]] std::string to_string(const GradSync& sync);  // "fused", "bucketed:26214400"
// The platform default: TPU meshes fused on one stream, GPU meshes bucketed (25 MiB) on their own stream.
[[nodiscard]] GradSync default_grad_sync(bool tpu);
// "auto" (the platform default), "fused", "bucketed" or "bucketed:BYTES" (BYTES a positive
// integer, optionally with a KiB/MiB/GiB suffix, at most 64 GiB); InputError(field) otherwise.
[[nodiscard]] GradSync parse_grad_sync(const std::string& text, bool tpu, const std::string& field = "--grad-sync");
enum class Precision : std::uint8_t { bf16, fp32, fp8 };

[[nodiscard]] const char* to_string(Optimizer o);
[[nodiscard]] const char* to_string(Precision p);
[[nodiscard]] Optimizer parse_optimizer(const std::string& text, const std::string& field = "--optimizer");
[[nodiscard]] Precision parse_precision(const std::string& text, const std::string& field = "--precision");

struct TrainingSetup {
  std::int64_t batch_tokens = std::int64_t{1} << 20;
  std::int64_t micro_batches = 1;
  // True when micro_batches was chosen as the smallest count that fits (no --micro-batches given).
  bool micro_batches_chosen = false;
  std::int64_t group_tokens = 0;  // 0: the MoE implementation's default (see above)
  MoeImpl moe_impl = MoeImpl::automatic;
  Precision precision = Precision::bf16;
  bool fp8_dispatch = false;
  Optimizer optimizer = Optimizer::adafactor;
  bool rematerialize = false;
  GradSync grad_sync;
  std::int32_t zero_stage = 0;  // --zero (zero_sharding.hpp); 0 = nothing sharded
  // Order of micro-batches on each pipeline stage (pp > 1 only; pipeline_schedule.hpp, --pp-schedule).
  PipelineSchedule pp_schedule = PipelineSchedule::one_f_one_b;

  // Activations between ops: bf16 for bf16 and fp8 steps (fp8 runs the products in FP8 and keeps
  // their outputs, norms and residuals in bf16), fp32 for fp32.
  [[nodiscard]] double activation_bytes() const { return precision == Precision::fp32 ? 4.0 : 2.0; }
};

// What the setup means for one layout: sizes every later stage uses.
struct StepShape {
  std::int64_t sequences = 0;                  // global
  std::int64_t local_sequences = 0;            // per data-parallel replica and micro-batch
  std::int64_t local_tokens = 0;               // encoder tokens per device and micro-batch
  std::int64_t local_decoder_tokens = 0;
  std::int64_t groups_per_device = 1;          // encoder routing groups per device and micro-batch
  std::int64_t group_tokens = 0;               // encoder routing group size G
  std::int64_t decoder_groups_per_device = 1;  // decoder routing groups per device and micro-batch
  std::int64_t decoder_group_tokens = 0;       // decoder routing group size
};

// Checks the setup and derives the shape. InputError names the field:
//   --batch-tokens     not a multiple of input_length, or the sequences do not divide over dp x micro-batches
//   --micro-batches    <= 0
//   --group-tokens     negative, or not dividing the local tokens
[[nodiscard]] StepShape derive_step_shape(const TrainingSetup& setup, const Model& model, const Layout& layout);

}  // namespace switchsim::workloads
