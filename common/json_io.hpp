#pragma once
// JSON is an API (STYLE.md): every result carries `schema_version` and
// provenance, doubles are written so they read back exactly (nlohmann_json
// prints the shortest round-trip form, independent of the C locale), and NaN
// or infinity are written as null.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace switchsim {

using json = nlohmann::ordered_json;

// Version of every JSON result schema switchsim writes. Bump on breaking change.
inline constexpr int kSchemaVersion = 1;

// {"tool": "switchsim", "version": "...", ...}: attached to every result.
[[nodiscard]] json provenance();

// Reads and parses a JSON file. Errors name the file (and the parse position):
// InputError(field, ...), with `field` the flag or key that named the file.
[[nodiscard]] json read_json_file(const std::filesystem::path& path, const std::string& field);

// Typed accessors that turn a wrong or missing field into an InputError naming
// `where.key` (for example "mesh.links[3].bandwidth_Bps").
[[nodiscard]] const json& require(const json& obj, const std::string& key, const std::string& where);
[[nodiscard]] double require_number(const json& obj, const std::string& key, const std::string& where);
[[nodiscard]] double require_positive(const json& obj, const std::string& key, const std::string& where);
[[nodiscard]] long long require_integer(const json& obj, const std::string& key, const std::string& where);
[[nodiscard]] std::string require_string(const json& obj, const std::string& key, const std::string& where);

// Pretty JSON text with a trailing newline.
[[nodiscard]] std::string dump_json(const json& j);

}  // namespace switchsim
