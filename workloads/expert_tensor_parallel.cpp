#include "workloads/expert_tensor_parallel.hpp"

#include <string>

#include "common/errors.hpp"

namespace switchsim::workloads {

RouteSplit split_groups(std::int64_t groups, std::int64_t group_tokens, std::int64_t slices) {
  if (slices > 1 && groups % slices == 0) return RouteSplit{0, groups / slices, group_tokens};
  if (slices > 1 && group_tokens % slices == 0) return RouteSplit{0, groups, group_tokens / slices};
  return RouteSplit{0, groups, group_tokens};
}

RouteSplit split_routing(std::int64_t tokens, std::int64_t groups, std::int64_t group_tokens, std::int64_t slices) {
  if (slices <= 1) return RouteSplit{tokens, groups, group_tokens};
  RouteSplit rs = split_groups(groups, group_tokens, slices);
  if (tokens % slices == 0 && (rs.groups != groups || rs.group_tokens != group_tokens)) {
    rs.tokens = tokens / slices;
    return rs;
  }
  throw InputError("--layout.etp", "tp / etp = " + std::to_string(slices) + " token slices do not split the " +
                                       std::to_string(tokens) + " tokens per device in " + std::to_string(groups) +
                                       " routing groups of " + std::to_string(group_tokens) +
                                       " (choose --group-tokens so that they do)");
}

}  // namespace switchsim::workloads
