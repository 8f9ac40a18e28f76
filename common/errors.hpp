#pragma once
// Two failure paths (STYLE.md): a user's bad input is data and travels as an
// InputError that main() turns into one line on stderr and exit status 2; a
// broken invariant inside the engine is a bug and stops with SWITCHSIM_ASSERT.

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace switchsim {

// Bad input from the user: a flag, a file, a name. `field` names what was wrong
// ("--bytes", "mesh.links[3].bandwidth_Bps"), `reason` says why.
class InputError : public std::runtime_error {
 public:
  InputError(std::string field, std::string reason)
      : std::runtime_error(field + ": " + reason), field_(std::move(field)), reason_(std::move(reason)) {}
  [[nodiscard]] const std::string& field() const noexcept { return field_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string field_;
  std::string reason_;
};

// A request that is valid but cannot be satisfied here (no CUDA device, a
// simulation too large for this machine). Also exit status 2 at the CLI.
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void assertion_failed(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "switchsim: internal error: %s:%d: assertion `%s` failed%s%s\n", file, line, expr,
               msg[0] ? ": " : "", msg);
  std::abort();
}

}  // namespace switchsim

// Checks an engine invariant in every build type; a failure is a bug.
#define SWITCHSIM_ASSERT(expr, msg) \
  ((expr) ? (void)0 : ::switchsim::assertion_failed(#expr, __FILE__, __LINE__, msg))
