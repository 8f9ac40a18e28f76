#pragma once
// Paths of the hand-made result fixtures (tests/reports/fixtures/).
#include <string>

inline std::string fixture(const std::string& name) {
  return std::string(SWITCHSIM_SOURCE_DIR) + "/tests/reports/fixtures/" + name;
}
