#include "workloads/routing_memo.hpp"

namespace switchsim::workloads {

bool RoutingMemo::memoizable(const RoutingOptions& ro) {
  return !ro.plan.per_token() && ro.spec.kind != RoutingKind::trace;
}

std::shared_ptr<const LayerRouting> RoutingMemo::get(const Key& key, const std::function<LayerRouting()>& compute) {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    const auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++hits_;
      return it->second;
    }
    ++misses_;
  }
  auto r = std::make_shared<const LayerRouting>(compute());
  std::size_t bytes = sizeof(Key) + sizeof(LayerRouting) + 64 + r->received.size() * sizeof(double);
  for (const sim::ByteMatrix& x : r->sent) {
    bytes += sizeof(sim::ByteMatrix) +
             static_cast<std::size_t>(sim::ByteMatrix::storage_bytes(x.n(), static_cast<double>(x.nonzeros())));
  }
  const std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;  // another thread stored the same result first
  if (bytes_ + bytes <= max_bytes_) {
    entries_.emplace(key, r);
    bytes_ += bytes;
  }
  return r;
}

std::int64_t RoutingMemo::hits() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

std::int64_t RoutingMemo::misses() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

std::shared_ptr<const LayerRouting> route_layer_memoized(RoutingMemo* memo, const Model& m, const Layout& layout,
                                                         std::int64_t G, std::int64_t groups, std::int64_t capacity,
                                                         const RoutingOptions& ro, std::uint64_t stream,
                                                         double bytes_per_token, bool uneven) {
  auto compute = [&] { return route_layer(m, layout, G, groups, capacity, ro, stream, bytes_per_token, uneven); };
  if (memo == nullptr || !RoutingMemo::memoizable(ro)) return std::make_shared<const LayerRouting>(compute());
  RoutingMemo::Key k;
  k.seed = ro.seed;
  k.stream = stream;
  k.experts = m.experts;
  k.top_k = m.top_k;
  k.ep = layout.ep;
  k.replicas = layout.replicas();
  k.group_tokens = G;
  k.groups = groups;
  k.capacity = capacity;
  k.mode = static_cast<int>(ro.mode);
  k.routing_kind = static_cast<int>(ro.spec.kind);
  k.routing_parameter = ro.spec.parameter;
  k.bytes_per_token = bytes_per_token;
  k.uneven = uneven;
  return memo->get(k, compute);
}

}  // namespace switchsim::workloads
