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
        dags_(static_cast<std::size_t>(topo.num_vertices())),
        rows_(static_cast<std::size_t>(topo.num_vertices())),
        dag_once_(std::make_unique<std::once_flag[]>(static_cast<std::size_t>(topo.num_vertices()))),
        row_once_(std::make_unique<std::once_flag[]>(static_cast<std::size_t>(topo.num_vertices()))) {
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
    check(src, dst);
    if (src == dst) return {};
    const auto s = static_cast<std::size_t>(src);
    std::call_once(row_once_[s], [&] { rows_[s] = compute_row(src); });
    return rows_[s][static_cast<std::size_t>(dst)];
  }

  // Bulk API: walks the cached shortest-path DAG of `src` (a few kB per
  // source) instead of materializing and caching every Path.
  [[nodiscard]] std::int32_t path_count(VertexId src, VertexId dst) const override {
    check(src, dst);
    if (src == dst) return 0;
    std::int32_t count = 0;
    thread_local Path reversed;  // reused: no allocation per query
    reversed.clear();
    walk(src, dst, dag(src), reversed, [&](const Path&) { return ++count >= max_paths_; });
    return count;
  }

  void append_path(VertexId src, VertexId dst, std::int32_t choice, Path& out) const override {
    check(src, dst);
    SWITCHSIM_ASSERT(src != dst && choice >= 0 && choice < max_paths_, "router: no such path");
    std::int32_t index = 0;
    bool found = false;
    thread_local Path reversed;
    reversed.clear();
    walk(src, dst, dag(src), reversed, [&](const Path& p) {
      if (index++ == choice) {
        out.insert(out.end(), p.rbegin(), p.rend());
        found = true;
      }
      return found || index >= max_paths_;
    });
    SWITCHSIM_ASSERT(found, "router: path index beyond the ECMP set");
  }

 private:
  // Shortest-path DAG from one source: the tight in-links of every vertex (CSR).
  struct Dag {
    std::vector<std::int32_t> offsets;
    std::vector<LinkId> tight;
  };

  // Endpoints are devices or, for in-switch collectives (NVLS), switches.
  void check(VertexId src, VertexId dst) const {
    SWITCHSIM_ASSERT(src >= 0 && src < num_vertices_ && dst >= 0 && dst < num_vertices_, "router: not a vertex");
  }

  [[nodiscard]] const Dag& dag(VertexId src) const {
    const auto s = static_cast<std::size_t>(src);
    std::call_once(dag_once_[s], [&] { dags_[s] = compute_dag(src); });
    return dags_[s];
  }

  [[nodiscard]] Dag compute_dag(VertexId src) const {
    const auto n = static_cast<std::size_t>(num_vertices_);
    const Cost inf = std::numeric_limits<Cost>::max();
    std::vector<Cost> dist(n, inf);
    TransitFilter filter{&forwards_, src, &graph_};
    boost::filtered_graph<Graph, TransitFilter> g(graph_, filter);
    boost::dijkstra_shortest_paths(
        g, static_cast<std::size_t>(src),
        boost::distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, g)))
            .weight_map(boost::get(boost::edge_weight, g)));
    // A link u->v is tight when it lies on a shortest path from src.
    Dag dag;
    dag.offsets.assign(n + 1, 0);
    for (std::size_t v = 0; v < n; ++v) {
      for (LinkId id : in_links_[v]) {
        const Link& l = links_[static_cast<std::size_t>(id)];
        const auto u = static_cast<std::size_t>(l.src);
        if (dist[u] == inf || (l.src != src && forwards_[u] == 0)) continue;
        if (dist[u] + cost_[static_cast<std::size_t>(id)] == dist[v]) dag.tight.push_back(id);
      }
      dag.offsets[v + 1] = static_cast<std::int32_t>(dag.tight.size());
    }
    // From a device every device is reachable (finalize checks connectivity);
    // from a switch only what switches lead to (an NVSwitch reaches its own
    // node's GPUs: GPUs do not forward).
    for (VertexId d = 0; d < num_devices_ && src < num_devices_; ++d) {
      SWITCHSIM_ASSERT(d == src || dist[static_cast<std::size_t>(d)] != inf,
                       "router: destination unreachable (finalize checks connectivity)");
    }
    return dag;
  }

  [[nodiscard]] std::vector<std::vector<Path>> compute_row(VertexId src) const {
    const Dag& d = dag(src);
    std::vector<std::vector<Path>> row(static_cast<std::size_t>(num_vertices_));
    Path reversed;
    for (VertexId dst = 0; dst < num_vertices_; ++dst) {
      if (dst == src) continue;
      auto& out = row[static_cast<std::size_t>(dst)];
      walk(src, dst, d, reversed, [&](const Path& p) {
        out.emplace_back(p.rbegin(), p.rend());
        return static_cast<int>(out.size()) >= max_paths_;
      });
    }
    return row;
  }

  // Depth-first walk backwards from v to src over the DAG, in link order;
  // calls on_path(reversed path) for each path until it returns true.
  // Returns true when stopped.
  template <class OnPath>
  bool walk(VertexId src, VertexId v, const Dag& dag, Path& reversed, OnPath&& on_path) const {
    if (v == src) return on_path(reversed);
    const auto vi = static_cast<std::size_t>(v);
    for (auto i = dag.offsets[vi]; i < dag.offsets[vi + 1]; ++i) {
      const LinkId id = dag.tight[static_cast<std::size_t>(i)];
      reversed.push_back(id);
      const bool stop = walk(src, links_[static_cast<std::size_t>(id)].src, dag, reversed, on_path);
      reversed.pop_back();
      if (stop) return true;
    }
    return false;
  }

  std::int32_t num_devices_ = 0;
  std::int32_t num_vertices_ = 0;
  int max_paths_ = kMaxEcmpPaths;
  Graph graph_;
  std::vector<Link> links_;
  std::vector<Cost> cost_;
  std::vector<char> forwards_;
  std::vector<std::vector<LinkId>> in_links_;
  mutable std::vector<Dag> dags_;
  mutable std::vector<std::vector<std::vector<Path>>> rows_;
  std::unique_ptr<std::once_flag[]> dag_once_;
  std::unique_ptr<std::once_flag[]> row_once_;
};

}  // namespace

std::unique_ptr<Router> make_shortest_path_router(const Topology& topology, bool devices_forward, int max_paths) {
  return std::make_unique<ShortestPathRouter>(topology, devices_forward, max_paths);
}

}  // namespace switchsim::topology
