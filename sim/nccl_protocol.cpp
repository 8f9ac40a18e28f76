#include "sim/nccl_protocol.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

namespace {

constexpr std::size_t idx(NcclAlgorithm a) { return static_cast<std::size_t>(a); }
constexpr std::size_t idx(NcclProtocol p) { return static_cast<std::size_t>(p); }

// NVIDIA/nccl v2.30.7 src/graph/tuning.cc, ncclTunerConstantsDefaults, in
// microseconds, rows in NcclAlgorithm order (Tree, Ring, NVLS, NVLS Tree),
// columns LL, LL128, Simple.
constexpr double kBaseLatency_us[4][3] = {
    {6.8, 14.0, 8.4},  // Tree
    {6.6, 14.0, 8.4},  // Ring
    {0.0, 0.0, 0.0},   // NVLS
    {0.0, 0.0, 0.0},   // NVLS Tree
};
constexpr double kNvlinkLatency_us[4][3] = {
    {0.6, 1.25, 4.0},  // Tree
    {0.6, 1.9, 3.4},   // Ring
    {0.0, 0.0, 25.0},  // NVLS
    {0.0, 0.0, 25.0},  // NVLS Tree
};
constexpr double kNetLatency_us[4][3] = {
    {5.0, 8.5, 14.0},  // Tree
    {2.7, 4.0, 14.0},  // Ring
    {0.0, 0.0, 18.0},  // NVLS
    {0.0, 0.0, 20.9},  // NVLS Tree
};

}  // namespace

const char* to_string(ProtocolChoice choice) {
  switch (choice) {
    case ProtocolChoice::automatic: return "auto";
    case ProtocolChoice::ll: return "ll";
    case ProtocolChoice::ll128: return "ll128";
    case ProtocolChoice::simple: return "simple";
    case ProtocolChoice::none: return "none";
  }
  return "?";
}

const char* to_string(NcclProtocol protocol) {
  switch (protocol) {
    case NcclProtocol::ll: return "ll";
    case NcclProtocol::ll128: return "ll128";
    case NcclProtocol::simple: return "simple";
  }
  return "?";
}

ProtocolChoice parse_protocol_choice(const std::string& text) {
  if (text == "automatic") return ProtocolChoice::automatic;
  for (auto c : {ProtocolChoice::automatic, ProtocolChoice::ll, ProtocolChoice::ll128, ProtocolChoice::simple,
                 ProtocolChoice::none}) {
    if (text == to_string(c)) return c;
  }
  throw InputError("--protocol", "unknown protocol '" + text + "' (auto, ll, ll128, simple, none)");
}

double wire_efficiency(NcclProtocol protocol) {
  switch (protocol) {
    case NcclProtocol::ll: return 0.5;             // 8 data bytes per 16-byte line
    case NcclProtocol::ll128: return 120.0 / 128;  // 15 data elements per 16-element line
    case NcclProtocol::simple: return 1.0;
  }
  return 1.0;
}

double nccl_base_latency_s(NcclAlgorithm algorithm, NcclProtocol protocol) {
  return kBaseLatency_us[idx(algorithm)][idx(protocol)] * 1e-6;
}
double nccl_nvlink_latency_s(NcclAlgorithm algorithm, NcclProtocol protocol) {
  return kNvlinkLatency_us[idx(algorithm)][idx(protocol)] * 1e-6;
}
double nccl_net_latency_s(NcclAlgorithm algorithm, NcclProtocol protocol) {
  return kNetLatency_us[idx(algorithm)][idx(protocol)] * 1e-6;
}

StepCost nccl_step_cost(NcclAlgorithm algorithm, NcclProtocol protocol, int nodes, int gpus_per_node) {
  SWITCHSIM_ASSERT(nodes >= 1 && gpus_per_node >= 1, "a collective needs a node and a GPU");
  SWITCHSIM_ASSERT(protocol == NcclProtocol::simple ||
                       (algorithm != NcclAlgorithm::nvls && algorithm != NcclAlgorithm::nvls_tree),
                   "NVLS runs the Simple protocol only");
  StepCost cost;
  const auto at = [](topology::LinkKind k) { return static_cast<std::size_t>(k); };
  double intra = nccl_nvlink_latency_s(algorithm, protocol);
  // With one GPU per node NCCL uses the tree's network latency (latencies fully exposed).
  double inter = gpus_per_node == 1 ? nccl_net_latency_s(NcclAlgorithm::tree, protocol)
                                    : nccl_net_latency_s(algorithm, protocol);
  cost.launch_s = nccl_base_latency_s(algorithm, protocol);
  if (algorithm == NcclAlgorithm::ring && nodes > 1) {
    // "Inter-node rings still have to launch nsteps * net overhead."
    const double overhead = kNcclNetOverhead_s * (protocol == NcclProtocol::simple ? 3.0 : 1.0);
    intra = std::max(intra, overhead);
  }
  if (algorithm == NcclAlgorithm::nvls || algorithm == NcclAlgorithm::nvls_tree) {
    // A flat latency for the in-switch part (latencies[NVLS] = intraLat), the
    // network steps of NVLS_TREE on top.
    cost.launch_s += intra;
    intra = 0.0;
    inter = nccl_net_latency_s(NcclAlgorithm::nvls_tree, protocol);
  }
  cost.latency_s[at(topology::LinkKind::nvlink)] = intra;
  cost.latency_s[at(topology::LinkKind::nic)] = inter;
  cost.latency_s[at(topology::LinkKind::fabric)] = inter;
  return cost;
}

}  // namespace switchsim::sim
