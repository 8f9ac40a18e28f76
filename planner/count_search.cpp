#include "planner/count_search.hpp"

#include "common/errors.hpp"

namespace switchsim::planner {

std::int64_t parse_count_search(const std::string& text, const std::string& field, const std::string& expected) {
  if (text == "auto") return kCountAuto;
  if (text == "all") return kCountEvery;
  const std::string msg = "must be " + expected + " (got '" + text + "')";
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(field, msg);
  }
  const std::int64_t n = std::stoll(text);
  if (n < 1) throw InputError(field, msg);
  return n;
}

std::string count_search_to_string(std::int64_t value) {
  return value == kCountAuto ? "auto" : value == kCountEvery ? "all" : std::to_string(value);
}

}  // namespace switchsim::planner
