#pragma once
// Refusing requests too large for this machine, up front (issue 7). A command
// estimates what a request will cost before it starts the expensive part and
// calls check_resources(); beyond the limits it stops with one line that gives
// the estimate and names the override flag (`--force`), instead of running
// until memory runs out or for days.
//
// Limits: memory estimate above half of this machine's physical memory, or a
// CPU-time estimate above kMaxCpuSeconds (one hour).

#include <string>

namespace switchsim {

inline constexpr double kMaxCpuSeconds = 3600.0;

struct ResourceEstimate {
  std::string what;           // "an all-to-all over 980000 devices (9.6e11 flows)"
  double memory_bytes = 0.0;  // peak memory the run would need
  double cpu_s = 0.0;         // CPU time it would take
  std::string faster;         // faster approximations of what dominates it (offered when check_resources's is empty)
};

// Physical memory of this machine in bytes (sysconf); 0 when unknown.
[[nodiscard]] double physical_memory_bytes();

// Throws InputError(field, "<what> needs about X GiB / Y h ... [instead: <faster>;] (use --force to run anyway)")
// when `estimate` exceeds a limit and `force` is false.
// `faster` (when not empty) names faster approximations; the CPU-limit message offers them.
void check_resources(const std::string& field, const ResourceEstimate& estimate, bool force,
                     const std::string& faster = {});

}  // namespace switchsim
