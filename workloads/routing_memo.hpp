#pragma once
// A memo of MoE layers' routing (layer_routing.hpp) shared by the steps of one search.
//
// route_layer is a pure function of its inputs: the seeded stream (seed, routing stream = the
// Switch layer's index in emission order), the model's E and k, the layout's ep and replicas, the
// group size G and groups per device, the capacity, the mode, the routing distribution, the bytes
// per token and whether the byte matrix is wanted. Nothing else of the layout enters it (the
// mapping, the pipeline stages, schedule, virtual stages and ZeRO stage do not), so the planner's
// candidates that differ only in those draw the same routing for the same seed; sampling it
// (k draws per token for top-k routing) was about a third of a dropless pipelined step's CPU.
// The memo returns the stored result: the same values, so the same steps, bit for bit.
//
// Not memoized (computed every time): per-token routing (node- or device-limited routing, the
// per-node dispatch: their plan depends on the device placement) and trace routing (the key would
// need the trace's contents). Thread-safe; two threads missing the same key both compute it and
// the first stored is kept (both are equal). Entries stop being stored once `max_bytes` of them
// are held (the results do not change, only the reuse).

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "workloads/layer_routing.hpp"

namespace switchsim::workloads {

class RoutingMemo {
 public:
  explicit RoutingMemo(std::size_t max_bytes = std::size_t{512} << 20) : max_bytes_(max_bytes) {}

  // Everything route_layer reads, for the memoizable (per-group) routing.
  struct Key {
    std::uint64_t seed = 0;
    std::uint64_t stream = 0;
    std::int64_t experts = 0, top_k = 0, ep = 0, replicas = 0;
    std::int64_t group_tokens = 0, groups = 0, capacity = 0;
    int mode = 0;
    int routing_kind = 0;
    double routing_parameter = 0.0;
    double bytes_per_token = 0.0;
    bool uneven = false;
    auto operator<=>(const Key&) const = default;
  };

  // Whether route_layer's result for these options may be memoized (see above).
  [[nodiscard]] static bool memoizable(const RoutingOptions& ro);

  // The stored routing of `key`, or compute() stored (while under the byte budget) and returned.
  [[nodiscard]] std::shared_ptr<const LayerRouting> get(const Key& key, const std::function<LayerRouting()>& compute);

  [[nodiscard]] std::int64_t hits() const;
  [[nodiscard]] std::int64_t misses() const;

 private:
  mutable std::mutex mu_;
  std::map<Key, std::shared_ptr<const LayerRouting>> entries_;
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  std::int64_t hits_ = 0, misses_ = 0;
};

// route_layer through `memo` when given and the routing is memoizable; else route_layer itself.
[[nodiscard]] std::shared_ptr<const LayerRouting> route_layer_memoized(
    RoutingMemo* memo, const Model& m, const Layout& layout, std::int64_t G, std::int64_t groups,
    std::int64_t capacity, const RoutingOptions& ro, std::uint64_t stream, double bytes_per_token, bool uneven);

}  // namespace switchsim::workloads
