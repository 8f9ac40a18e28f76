#pragma once
// Temporary folders that do not outlive their command, even when it is
// interrupted. A TempDir is removed (with its contents) by its destructor; and
// while it exists its path is registered with a handler for the terminating
// signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) that removes it and then lets the
// signal kill the process as it would have (exit status 128 + signal).
//
// The handler only uses async-signal-safe system calls (openat, getdents64,
// unlinkat, close, sigaction, raise) on paths copied into fixed static slots.
// It is installed at each registration, only for signals whose disposition is
// still the default (a signal the user ignores, e.g. SIGHUP
// under nohup, stays ignored). At most kMaxTempRegistrations folders are
// registered at once; more than that throws (a bug, not bad input).

#include <filesystem>
#include <string>

namespace switchsim {

inline constexpr int kMaxTempRegistrations = 16;

// Registers `path` for removal on a terminating signal; returns the slot.
[[nodiscard]] int register_temp_path(const std::filesystem::path& path);
// Forgets the registration (the owner removes the path itself).
void unregister_temp_path(int slot) noexcept;

// A temporary folder `<parent>/<prefix>XXXXXX`, removed with its contents when
// the object goes away or a terminating signal arrives.
class TempDir {
 public:
  // Throws InputError("--out", ...) when the folder cannot be created.
  TempDir(const std::filesystem::path& parent, const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  // Keeps the folder (after it was renamed into place) and drops the registration.
  void release() noexcept;

 private:
  std::filesystem::path path_;
  int slot_ = -1;
};

}  // namespace switchsim
