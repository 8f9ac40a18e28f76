#include "sim/collective.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/errors.hpp"
#include "sim/collective_algorithms.hpp"
#include "sim/gpu_collectives.hpp"
#include "sim/participants.hpp"
#include "sim/plan_estimate.hpp"
#include "sim/transfer_graph.hpp"

namespace switchsim::sim {

const char* to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::all_to_all: return "all-to-all";
    case CollectiveOp::all_reduce: return "all-reduce";
    case CollectiveOp::all_gather: return "all-gather";
    case CollectiveOp::reduce_scatter: return "reduce-scatter";
  }
  return "?";
}

const char* to_string(CollectiveAlgorithm algorithm) {
  switch (algorithm) {
    case CollectiveAlgorithm::automatic: return "auto";
    case CollectiveAlgorithm::direct: return "direct";
    case CollectiveAlgorithm::pairwise: return "pairwise";
    case CollectiveAlgorithm::hierarchical: return "hierarchical";
    case CollectiveAlgorithm::torus_dims: return "torus-dims";
    case CollectiveAlgorithm::ring: return "ring";
    case CollectiveAlgorithm::torus_2d: return "torus-2d";
    case CollectiveAlgorithm::tree: return "tree";
    case CollectiveAlgorithm::ring_channels: return "ring-channels";
    case CollectiveAlgorithm::bidir_ring: return "bidir-ring";
    case CollectiveAlgorithm::torus_2d_bidir: return "torus-2d-bidir";
    case CollectiveAlgorithm::double_tree: return "double-tree";
    case CollectiveAlgorithm::nvls: return "nvls";
    case CollectiveAlgorithm::torus_nd_bidir: return "torus-nd-bidir";
  }
  return "?";
}

CollectiveOp parse_collective_op(const std::string& text) {
  for (auto op : {CollectiveOp::all_to_all, CollectiveOp::all_reduce, CollectiveOp::all_gather,
                  CollectiveOp::reduce_scatter}) {
    if (text == to_string(op)) return op;
  }
  throw InputError("--op", "unknown collective '" + text + "' (all-to-all, all-reduce, all-gather, reduce-scatter)");
}

CollectiveAlgorithm parse_collective_algorithm(const std::string& text) {
  if (text == "automatic") return CollectiveAlgorithm::automatic;
  for (auto a : {CollectiveAlgorithm::automatic, CollectiveAlgorithm::direct, CollectiveAlgorithm::pairwise,
                 CollectiveAlgorithm::hierarchical, CollectiveAlgorithm::torus_dims, CollectiveAlgorithm::ring,
                 CollectiveAlgorithm::torus_2d, CollectiveAlgorithm::tree, CollectiveAlgorithm::ring_channels,
                 CollectiveAlgorithm::bidir_ring, CollectiveAlgorithm::torus_2d_bidir, CollectiveAlgorithm::double_tree,
                 CollectiveAlgorithm::nvls, CollectiveAlgorithm::torus_nd_bidir}) {
    if (text == to_string(a)) return a;
  }
  throw InputError("--algorithm", "unknown algorithm '" + text +
                                      "' (auto, direct, pairwise, hierarchical, torus-dims, ring, torus-2d, tree, "
                                      "ring-channels, bidir-ring, torus-2d-bidir, torus-nd-bidir, double-tree, nvls)");
}

void accumulate_all_to_all_load(const topology::Mesh& mesh, const ByteMatrix& matrix,
                                std::span<const topology::VertexId> devices, const NetworkOptions& network,
                                AllToAllLinkLoad& load) {
  const auto links = mesh.topology.links();
  if (load.bytes.size() != links.size()) load.bytes.assign(links.size(), 0.0);
  topology::Path path;
  const auto n = static_cast<std::int32_t>(devices.size());
  for (std::int32_t i = 0; i < n; ++i) {
    double posted = 0.0;  // posting: one overhead per message, in sequence (shared_network.hpp)
    for (const ByteMatrix::Entry& e : matrix.row(i)) {
      const std::int32_t j = e.col;
      const double b = e.bytes;
      if (i == j || b <= 0.0) continue;
      const topology::VertexId src = devices[static_cast<std::size_t>(i)];
      const topology::VertexId dst = devices[static_cast<std::size_t>(j)];
      if (src == dst) continue;
      const std::int32_t k = mesh.router->path_count(src, dst);
      SWITCHSIM_ASSERT(k > 0, "router gave no path between two devices");
      const double share = b / static_cast<double>(k);
      for (std::int32_t c = 0; c < k; ++c) {
        path.clear();
        mesh.router->append_path(src, dst, c, path);
        for (const auto l : path) load.bytes[static_cast<std::size_t>(l)] += share;
        const double overhead = path_overhead_s(links, path, network);
        const double hops = path_hops_s(links, path);
        load.latency_s = std::max(load.latency_s, overhead + hops);
        if (c == 0) {
          posted += overhead;
          load.posting_floor_s = std::max(load.posting_floor_s, posted + hops);
        }
        ++load.flows;
      }
    }
  }
}

double load_model_drain_s(const topology::Mesh& mesh, const AllToAllLinkLoad& load) {
  const auto links = mesh.topology.links();
  double drain = 0.0;
  for (std::size_t l = 0; l < load.bytes.size(); ++l) {
    if (load.bytes[l] > 0.0) drain = std::max(drain, load.bytes[l] / (links[l].bandwidth_Bps * links[l].efficiency));
  }
  return drain;
}

double load_model_time_s(const topology::Mesh& mesh, const AllToAllLinkLoad& load) {
  if (load.flows == 0) return 0.0;
  return std::max(load_model_drain_s(mesh, load) + load.latency_s, load.posting_floor_s);
}

namespace {

using topology::VertexId;

// The participants as a product grid over (core, torus dims), or nothing.
std::optional<ParticipantGrid> torus_grid(const topology::Mesh& mesh, std::span<const VertexId> devices) {
  if (mesh.structure.family != topology::MeshFamily::torus) return std::nullopt;
  const auto n = devices.size();
  const bool cores = mesh.structure.cores_per_chip > 1;
  // Raw coordinates: [core,] x0, x1, ...
  std::vector<std::vector<int>> raw(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (cores) raw[i].push_back(mesh.core_index(devices[i]));
    const auto c = mesh.torus_coordinates(devices[i]);
    raw[i].insert(raw[i].end(), c.begin(), c.end());
  }
  const std::size_t D = raw.empty() ? 0 : raw[0].size();
  // Distinct values per dimension; drop dimensions with a single value.
  ParticipantGrid grid;
  std::vector<std::vector<int>> values(D);
  for (std::size_t k = 0; k < D; ++k) {
    for (std::size_t i = 0; i < n; ++i) values[k].push_back(raw[i][k]);
    std::sort(values[k].begin(), values[k].end());
    values[k].erase(std::unique(values[k].begin(), values[k].end()), values[k].end());
  }
  std::vector<std::size_t> kept;
  std::int64_t product = 1;
  int row_dims = 0;
  for (std::size_t k = 0; k < D; ++k) {
    if (values[k].size() <= 1) continue;
    kept.push_back(k);
    grid.sizes.push_back(static_cast<int>(values[k].size()));
    product *= static_cast<std::int64_t>(values[k].size());
    // Rows: the core dimension and the first torus dimension.
    if (k < (cores ? 2u : 1u)) ++row_dims;
  }
  if (product != static_cast<std::int64_t>(n)) return std::nullopt;
  grid.row_dims = std::max(row_dims, 1);
  grid.at.assign(n, -1);
  grid.coords.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (const std::size_t k : kept) {
      const auto pos = std::lower_bound(values[k].begin(), values[k].end(), raw[i][k]) - values[k].begin();
      grid.coords[i].push_back(static_cast<int>(pos));
    }
    const auto lin = static_cast<std::size_t>(grid.linear(grid.coords[i]));
    if (grid.at[lin] != -1) return std::nullopt;
    grid.at[lin] = static_cast<std::int32_t>(i);
  }
  return grid;
}

[[noreturn]] void not_applicable(CollectiveAlgorithm a, CollectiveOp op, const std::string& why) {
  throw InputError("--algorithm", std::string(to_string(a)) + " does not apply to " + to_string(op) + ": " + why);
}

double bus_factor(CollectiveOp op, std::int32_t n) {
  if (n <= 1) return 0.0;
  const double f = static_cast<double>(n - 1) / static_cast<double>(n);
  return op == CollectiveOp::all_reduce ? 2.0 * f : f;
}

// The per-link load model of a direct all-to-all (collective.hpp).
CollectiveResult load_model_all_to_all(const topology::Mesh& mesh, const ByteMatrix& matrix,
                                       const std::vector<VertexId>& devices, double bytes, const NetworkOptions& network,
                                       std::chrono::steady_clock::time_point wall_start) {
  AllToAllLinkLoad load;
  accumulate_all_to_all_load(mesh, matrix, devices, network, load);
  const auto n = static_cast<std::int32_t>(devices.size());
  CollectiveResult result;
  result.op = CollectiveOp::all_to_all;
  result.algorithm = CollectiveAlgorithm::direct;
  result.devices = n;
  result.bytes_per_device = bytes;
  if (load.flows > 0) {
    result.time_s = load_model_time_s(mesh, load);
    result.drain_classes.push_back(DrainClass{load.latency_s, load_model_drain_s(mesh, load)});
    result.posting_floor_s = load.posting_floor_s;
  }
  result.algbw_Bps = result.time_s > 0.0 ? bytes / result.time_s : 0.0;
  result.busbw_Bps = result.algbw_Bps * bus_factor(CollectiveOp::all_to_all, n);
  result.flows = load.flows;
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

// One candidate of a choice: an algorithm, and NCCL's protocol for it (GPU collectives).
struct Candidate {
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic;
  std::optional<NcclProtocol> protocol;
};

// The NCCL algorithm whose latencies a GPU collective pays (nccl_protocol.hpp).
NcclAlgorithm nccl_algorithm_of(CollectiveAlgorithm a, int nodes) {
  switch (a) {
    case CollectiveAlgorithm::double_tree:
    case CollectiveAlgorithm::tree: return NcclAlgorithm::tree;
    case CollectiveAlgorithm::nvls: return nodes > 1 ? NcclAlgorithm::nvls_tree : NcclAlgorithm::nvls;
    default: return NcclAlgorithm::ring;
  }
}

// The fastest candidate into `plan` (algorithm, protocol, transfers, and the
// times of its simulation alone when it was simulated). Every candidate is
// simulated alone when the largest has at most kChooseBySimulationTransfers
// transfers (exact under this model), else the smallest estimate wins
// (plan_estimate.hpp); ties: the earlier candidate. Graphs are generated one
// at a time and only the best is kept (a 512-GPU ring over 8 channels has
// millions of transfers), so large candidates are generated twice.
template <class Generate>
void choose_fastest(const topology::Mesh& mesh, const CollectiveRequest& request,
                    const std::vector<Candidate>& candidates, Generate&& generate_as, CollectivePlan& plan) {
  SWITCHSIM_ASSERT(!candidates.empty(), "a choice needs a candidate");
  if (candidates.size() == 1) {
    plan.algorithm = candidates[0].algorithm;
    plan.protocol = candidates[0].protocol;
    generate_as(candidates[0].algorithm, candidates[0].protocol, plan.transfers);
    return;
  }
  std::vector<std::optional<TransferGraph>> kept(candidates.size());
  std::int64_t largest = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    TransferGraph g;
    generate_as(candidates[i].algorithm, candidates[i].protocol, g);
    largest = std::max<std::int64_t>(largest, g.size());
    if (g.size() <= kChooseBySimulationTransfers) kept[i] = std::move(g);
  }
  const bool simulate = largest <= kChooseBySimulationTransfers;
  double best = std::numeric_limits<double>::infinity();
  std::optional<TransferTimes> best_times;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    TransferGraph g;
    if (kept[i]) {
      g = std::move(*kept[i]);
      kept[i].reset();
    } else {
      generate_as(candidates[i].algorithm, candidates[i].protocol, g);
    }
    double t = 0.0;
    std::optional<TransferTimes> times;
    if (simulate) {
      times = simulate_transfers(g, mesh.topology.links(), *mesh.router, request.network, mesh.topology.num_devices());
      t = times->makespan_s;
    } else {
      t = estimate_transfers(g, mesh.topology.links(), *mesh.router, request.network).time_s();
    }
    if (t < best) {
      best = t;
      plan.algorithm = candidates[i].algorithm;
      plan.protocol = candidates[i].protocol;
      plan.transfers = std::move(g);
      best_times = std::move(times);
    }
  }
  if (!request.record_trace) plan.alone = std::move(best_times);  // simulate_collective need not run it again
}

}  // namespace

CollectiveResult simulate_collective(const topology::Mesh& mesh, const CollectiveRequest& request) {
  return simulate_collective(mesh, request, request.matrix ? &*request.matrix : nullptr);
}

CollectivePlan plan_collective(const topology::Mesh& mesh, const CollectiveRequest& request,
                               const ByteMatrix* given) {
  SWITCHSIM_ASSERT(given == nullptr || !request.matrix || given == &*request.matrix,
                   "a matrix both in the request and by pointer");
  const std::int32_t num_devices = mesh.topology.num_devices();
  std::vector<VertexId> devices = request.participants;
  if (devices.empty()) {
    devices.resize(static_cast<std::size_t>(num_devices));
    std::iota(devices.begin(), devices.end(), 0);
  }
  validate_participants(devices, num_devices);
  const auto n = static_cast<std::int32_t>(devices.size());
  const CollectiveOp op = request.op;

  check_completion_window(request.network);

  // Bytes.
  double bytes = request.bytes_per_device;
  if (!std::isfinite(bytes) || bytes < 0.0 || (bytes == 0.0 && given == nullptr)) {
    throw InputError("--bytes", "must be a positive number of bytes");
  }
  CollectivePlan plan;
  plan.matrix = given;
  const ByteMatrix* matrix_ptr = given;
  if (op == CollectiveOp::all_to_all) {
    if (given != nullptr) {
      matrix_ptr = given;
      const ByteMatrix& matrix = *given;
      if (matrix.n() != n) {
        throw InputError("matrix", "must be " + std::to_string(n) + " x " + std::to_string(n) +
                                       " (one row and column per participant)");
      }
      double max_row = 0.0;
      for (std::int32_t i = 0; i < n; ++i) {
        double row = 0.0;
        for (const ByteMatrix::Entry& e : matrix.row(i)) {
          if (!std::isfinite(e.bytes) || e.bytes < 0.0) throw InputError("matrix", "entries must be finite and >= 0");
          row += e.bytes;
        }
        max_row = std::max(max_row, row);
      }
      if (bytes == 0.0) bytes = max_row;
    } else {
      plan.uniform = ByteMatrix::filled(n, bytes / n);
      matrix_ptr = &plan.uniform;
    }
  } else if (given != nullptr) {
    throw InputError("matrix", "a byte matrix applies to all-to-all only");
  }

  // Algorithm.
  const CollectiveAlgorithm algorithm = request.algorithm;
  std::optional<ParticipantGrid> grid;
  const bool is_torus = mesh.structure.family == topology::MeshFamily::torus;
  const bool is_gpu = mesh.structure.family == topology::MeshFamily::gpu_cluster;
  if (is_torus) grid = torus_grid(mesh, devices);
  std::optional<NodeGroups> groups;
  if (is_gpu) groups = group_by_node(mesh, devices);
  auto grid_rows_cols_ok = [&] {
    if (!grid) return false;
    std::int64_t R = 1;
    for (int k = 0; k < grid->row_dims && k < static_cast<int>(grid->sizes.size()); ++k) R *= grid->sizes[static_cast<std::size_t>(k)];
    return static_cast<int>(grid->sizes.size()) > grid->row_dims && R >= 2 && n / R >= 2;
  };
  const bool a2a = op == CollectiveOp::all_to_all;
  auto need_gpu = [&](CollectiveAlgorithm a) {
    if (!is_gpu) not_applicable(a, op, "mesh '" + mesh.name + "' is not a GPU cluster");
  };
  auto need_equal_nodes = [&](CollectiveAlgorithm a) {
    if (!groups->equal_sizes()) not_applicable(a, op, "it needs the same number of participants on every node");
  };
  switch (algorithm) {
    case CollectiveAlgorithm::direct:
    case CollectiveAlgorithm::pairwise:
      if (!a2a) not_applicable(algorithm, op, "it is an all-to-all algorithm");
      break;
    case CollectiveAlgorithm::hierarchical:
      need_gpu(algorithm);
      need_equal_nodes(algorithm);
      break;
    case CollectiveAlgorithm::torus_dims:
      if (!a2a) not_applicable(algorithm, op, "it is an all-to-all algorithm");
      if (!is_torus) not_applicable(algorithm, op, "mesh '" + mesh.name + "' is not a torus");
      if (!grid) not_applicable(algorithm, op, "the participants do not form a product grid of the torus");
      break;
    case CollectiveAlgorithm::ring:
    case CollectiveAlgorithm::bidir_ring:
      if (a2a) not_applicable(algorithm, op, "use direct, pairwise, hierarchical or torus-dims");
      break;
    case CollectiveAlgorithm::ring_channels:
      if (a2a) not_applicable(algorithm, op, "use direct, pairwise, hierarchical or torus-dims");
      need_gpu(algorithm);
      break;
    case CollectiveAlgorithm::tree:
      if (op != CollectiveOp::all_reduce) not_applicable(algorithm, op, "tree is an all-reduce algorithm");
      break;
    case CollectiveAlgorithm::double_tree:
      if (op != CollectiveOp::all_reduce) not_applicable(algorithm, op, "double-tree is an all-reduce algorithm");
      need_gpu(algorithm);
      break;
    case CollectiveAlgorithm::nvls:
      if (op != CollectiveOp::all_reduce) not_applicable(algorithm, op, "nvls is an all-reduce algorithm");
      need_gpu(algorithm);
      if (!mesh.structure.switch_reduction) {
        not_applicable(algorithm, op, "the NVSwitch of '" + mesh.device_kind + "' nodes does not reduce (devices.json)");
      }
      need_equal_nodes(algorithm);
      break;
    case CollectiveAlgorithm::torus_2d:
    case CollectiveAlgorithm::torus_2d_bidir:
      if (algorithm == CollectiveAlgorithm::torus_2d && op != CollectiveOp::all_reduce) {
        not_applicable(algorithm, op, "torus-2d is an all-reduce algorithm (torus-2d-bidir also gathers and scatters)");
      }
      if (a2a) not_applicable(algorithm, op, "use direct, pairwise, hierarchical or torus-dims");
      if (!is_torus) not_applicable(algorithm, op, "mesh '" + mesh.name + "' is not a torus");
      if (!grid_rows_cols_ok()) {
        not_applicable(algorithm, op, "the participants do not form a product grid with rows and columns of >= 2");
      }
      break;
    case CollectiveAlgorithm::torus_nd_bidir:
      if (a2a) not_applicable(algorithm, op, "use direct, pairwise, hierarchical or torus-dims");
      if (!is_torus) not_applicable(algorithm, op, "mesh '" + mesh.name + "' is not a torus");
      if (!grid) not_applicable(algorithm, op, "the participants do not form a product grid of the torus");
      break;
    case CollectiveAlgorithm::automatic: break;
  }

  // NCCL's protocols (nccl_protocol.hpp): GPU all-reduce, all-gather and
  // reduce-scatter, unless `--protocol none`.
  const ProtocolChoice choice = request.network.protocol;
  const bool nccl = is_gpu && !a2a && choice != ProtocolChoice::none;
  if (nccl && algorithm == CollectiveAlgorithm::nvls && choice != ProtocolChoice::automatic &&
      choice != ProtocolChoice::simple) {
    throw InputError("--protocol", std::string("nvls runs NCCL's Simple protocol only, not ") + to_string(choice));
  }
  const int nodes = groups ? groups->count() : 1;
  const int per_node = groups ? groups->largest() : 1;

  plan.op = op;
  plan.participants = devices;
  plan.bytes_per_device = bytes;
  const ByteMatrix empty;
  const ByteMatrix& matrix = matrix_ptr != nullptr ? *matrix_ptr : empty;
  // Generates one algorithm's transfers into `graph`, under protocol p when nccl.
  auto generate_as = [&](CollectiveAlgorithm a, std::optional<NcclProtocol> p, TransferGraph& graph) {
    // A protocol moves bytes / wire_efficiency; a library keeps kNcclSteps steps in flight per connection.
    const double wire = p ? bytes / wire_efficiency(*p) : bytes;
    const int window = p ? kNcclSteps : 1;
    switch (a) {
      case CollectiveAlgorithm::direct: generate_all_to_all_direct(matrix, devices, graph); break;
      case CollectiveAlgorithm::pairwise: generate_all_to_all_pairwise(matrix, devices, graph); break;
      case CollectiveAlgorithm::hierarchical:
        if (a2a) {
          std::vector<int> node(devices.size());
          for (std::size_t i = 0; i < devices.size(); ++i) node[i] = mesh.node_of(devices[i]);
          generate_all_to_all_hierarchical(matrix, devices, node, graph);
        } else {
          generate_gpu_hierarchical(op, wire, devices, *groups, graph);
        }
        break;
      case CollectiveAlgorithm::torus_dims: generate_all_to_all_grid(matrix, devices, *grid, graph); break;
      case CollectiveAlgorithm::ring: generate_ring(op, wire, devices, graph, window); break;
      case CollectiveAlgorithm::bidir_ring:
        generate_rings(op, wire, devices, bidirectional_orders(n), graph, window);
        break;
      case CollectiveAlgorithm::ring_channels:
        generate_rings(op, wire, devices, channel_ring_orders(*groups, ring_channels(op, *groups, n)), graph, window);
        break;
      case CollectiveAlgorithm::tree: generate_tree_all_reduce(wire, devices, graph); break;
      case CollectiveAlgorithm::double_tree: generate_double_tree_all_reduce(wire, devices, *groups, graph); break;
      case CollectiveAlgorithm::nvls: {
        std::vector<VertexId> switches;
        for (const int node : groups->node) switches.push_back(mesh.node_switch(node));
        generate_nvls_all_reduce(wire, devices, *groups, switches, mesh.structure.nvls_efficiency, graph);
        break;
      }
      case CollectiveAlgorithm::torus_2d: generate_torus_2d_all_reduce(wire, devices, *grid, graph); break;
      case CollectiveAlgorithm::torus_2d_bidir: generate_two_level(op, wire, devices, *grid, true, graph); break;
      case CollectiveAlgorithm::torus_nd_bidir: generate_per_dimension(op, wire, devices, *grid, true, graph); break;
      case CollectiveAlgorithm::automatic: break;
    }
    if (p) graph.set_step_cost(nccl_step_cost(nccl_algorithm_of(a, nodes), *p, nodes, per_node));
  };
  auto generate = [&](CollectiveAlgorithm a, TransferGraph& graph) { generate_as(a, std::nullopt, graph); };

  if (nccl) {
    // NCCL's candidates (algorithm x protocol); the fastest wins (choose_fastest).
    std::vector<Candidate> candidates;
    std::vector<CollectiveAlgorithm> algorithms;
    if (algorithm != CollectiveAlgorithm::automatic) {
      algorithms = {algorithm};
    } else if (op != CollectiveOp::all_reduce) {
      algorithms = {nodes > 1 ? CollectiveAlgorithm::ring_channels : CollectiveAlgorithm::ring};
    } else {
      // NCCL's all-reduce algorithms without CollNet / IB SHARP: Ring, Tree,
      // NVLS (one node) or NVLS_TREE (several). No hierarchical: NCCL has none.
      algorithms = {nodes > 1 ? CollectiveAlgorithm::ring_channels : CollectiveAlgorithm::ring,
                    CollectiveAlgorithm::double_tree};
      if (mesh.structure.switch_reduction && groups->equal_sizes() && per_node > 1) {
        algorithms.push_back(CollectiveAlgorithm::nvls);
      }
    }
    for (const CollectiveAlgorithm a : algorithms) {
      for (const NcclProtocol p : {NcclProtocol::ll, NcclProtocol::ll128, NcclProtocol::simple}) {
        if (choice != ProtocolChoice::automatic && to_string(p) != std::string(to_string(choice))) continue;
        if (a == CollectiveAlgorithm::nvls && p != NcclProtocol::simple) continue;  // NVLS: Simple only
        candidates.push_back(Candidate{a, p});
      }
    }
    choose_fastest(mesh, request, candidates, generate_as, plan);
    return plan;
  }

  if (algorithm != CollectiveAlgorithm::automatic) {
    plan.algorithm = algorithm;
  } else if (a2a) {
    plan.algorithm = CollectiveAlgorithm::direct;
  } else if (is_torus && !grid) {
    plan.algorithm = CollectiveAlgorithm::bidir_ring;
  } else if (is_gpu && op != CollectiveOp::all_reduce) {
    plan.algorithm = groups->count() > 1 ? CollectiveAlgorithm::ring_channels : CollectiveAlgorithm::ring;
  } else if (is_torus || is_gpu) {
    // Torus grid: bidirectional rings, two-level or per dimension. All-reduce
    // on a GPU cluster: NCCL's candidates. The smallest estimate wins (ties:
    // the earlier candidate).
    std::vector<CollectiveAlgorithm> candidates;
    if (is_torus) {
      if (grid_rows_cols_ok()) candidates.push_back(CollectiveAlgorithm::torus_2d_bidir);
      candidates.push_back(CollectiveAlgorithm::torus_nd_bidir);
    } else if (groups->count() > 1) {
      candidates = {CollectiveAlgorithm::ring_channels, CollectiveAlgorithm::double_tree};
      if (groups->equal_sizes()) candidates.push_back(CollectiveAlgorithm::hierarchical);
    } else {
      candidates = {CollectiveAlgorithm::ring};
    }
    if (is_gpu && mesh.structure.switch_reduction && groups->equal_sizes() && groups->largest() > 1) {
      candidates.push_back(CollectiveAlgorithm::nvls);
    }
    std::vector<Candidate> list;
    for (const CollectiveAlgorithm a : candidates) list.push_back(Candidate{a, std::nullopt});
    choose_fastest(mesh, request, list, generate_as, plan);
    return plan;
  } else {
    plan.algorithm = CollectiveAlgorithm::ring;
  }

  if (plan.algorithm == CollectiveAlgorithm::direct && request.network.load_model_above_devices > 0 &&
      n > request.network.load_model_above_devices && !request.record_trace) {
    plan.load_model = true;  // priced by the per-link load model, no transfers
    return plan;
  }
  generate(plan.algorithm, plan.transfers);
  return plan;
}

CollectiveResult simulate_collective(const topology::Mesh& mesh, const CollectiveRequest& request,
                                     const ByteMatrix* given) {
  const auto wall_start = std::chrono::steady_clock::now();
  const CollectivePlan plan = plan_collective(mesh, request, given);
  if (plan.load_model) {
    return load_model_all_to_all(mesh, plan.all_to_all_matrix(), plan.participants, plan.bytes_per_device,
                                 request.network, wall_start);
  }
  const TransferGraph& graph = plan.transfers;
  const CollectiveOp op = plan.op;
  const auto n = static_cast<std::int32_t>(plan.participants.size());
  const double bytes = plan.bytes_per_device;

  // Simulate (unless choosing the algorithm already did).
  const TransferTimes times =
      plan.alone ? *plan.alone : simulate_transfers(graph, mesh.topology.links(), *mesh.router, request.network,
                                                   mesh.topology.num_devices());

  CollectiveResult result;
  result.op = op;
  result.algorithm = plan.algorithm;
  result.protocol = plan.protocol;
  result.devices = n;
  result.bytes_per_device = bytes;
  result.time_s = times.makespan_s;
  result.algbw_Bps = times.makespan_s > 0.0 ? bytes / times.makespan_s : 0.0;
  result.busbw_Bps = result.algbw_Bps * bus_factor(op, n);
  result.flows = times.flows;
  result.events = times.events;
  result.rate_updates = times.rate_updates;
  result.bytes_truncated = times.bytes_truncated;
  result.drain_classes = times.drain_classes;
  result.posting_floor_s = times.posting_floor_s;
  if (request.record_trace) {
    result.transfers.reserve(static_cast<std::size_t>(graph.size()));
    for (TransferId t = 0; t < graph.size(); ++t) {
      result.transfers.push_back(TransferRecord{graph.src(t), graph.dst(t), graph.bytes(t),
                                                times.issue_s[static_cast<std::size_t>(t)],
                                                times.done_s[static_cast<std::size_t>(t)]});
    }
  }
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace switchsim::sim
