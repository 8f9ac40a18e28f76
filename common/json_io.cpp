#include "common/json_io.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "common/version.hpp"

namespace switchsim {

json provenance() {
  json p;
  p["tool"] = "switchsim";
  p["version"] = kVersion;
  return p;
}

json read_json_file(const std::filesystem::path& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(field, "cannot open '" + path.string() + "'");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    throw InputError(field, "'" + path.string() + "' is not valid JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::out_of_range& e) {
    // A number too large for a double (1e400) is out_of_range 406, not a parse_error.
    throw InputError(field, "'" + path.string() + "' has a number out of range (" + e.what() + ")");
  }
}

const json& require(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.is_object()) {
    throw InputError(where, "must be a JSON object");
  }
  auto it = obj.find(key);
  if (it == obj.end()) {
    throw InputError(where + "." + key, "missing");
  }
  return *it;
}

double require_number(const json& obj, const std::string& key, const std::string& where) {
  const json& v = require(obj, key, where);
  if (!v.is_number()) {
    throw InputError(where + "." + key, "must be a number");
  }
  const double x = v.get<double>();
  if (!std::isfinite(x)) {
    throw InputError(where + "." + key, "must be finite");
  }
  return x;
}

double require_positive(const json& obj, const std::string& key, const std::string& where) {
  const double x = require_number(obj, key, where);
  if (!(x > 0.0)) {
    throw InputError(where + "." + key, "must be positive (got " + require(obj, key, where).dump() + ")");
  }
  return x;
}

long long require_integer(const json& obj, const std::string& key, const std::string& where) {
  const json& v = require(obj, key, where);
  if (!v.is_number_integer()) {
    throw InputError(where + "." + key, "must be an integer");
  }
  return v.get<long long>();
}

std::string require_string(const json& obj, const std::string& key, const std::string& where) {
  const json& v = require(obj, key, where);
  if (!v.is_string()) {
    throw InputError(where + "." + key, "must be a string");
  }
  return v.get<std::string>();
}

std::string dump_json(const json& j) {
  // error_handler::replace: invalid UTF-8 never throws while writing output.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace switchsim
