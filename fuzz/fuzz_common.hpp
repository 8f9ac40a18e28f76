#pragma once
// Shared by the libFuzzer targets: parse the input as JSON (invalid JSON is not
// interesting past the parser, which nlohmann_json's own fuzzing covers) and run
// a loader, accepting only the documented failure: InputError (bad input) or
// UnavailableError. Any other exception escapes and libFuzzer reports it as a
// crash: at the CLI it would be an "internal error" (exit 1) instead of exit 2.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/errors.hpp"
#include "common/json_io.hpp"

namespace switchsim::fuzz {

inline std::optional<json> parse(const std::uint8_t* data, std::size_t size) {
  try {
    return json::parse(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const json::exception&) {
    // parse_error or out_of_range (number overflow); read_json_file turns both into InputError.
    return std::nullopt;
  }
}

template <typename Fn>
void expect_only_input_errors(Fn&& fn) {
  try {
    fn();
  } catch (const InputError&) {
  } catch (const UnavailableError&) {
  }
}

}  // namespace switchsim::fuzz
