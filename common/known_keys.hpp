#pragma once
// Strict JSON inputs: every object a user writes (model, mesh, profile, routing
// trace, measurement file) may hold only the keys its format defines. A key the
// format does not know is refused with one line naming it and, when one is
// close, the known key it was probably meant to be; a silently ignored typo
// (`expert_evry`) would change a result without a word.

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/json_io.hpp"

namespace switchsim {

// Throws InputError("<where>.<key>", "unknown key (did you mean 'x'?) ...") for the
// first key of `obj` (in file order) that is not in `known`. Does nothing when
// `obj` is not an object (the caller's own checks report that).
void require_known_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& where);

// Levenshtein distance (insertions, deletions, substitutions, each 1), ASCII case-insensitive.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

// The known key nearest to `key` when it is near enough to be a likely typo
// (distance <= 1 for keys of up to 3 characters, else <= max(2, |key| / 3)); empty otherwise.
[[nodiscard]] std::string closest_key(std::string_view key, std::initializer_list<std::string_view> known);

}  // namespace switchsim
