#pragma once
// Test helpers for workloads: the field an InputError names.
#include <functional>
#include <string>

#include "common/errors.hpp"

namespace switchsim::workloads::test {

// Runs f and returns the field of the InputError it throws, or "(no error)".
inline std::string field_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const switchsim::InputError& e) {
    return e.field();
  }
  return "(no error)";
}

}  // namespace switchsim::workloads::test
