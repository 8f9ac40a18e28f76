#pragma once
// A search over a positive count given as text, as --pp and --etp take it: "auto" (the search
// decides where to look), "all" (every value) or one count N >= 1.

#include <cstdint>
#include <string>

namespace switchsim::planner {

inline constexpr std::int64_t kCountAuto = -1;   // "auto"
inline constexpr std::int64_t kCountEvery = -2;  // "all"

// kCountAuto, kCountEvery or N; InputError(field, "must be <expected> (got '...')") otherwise (0 included).
[[nodiscard]] std::int64_t parse_count_search(const std::string& text, const std::string& field,
                                              const std::string& expected);
// "auto", "all" or N.
[[nodiscard]] std::string count_search_to_string(std::int64_t value);
// Whether `value` is one parse_count_search returns.
[[nodiscard]] inline bool is_count_search(std::int64_t value) {
  return value > 0 || value == kCountAuto || value == kCountEvery;
}

}  // namespace switchsim::planner
