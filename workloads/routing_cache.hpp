#pragma once
// A memo of sampled routing counts, shared by the steps of one search (planner::recommend).
//
// route_layer (layer_routing.cpp) draws, for one MoE layer of one micro-batch, the expert counts
// of S x groups routing groups of G tokens from one generator seeded by (seed, stream), in source-
// major order. Those draws depend on (seed, stream, routing spec, experts, top_k, G, S x groups)
// and on nothing else: not on ep, the device mapping, the capacity factor or the mode, which only
// decide how the counts are aggregated afterwards (per ep index, clipped at the capacity). So the
// candidates of a search that share those numbers (ep variants, mappings, capacity factors, and
// the re-rank of a searched candidate) share one draw: the same counts, hence bit-identical steps.
//
// Thread-safe; what a key maps to never depends on which thread sampled it first. Bounded: once
// the stored tables reach max_bytes, further tables are sampled and returned but not kept.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchsim::workloads {

class RoutingCache {
 public:
  // groups x experts counts, in draw order (row g = the g-th group drawn).
  using Counts = std::vector<std::uint32_t>;

  explicit RoutingCache(std::size_t max_bytes = std::size_t{256} << 20) : max_bytes_(max_bytes) {}

  // The table stored under `key`, or sample() (called outside the lock) stored and returned.
  [[nodiscard]] std::shared_ptr<const Counts> counts(const std::string& key, const std::function<Counts()>& sample);

  [[nodiscard]] std::int64_t hits() const;
  [[nodiscard]] std::int64_t samples() const;
  [[nodiscard]] std::size_t stored_bytes() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Counts>> tables_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::int64_t hits_ = 0;
  std::int64_t samples_ = 0;
};

}  // namespace switchsim::workloads
