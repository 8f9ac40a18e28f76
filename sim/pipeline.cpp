#include "sim/pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::sim {

int pipeline_chunks(double largest_transfer_bytes, std::int32_t template_transfers) {
  if (!(largest_transfer_bytes > 0.0) || template_transfers <= 0) return 1;
  const double by_bytes = std::ceil(largest_transfer_bytes / kPipelineSlotBytes);
  const std::int64_t by_budget = std::max<std::int64_t>(1, kPipelineTransferBudget / template_transfers);
  const double k = std::min({by_bytes, static_cast<double>(kMaxPipelineChunks), static_cast<double>(by_budget)});
  return std::max(1, static_cast<int>(k));
}

void append_pipelined(const TransferGraph& tmpl, int chunks, TransferGraph& g) {
  const std::int32_t size = tmpl.size();
  // The template's dependencies, from its dependents lists.
  std::vector<std::vector<TransferId>> deps(static_cast<std::size_t>(size));
  for (TransferId t = 0; t < size; ++t) {
    for (const TransferId d : tmpl.dependents(t)) {
      SWITCHSIM_ASSERT(d > t, "pipeline template: a dependency must come before its dependent");
      deps[static_cast<std::size_t>(d)].push_back(t);
    }
  }
  g.reserve(static_cast<std::size_t>(g.size()) + static_cast<std::size_t>(size) * static_cast<std::size_t>(chunks));
  std::vector<TransferId> previous(static_cast<std::size_t>(size), -1);
  std::vector<TransferId> current(static_cast<std::size_t>(size), -1);
  std::vector<TransferId> wait;
  for (int k = 0; k < chunks; ++k) {
    for (TransferId u = 0; u < size; ++u) {
      const auto ui = static_cast<std::size_t>(u);
      wait.clear();
      for (const TransferId d : deps[ui]) wait.push_back(current[static_cast<std::size_t>(d)]);
      if (previous[ui] >= 0) wait.push_back(previous[ui]);
      current[ui] = g.add(tmpl.src(u), tmpl.dst(u), tmpl.bytes(u), wait, tmpl.step(u), /*streamed=*/k > 0);
    }
    previous.swap(current);
  }
}

}  // namespace switchsim::sim
