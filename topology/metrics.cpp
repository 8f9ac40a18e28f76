#include "topology/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/push_relabel_max_flow.hpp>

#include "common/errors.hpp"

namespace switchsim::topology {

HopStats torus_hop_stats(const MeshStructure& s) {
  SWITCHSIM_ASSERT(s.family == MeshFamily::torus, "torus_hop_stats on a non-torus");
  double chips = 1.0;
  double mean_ici = 0.0;
  int diameter = 0;
  for (std::size_t d = 0; d < s.dims.size(); ++d) {
    const auto n = static_cast<long long>(s.dims[d]);
    chips *= static_cast<double>(n);
    if (s.wraparound[d]) {
      mean_ici += static_cast<double>(n * n / 4) / static_cast<double>(n);
      diameter += static_cast<int>(n / 2);
    } else {
      mean_ici += static_cast<double>(n * n - 1) / (3.0 * static_cast<double>(n));
      diameter += static_cast<int>(n - 1);
    }
  }
  const double devices = chips * s.cores_per_chip;
  HopStats h;
  if (devices < 2.0) return h;
  const bool cores = s.cores_per_chip > 1;
  h.diameter_hops = diameter + (cores ? 2 : 0);
  h.average_hops = devices * mean_ici / (devices - 1.0) + (cores ? 2.0 : 0.0);
  return h;
}

double torus_bisection_Bps(const Mesh& mesh) {
  const MeshStructure& s = mesh.structure;
  SWITCHSIM_ASSERT(s.family == MeshFamily::torus, "torus_bisection_Bps on a non-torus");
  const Topology& topo = mesh.topology;
  // Line rates from the built links (uniform per kind in a torus).
  double ici_Bps = 0.0;
  double on_chip_Bps = 0.0;
  for (const Link& l : topo.links()) {
    (l.kind == LinkKind::ici ? ici_Bps : on_chip_Bps) = l.bandwidth_Bps;
  }
  long long chips = 1;
  for (int n : s.dims) chips *= n;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t d = 0; d < s.dims.size(); ++d) {
    const int n = s.dims[d];
    if (n < 2) continue;
    const double crossing = static_cast<double>(chips / n) * (s.wraparound[d] ? 2.0 : 1.0);
    best = std::min(best, crossing * ici_Bps);
  }
  if (std::isinf(best)) {  // a single chip
    return static_cast<double>(s.cores_per_chip / 2) * on_chip_Bps;
  }
  return best;
}

HopStats routed_hop_stats(const Mesh& mesh) {
  const VertexId n = mesh.topology.num_devices();
  HopStats h;
  if (n < 2) return h;
  double total = 0.0;
  Path p;
  for (VertexId s = 0; s < n; ++s) {
    for (VertexId d = 0; d < n; ++d) {
      if (s == d) continue;
      p.clear();
      mesh.router->append_path(s, d, 0, p);
      const auto hops = static_cast<int>(p.size());
      total += hops;
      h.diameter_hops = std::max(h.diameter_hops, hops);
    }
  }
  h.average_hops = total / (static_cast<double>(n) * static_cast<double>(n - 1));
  return h;
}

double max_flow_Bps(const Topology& topo, const std::vector<VertexId>& side_s) {
  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using Graph = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::directedS, boost::no_property,
      boost::property<boost::edge_capacity_t, std::int64_t,
                      boost::property<boost::edge_residual_capacity_t, std::int64_t,
                                      boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  const auto nv = static_cast<std::size_t>(topo.num_vertices());
  Graph g(nv + 2);
  const std::size_t source = nv;
  const std::size_t sink = nv + 1;
  auto capacity = boost::get(boost::edge_capacity, g);
  auto reverse = boost::get(boost::edge_reverse, g);
  auto add = [&](std::size_t u, std::size_t v, std::int64_t c) {
    const auto e = boost::add_edge(u, v, g).first;
    const auto r = boost::add_edge(v, u, g).first;
    capacity[e] = c;
    capacity[r] = 0;
    reverse[e] = r;
    reverse[r] = e;
  };
  // Capacities in whole bytes/s (exact integer arithmetic in the solver).
  std::int64_t total = 1;
  for (const Link& l : topo.links()) {
    const auto c = static_cast<std::int64_t>(std::llround(l.bandwidth_Bps));
    total += c;
    add(static_cast<std::size_t>(l.src), static_cast<std::size_t>(l.dst), c);
  }
  std::vector<char> in_s(nv, 0);
  for (VertexId v : side_s) {
    SWITCHSIM_ASSERT(v >= 0 && v < topo.num_devices(), "cut side must hold devices");
    in_s[static_cast<std::size_t>(v)] = 1;
  }
  for (VertexId v = 0; v < topo.num_devices(); ++v) {
    if (in_s[static_cast<std::size_t>(v)] != 0) {
      add(source, static_cast<std::size_t>(v), total);
    } else {
      add(static_cast<std::size_t>(v), sink, total);
    }
  }
  return static_cast<double>(boost::push_relabel_max_flow(g, source, sink));
}

std::vector<std::vector<VertexId>> bisection_cuts(const Mesh& mesh) {
  const MeshStructure& s = mesh.structure;
  const VertexId n = mesh.topology.num_devices();
  std::vector<std::vector<VertexId>> cuts;
  if (n < 2) return cuts;
  if (s.family == MeshFamily::torus) {
    for (std::size_t d = 0; d < s.dims.size(); ++d) {
      if (s.dims[d] < 2) continue;
      std::vector<VertexId> side;
      for (VertexId v = 0; v < n; ++v) {
        if (mesh.torus_coordinates(v)[d] < s.dims[d] / 2) side.push_back(v);
      }
      cuts.push_back(std::move(side));
    }
    if (cuts.empty()) {  // one chip: half of its cores
      std::vector<VertexId> side;
      for (VertexId v = 0; v < n / 2; ++v) side.push_back(v);
      cuts.push_back(std::move(side));
    }
    return cuts;
  }
  std::vector<VertexId> side;
  if (s.family == MeshFamily::gpu_cluster && s.nodes > 1) {
    for (VertexId v = 0; v < n; ++v) {
      if (mesh.node_of(v) < s.nodes / 2) side.push_back(v);
    }
  } else {
    for (VertexId v = 0; v < n / 2; ++v) side.push_back(v);
  }
  cuts.push_back(std::move(side));
  return cuts;
}

double bisection_max_flow_Bps(const Mesh& mesh) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& side : bisection_cuts(mesh)) best = std::min(best, max_flow_Bps(mesh.topology, side));
  return std::isinf(best) ? 0.0 : best;
}

MeshMetrics compute_metrics(const Mesh& mesh) {
  MeshMetrics m;
  m.devices = mesh.topology.num_devices();
  m.switches = mesh.topology.num_switches();
  m.links = mesh.topology.num_links();
  if (mesh.structure.family == MeshFamily::torus) {
    m.hops = torus_hop_stats(mesh.structure);
    m.hops_method = "closed_form_torus";
    m.bisection_bandwidth_Bps = torus_bisection_Bps(mesh);
    m.bisection_method = "closed_form_torus";
  } else {
    m.hops = routed_hop_stats(mesh);
    m.hops_method = "routed_paths";
    m.bisection_bandwidth_Bps = bisection_max_flow_Bps(mesh);
    m.bisection_method = "max_flow";
  }
  return m;
}

}  // namespace switchsim::topology
