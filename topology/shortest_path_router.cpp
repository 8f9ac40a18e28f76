#include "topology/shortest_path_router.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/filtered_graph.hpp>

#include "common/errors.hpp"

namespace switchsim::topology {

namespace {

using Cost = std::int64_t;
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                    boost::property<boost::edge_weight_t, Cost, boost::property<boost::edge_index_t, LinkId>>>;
using Edge = boost::graph_traits<Graph>::edge_descriptor;

// Keeps the out-edges of vertices allowed to forward traffic (and of the source).
struct TransitFilter {
  const std::vector<char>* forwards = nullptr;
  VertexId source = 0;
  const Graph* graph = nullptr;
  bool operator()(const Edge& e) const {
    const auto u = static_cast<VertexId>(boost::source(e, *graph));
    return u == source || (*forwards)[static_cast<std::size_t>(u)] != 0;
  }
};

class ShortestPathRouter final : public Router {
 public:
  ShortestPathRouter(const Topology& topo, bool devices_forward, int max_paths)
      : num_devices_(topo.num_devices()),
        num_vertices_(topo.num_vertices()),
        max_paths_(max_paths),
        graph_(static_cast<std::size_t>(topo.num_vertices())),
        rows_(static_cast<std::size_t>(topo.num_devices())),
        once_(std::make_unique<std::once_flag[]>(static_cast<std::size_t>(topo.num_devices()))) {
    SWITCHSIM_ASSERT(max_paths >= 1, "ECMP cap must be >= 1");
    forwards_.resize(static_cast<std::size_t>(num_vertices_));
    for (VertexId v = 0; v < num_vertices_; ++v) {
      forwards_[static_cast<std::size_t>(v)] = (devices_forward || topo.vertex(v).kind != VertexKind::device) ? 1 : 0;
    }
    links_ = topo.links();
    cost_.resize(links_.size());
    in_links_.resize(static_cast<std::size_t>(num_vertices_));
    for (LinkId id = 0; id < static_cast<LinkId>(links_.size()); ++id) {
      const Link& l = links_[static_cast<std::size_t>(id)];
      cost_[static_cast<std::size_t>(id)] = static_cast<Cost>(std::llround(l.latency_s * 1e12)) + 1;
      boost::add_edge(static_cast<std::size_t>(l.src), static_cast<std::size_t>(l.dst),
                      boost::property<boost::edge_weight_t, Cost, boost::property<boost::edge_index_t, LinkId>>(
                          cost_[static_cast<std::size_t>(id)], id),
                      graph_);
      in_links_[static_cast<std::size_t>(l.dst)].push_back(id);
    }
  }

  [[nodiscard]] std::span<const Path> paths(VertexId src, VertexId dst) const override {
    SWITCHSIM_ASSERT(src >= 0 && src < num_devices_ && dst >= 0 && dst < num_devices_, "router: not a device");
    if (src == dst) return {};
    const auto s = static_cast<std::size_t>(src);
    std::call_once(once_[s], [&] { rows_[s] = compute_row(src); });
    return rows_[s][static_cast<std::size_t>(dst)];
  }

 private:
  [[nodiscard]] std::vector<std::vector<Path>> compute_row(VertexId src) const {
    const auto n = static_cast<std::size_t>(num_vertices_);
    std::vector<Cost> dist(n, std::numeric_limits<Cost>::max());
    TransitFilter filter{&forwards_, src, &graph_};
    boost::filtered_graph<Graph, TransitFilter> g(graph_, filter);
    boost::dijkstra_shortest_paths(
        g, static_cast<std::size_t>(src),
        boost::distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, g)))
            .weight_map(boost::get(boost::edge_weight, g)));

    // A link u->v is tight when it lies on a shortest path from src.
    auto tight = [&](LinkId id) {
      const Link& l = links_[static_cast<std::size_t>(id)];
      const auto u = static_cast<std::size_t>(l.src);
      if (dist[u] == std::numeric_limits<Cost>::max()) return false;
      if (l.src != src && forwards_[u] == 0) return false;
      return dist[u] + cost_[static_cast<std::size_t>(id)] == dist[static_cast<std::size_t>(l.dst)];
    };
    std::vector<std::vector<Path>> row(static_cast<std::size_t>(num_devices_));
    for (VertexId dst = 0; dst < num_devices_; ++dst) {
      if (dst == src) continue;
      SWITCHSIM_ASSERT(dist[static_cast<std::size_t>(dst)] != std::numeric_limits<Cost>::max(),
                       "router: destination unreachable (finalize checks connectivity)");
      auto& out = row[static_cast<std::size_t>(dst)];
      Path reversed;
      enumerate(src, dst, tight, reversed, out);
      for (Path& p : out) std::reverse(p.begin(), p.end());
    }
    return row;
  }

  // Depth-first walk backwards from v to src over tight links.
  template <class Tight>
  void enumerate(VertexId src, VertexId v, const Tight& tight, Path& reversed, std::vector<Path>& out) const {
    if (static_cast<int>(out.size()) >= max_paths_) return;
    if (v == src) {
      out.push_back(reversed);
      return;
    }
    for (LinkId id : in_links_[static_cast<std::size_t>(v)]) {
      if (!tight(id)) continue;
      reversed.push_back(id);
      enumerate(src, links_[static_cast<std::size_t>(id)].src, tight, reversed, out);
      reversed.pop_back();
      if (static_cast<int>(out.size()) >= max_paths_) return;
    }
  }

  std::int32_t num_devices_ = 0;
  std::int32_t num_vertices_ = 0;
  int max_paths_ = kMaxEcmpPaths;
  Graph graph_;
  std::vector<Link> links_;
  std::vector<Cost> cost_;
  std::vector<char> forwards_;
  std::vector<std::vector<LinkId>> in_links_;
  mutable std::vector<std::vector<std::vector<Path>>> rows_;
  std::unique_ptr<std::once_flag[]> once_;
};

}  // namespace

std::unique_ptr<Router> make_shortest_path_router(const Topology& topology, bool devices_forward, int max_paths) {
  return std::make_unique<ShortestPathRouter>(topology, devices_forward, max_paths);
}

}  // namespace switchsim::topology
