#pragma once
// The recommendation as JSON (schema below) and as a short ranked table.
//
// JSON (kind "recommend", command "recommend"):
//   schema_version, inputs {model, mesh, device_kind, devices, objective, max_drop, factors, dropless,
//     samples, seed, routing, batch_tokens, group_tokens, precision, fp8_dispatch, optimizer, rematerialize,
//     memory_headroom, max_micro_batches, top, prune},
//   recommendations [ {rank, layout {dp, ep, mp, mapping, text}, capacity_factor (null when dropless),
//     mode, micro_batches, expert_capacity, step_time_s, tokens_per_s, drop_fraction,
//     effective_tokens_per_s, memory_per_device_bytes, memory {...}, breakdown {compute_s, all_to_all_s,
//     all_reduce_s, other_communication_s, idle_s}, spread {step_time_s, tokens_per_s, drop_fraction:
//     {mean, min, max, stddev}}, lower_bound {step_time_s, compute_s, communication_s}, why} ],
//   pareto [ the same entries without rank and why ],
//   rejected [ {layout, capacity_factor, mode, micro_batches, memory_per_device_bytes,
//     memory_limit_bytes, reason} ],
//   layouts, mappings, candidates, evaluated, pruned, over_drop_limit, wall_s,
//   provenance {tool, version, ..., cost_model}.
// Nothing in it depends on the thread count; wall_s is the only field that changes between runs.

#include <string>

#include "common/json_io.hpp"
#include "planner/recommend.hpp"

namespace switchsim::planner {

[[nodiscard]] json to_json(const RecommendResult& r);
[[nodiscard]] std::string to_text(const RecommendResult& r);

}  // namespace switchsim::planner
