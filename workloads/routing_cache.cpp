#include "workloads/routing_cache.hpp"

namespace switchsim::workloads {

std::shared_ptr<const RoutingCache::Counts> RoutingCache::counts(const std::string& key,
                                                                 const std::function<Counts()>& sample) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = tables_.find(key);
    if (it != tables_.end()) {
      ++hits_;
      return it->second;
    }
  }
  // Two threads missing the same key both sample it: the draws are deterministic, so they get
  // equal tables and either may be kept.
  auto table = std::make_shared<const Counts>(sample());
  const std::size_t bytes = table->size() * sizeof(std::uint32_t);
  std::lock_guard<std::mutex> lock(mutex_);
  ++samples_;
  auto it = tables_.find(key);
  if (it != tables_.end()) return it->second;
  if (bytes_ + bytes <= max_bytes_) {
    bytes_ += bytes;
    tables_.emplace(key, table);
  }
  return table;
}

std::int64_t RoutingCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
std::int64_t RoutingCache::samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return samples_;
}
std::size_t RoutingCache::stored_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

}  // namespace switchsim::workloads
