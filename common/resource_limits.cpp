#include "common/resource_limits.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace switchsim {

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0.0;
  return static_cast<double>(pages) * static_cast<double>(page);
}

void check_resources(const std::string& field, const ResourceEstimate& estimate, bool force, const std::string& faster) {
  if (force) return;
  const std::string& offer = faster.empty() ? estimate.faster : faster;
  const double memory_limit = 0.5 * physical_memory_bytes();
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  if (memory_limit > 0.0 && estimate.memory_bytes > memory_limit) {
    throw InputError(field, fmt::format("{} needs about {:.3g} GiB of memory, more than half of this machine's {:.3g} GiB "
                                        "({}use --force to run anyway)",
                                        estimate.what, estimate.memory_bytes / kGiB, 2.0 * memory_limit / kGiB,
                                        offer.empty() ? std::string() : "instead: " + offer + "; "));
  }
  if (estimate.cpu_s > kMaxCpuSeconds) {
    throw InputError(field, fmt::format("{} would take about {:.3g} hours of CPU time (limit {:.3g} h; {}use --force to "
                                        "run anyway)",
                                        estimate.what, estimate.cpu_s / 3600.0, kMaxCpuSeconds / 3600.0,
                                        offer.empty() ? std::string() : "instead: " + offer + "; "));
  }
}

}  // namespace switchsim
