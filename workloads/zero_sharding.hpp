#pragma once
// ZeRO / FSDP sharding of the training state over data-parallel groups (--zero 0|1|2|3;
// Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
// Models", SC 2020; PyTorch FSDP, Zhao et al., VLDB 2023).
//
//   stage 0  nothing sharded (every replica holds parameters, gradients, optimizer state)
//   stage 1  optimizer state sharded (ZeRO-1; Megatron-Core's distributed optimizer)
//   stage 2  optimizer state and gradients sharded (ZeRO-2)
//   stage 3  optimizer state, gradients and parameters sharded (ZeRO-3, FSDP FULL_SHARD)
//
// Groups. A parameter is sharded over the devices that hold a replica of it:
//   dense (non-expert) parameters  the dp group (size dp: same mp rank, every replica)
//   expert parameters              the expert-replica group (size rep = dp / ep: the
//                                  devices holding the same experts); rep = 1: nothing to shard.
// Exact division: a kind of N elements per device (already divided by mp, and experts by ep)
// takes ceil(N / group) elements on each member (the last shard padded, as FSDP pads its flat
// parameter to a multiple of the group); for N divisible by the group this is N / group exactly.
//
// Transient memory of stage 3 (engineering assumption, FSDP's defaults): each layer is one FSDP
// unit; the unit computing and the one being prefetched (prefetch depth 1) are held gathered,
// so two layers' full (local, unsharded over dp) parameters, plus one layer's unsharded
// gradients waiting for its reduce-scatter. The largest layer is taken for both.
//
// The step (step_builder.hpp) and the planner's bounds (planner/bounds.hpp) use these counts.

#include <cstdint>
#include <string>

namespace switchsim::workloads {

struct Model;
struct Layout;

inline constexpr std::int32_t kMaxZeroStage = 3;

// 0..3; InputError(field) otherwise.
[[nodiscard]] std::int32_t parse_zero_stage(std::int64_t stage, const std::string& field = "--zero");

// ceil(elements / group): one member's shard (group <= 1: the whole).
[[nodiscard]] double shard_elements(double elements, std::int64_t group);

// The two sharding groups of a layout (1 where the kind has no replicas to shard over).
struct ZeroGroups {
  std::int64_t dense = 1;   // dp
  std::int64_t expert = 1;  // dp / ep (MoE models)
};
[[nodiscard]] ZeroGroups zero_groups(const Model& model, const Layout& layout);

// Which parts of the state a stage shards.
[[nodiscard]] inline bool shards_optimizer(std::int32_t stage) { return stage >= 1; }
[[nodiscard]] inline bool shards_gradients(std::int32_t stage) { return stage >= 2; }
[[nodiscard]] inline bool shards_parameters(std::int32_t stage) { return stage >= 3; }

// Local (per-device, before sharding) parameter elements of the largest layer: the stage-3
// unit held gathered (attention blocks + its FFN or MoE layer's local experts, router and
// shared experts; or the embedding table), each divided as the layout divides it.
[[nodiscard]] double largest_layer_local_params(const Model& model, const Layout& layout);

}  // namespace switchsim::workloads
