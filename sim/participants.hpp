#pragma once
// Participant lists: which devices of a mesh take part in a collective.
//
// Syntax (--participants): comma-separated items, each a device id `7` or an
// inclusive range `0-15`; spaces are ignored. Example: `0-15,32,40-47`.
// Order is kept (it is the ring order for ring algorithms).

#include <span>
#include <string>
#include <vector>

#include "topology/topology.hpp"

namespace switchsim::sim {

// InputError("--participants", ...) on bad syntax or an empty list (range
// checks against a mesh are done by validate_participants).
[[nodiscard]] std::vector<topology::VertexId> parse_participants(const std::string& text);

// InputError("--participants", ...) when an id is not a device of a mesh with
// `num_devices` devices, or appears twice.
void validate_participants(std::span<const topology::VertexId> participants, std::int32_t num_devices);

}  // namespace switchsim::sim
