#include "sim/collective_footprint.hpp"

#include <algorithm>

namespace switchsim::sim {
namespace {

template <typename T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

NetworkFootprint network_footprint(const TransferGraph& graph, std::span<const topology::Link> links,
                                   const topology::Router& router, const NetworkOptions& options,
                                   std::int32_t devices) {
  NetworkFootprint f;
  std::vector<char> link_seen(links.size(), 0);
  topology::Path path;
  for (TransferId t = 0; t < graph.size(); ++t) {
    const auto src = graph.src(t);
    const auto dst = graph.dst(t);
    if (src == dst || graph.bytes(t) <= 0.0) continue;
    const std::int32_t k = router.path_count(src, dst);
    for (std::int32_t c = 0; c < k; ++c) {
      path.clear();
      router.append_path(src, dst, c, path);
      if (c == 0 && src < devices && transfer_latency(graph, t, links, path, options).posted) f.posters.push_back(src);
      for (const topology::LinkId l : path) {
        char& seen = link_seen[static_cast<std::size_t>(l)];
        if (seen == 0) {
          seen = 1;
          f.links.push_back(l);
        }
      }
    }
  }
  std::sort(f.links.begin(), f.links.end());
  sort_unique(f.posters);
  return f;
}

}  // namespace switchsim::sim
