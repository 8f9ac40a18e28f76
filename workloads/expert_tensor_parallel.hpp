#pragma once
// Expert tensor parallelism with etp != tp (Megatron-Core's MoE parallel folding; the layout's
// expert grid and its rules: layout.hpp). What the expert layers of a folded layout route.
//
// This simulator keeps a tensor-parallel group's T tokens replicated on its tp ranks (attention's
// output all-reduce; no sequence parallelism). An expert-tp group of etp ranks sits inside one tp
// group (etp | tp), so a tp group holds s = tp / etp expert-tp groups; they split its tokens into
// s slices and each routes its own, T / s tokens per device. (Megatron, with sequence parallelism,
// gives each rank T / tp tokens and all-gathers them over the etp group after the all-to-all: the
// same T / s distinct tokens per expert-tp group; here they are already replicated over it.)
// The token count per dispatch all-to-all therefore falls from T to T / s per device, while the
// ep group (ep devices with distinct tokens) may be wider than dp: ep x etp | tp x dp.
//
// Routing groups: the device's `groups` groups of G tokens are split into s slices of whole groups
// (groups / s groups of G) when s divides groups, else each group is split (groups groups of
// G / s tokens, the capacity then from G / s) when s divides G; otherwise the layout is refused
// (InputError --layout.etp). The local token count T must also split (s | T).

#include <cstdint>

namespace switchsim::workloads {

struct RouteSplit {
  std::int64_t tokens = 0;        // T / s: tokens a device routes
  std::int64_t groups = 1;        // routing groups per device
  std::int64_t group_tokens = 0;  // tokens per routing group
};

// The groups alone: whole groups when s divides them, else sliced groups when s divides G, else
// unchanged (tokens: 0); split_routing refuses what does not split.
[[nodiscard]] RouteSplit split_groups(std::int64_t groups, std::int64_t group_tokens, std::int64_t slices);

// s = 1: {T, groups, G} unchanged.
[[nodiscard]] RouteSplit split_routing(std::int64_t tokens, std::int64_t groups, std::int64_t group_tokens,
                                       std::int64_t slices);

}  // namespace switchsim::workloads
