#include "workloads/expert_tensor_parallel.hpp"

#include <string>

#include "common/errors.hpp"

namespace switchsim::workloads {

RouteSplit split_routing(std::int64_t tokens, std::int64_t groups, std::int64_t group_tokens, std::int64_t slices) {
  if (slices <= 1) return RouteSplit{tokens, groups, group_tokens};
  if (tokens % slices == 0) {
    if (groups % slices == 0) return RouteSplit{tokens / slices, groups / slices, group_tokens};
    if (group_tokens % slices == 0) return RouteSplit{tokens / slices, groups, group_tokens / slices};
  }
  throw InputError("--layout.etp", "tp / etp = " + std::to_string(slices) + " token slices do not split the " +
                                       std::to_string(tokens) + " tokens per device in " + std::to_string(groups) +
                                       " routing groups of " + std::to_string(group_tokens) +
                                       " (choose --group-tokens so that they do)");
}

}  // namespace switchsim::workloads
