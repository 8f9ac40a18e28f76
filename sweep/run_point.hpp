#pragma once
// Runs one point of a sweep in this process (the same library calls as
// `switchsim simulate` and `switchsim capacity`) and returns its JSON line:
//   {"id": 3, "inputs": {...}, "result": {...}}          (the command's full result)
//   {"id": 4, "inputs": {...}, "error": {"field": "--layout", "message": "..."}}
// A bad combination is that point's error, never the sweep's.

#include "common/json_io.hpp"
#include "sweep/spec.hpp"

namespace switchsim::sweep {

struct PointOptions {
  bool force = false;  // run points above this machine's resource limits (common/resource_limits.hpp)
};

[[nodiscard]] json run_point(const Point& point, Command command, const PointOptions& options);

}  // namespace switchsim::sweep
