#pragma once
// Facts about the machine and the time, for profiles.

#include <string>
#include <vector>

namespace switchsim::kernels {

// "model name" from /proc/cpuinfo ("unknown" when absent).
[[nodiscard]] std::string cpu_model_name();
// Current time in UTC, ISO 8601: "2026-11-28T14:03:12Z".
[[nodiscard]] std::string utc_timestamp();
// Median, and the 10th/90th percentiles (nearest rank) of `v` (not empty).
struct Percentiles {
  double p10 = 0.0;
  double median = 0.0;
  double p90 = 0.0;
};
[[nodiscard]] Percentiles percentiles(std::vector<double> v);

}  // namespace switchsim::kernels
