#include "sim/transfer_graph.hpp"

#include <cmath>
#include <numeric>

#include "common/errors.hpp"

namespace switchsim::sim {

TransferId TransferGraph::add(topology::VertexId src, topology::VertexId dst, double bytes,
                              std::span<const TransferId> depends_on, std::int32_t step, bool streamed) {
  SWITCHSIM_ASSERT(bytes >= 0.0 && std::isfinite(bytes), "transfer bytes must be finite and >= 0");
  const auto id = static_cast<TransferId>(src_.size());
  src_.push_back(src);
  dst_.push_back(dst);
  bytes_.push_back(bytes);
  step_.push_back(step);
  dep_count_.push_back(static_cast<std::int32_t>(depends_on.size()));
  streamed_.push_back(streamed ? 1 : 0);
  for (const TransferId d : depends_on) {
    SWITCHSIM_ASSERT(d >= 0 && d < id, "a transfer may depend only on earlier transfers");
    edges_.emplace_back(d, id);
  }
  built_ = false;
  return id;
}

void TransferGraph::reserve(std::size_t transfers, std::size_t dependencies) {
  src_.reserve(transfers);
  dst_.reserve(transfers);
  bytes_.reserve(transfers);
  step_.reserve(transfers);
  dep_count_.reserve(transfers);
  streamed_.reserve(transfers);
  edges_.reserve(dependencies);
}

double TransferGraph::total_bytes() const { return std::accumulate(bytes_.begin(), bytes_.end(), 0.0); }

void TransferGraph::build_dependents() const {
  dependents_offset_.assign(src_.size() + 1, 0);
  for (const auto& [dep, t] : edges_) ++dependents_offset_[static_cast<std::size_t>(dep) + 1];
  for (std::size_t i = 0; i < src_.size(); ++i) dependents_offset_[i + 1] += dependents_offset_[i];
  dependents_.resize(edges_.size());
  std::vector<std::int64_t> cursor(dependents_offset_.begin(), dependents_offset_.end() - 1);
  for (const auto& [dep, t] : edges_) dependents_[static_cast<std::size_t>(cursor[static_cast<std::size_t>(dep)]++)] = t;
  built_ = true;
}

std::span<const TransferId> TransferGraph::dependents(TransferId t) const {
  if (!built_) build_dependents();
  const auto b = dependents_offset_[static_cast<std::size_t>(t)];
  const auto e = dependents_offset_[static_cast<std::size_t>(t) + 1];
  return {dependents_.data() + b, static_cast<std::size_t>(e - b)};
}

}  // namespace switchsim::sim
