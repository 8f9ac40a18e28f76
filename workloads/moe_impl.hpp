#pragma once
// How a framework executes the MoE (Switch) layer (--moe-impl). The op shapes of each
// implementation, forward and backward, are in moe_layer.hpp; docs/workloads.md, "MoE layer
// implementations", has the formulas and the sources.
//
//   einsum   Mesh-TensorFlow / GShard, the Switch paper's appendix pseudo-code: per routing group
//            of S tokens, one-hot [S, E, C] dispatch and combine tensors and two dense einsums
//            (mesh_tensorflow/transformer/moe.py, transformer_moe_layer_v1). Needs a fixed capacity.
//   gather   Tutel / Megatron-Core with a capacity factor: index-based permutation into padded
//            [E, C, d_model] buffers and back, weighted by the gate.
//   grouped  MegaBlocks / Megatron-Core grouped GEMM: tokens permuted by expert without padding, one
//            grouped GEMM over the uneven per-expert loads. Dropless; with a capacity factor it is
//            Megatron-Core's capacity without padding (moe_expert_capacity_factor without
//            moe_pad_expert_input_to_capacity): the GEMM runs over the capacity-truncated loads.
//   automatic  (--moe-impl auto, the default) TPU meshes einsum, GPU meshes gather in capacity mode;
//            dropless grouped on both (MaxText's dropless path on TPU is a grouped matmul too).
// einsum in dropless mode and gather in dropless mode are refused (InputError): both need a
// capacity to size their buffers.
//
// Routing groups: einsum splits each device's tokens as Mesh-TF's _split_into_groups does when
// --group-tokens is not given (groups of at most moe_group_size = 1024 tokens, the MoE1D default,
// the number of groups over the batch's mesh dimension a multiple of its size); gather and
// grouped route a device's whole local batch as one group (Tutel and Megatron-Core compute the
// capacity over the local tokens). workloads/training.cpp, derive_step_shape, applies this.

#include <cstdint>
#include <string>

namespace switchsim::workloads {

enum class MoeImpl : std::uint8_t { automatic, einsum, gather, grouped };

[[nodiscard]] const char* to_string(MoeImpl impl);  // "auto", "einsum", "gather", "grouped"
// "auto" | "einsum" | "gather" | "grouped"; InputError(field) otherwise.
[[nodiscard]] MoeImpl parse_moe_impl(const std::string& text, const std::string& field = "--moe-impl");

// The implementation a step runs: `requested` unless automatic (then the platform default
// above). InputError(field) for einsum or gather in dropless mode.
[[nodiscard]] MoeImpl resolve_moe_impl(MoeImpl requested, bool tpu, bool dropless,
                                       const std::string& field = "--moe-impl");

// One line for an output's provenance: what the implementation prices, after which framework.
[[nodiscard]] const char* describe_moe_impl(MoeImpl impl);

// What the platform may not run as priced, or null: the grouped GEMM on a TPU mesh. XLA
// compiles static shapes; a grouped GEMM over routed (uneven) loads needs a ragged matmul
// kernel written outside it (MaxText's megablox, a Pallas kernel), which the Switch paper's
// TPU v3 runs did not have (they used a capacity factor). The step is priced all the same;
// outputs carry this line so a user checks their framework before relying on the rank.
[[nodiscard]] const char* platform_caveat(MoeImpl impl, bool tpu);

// Mesh-TF's moe_group_size default (MoE1D(group_size=1024)).
inline constexpr std::int64_t kMeshTfGroupTokens = 1024;

struct GroupSplit {
  std::int64_t groups = 1;        // per device
  std::int64_t group_tokens = 0;  // S
};

// mesh_tensorflow/transformer/moe.py, _split_into_groups(n, max_group_size, mesh_dim_size) for
// n = local_tokens x batch_devices tokens split over `batch_devices` devices (the data-parallel
// axis): num_groups starts at max(1, n // max_group_size) and grows by one until it is a multiple
// of mesh_dim_size and divides n; per device that is the smallest g with
// g x batch_devices >= max(1, n // max_group_size) and local_tokens % g == 0.
[[nodiscard]] GroupSplit mesh_tf_group_split(std::int64_t local_tokens, std::int64_t batch_devices,
                                             std::int64_t max_group_tokens = kMeshTfGroupTokens);

}  // namespace switchsim::workloads
