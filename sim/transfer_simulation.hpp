#pragma once
// Runs a TransferGraph on the flow-level network: the narrow interface between
// collectives and the network (collectives only generate transfers).
//
// Timing of one transfer (issue, ECMP sub-flows, per-sender posting of the
// per-message overhead, delivery after drain + hop latencies) and events are
// those of the shared network (shared_network.hpp): simulate_transfers runs the
// graph there as one job, alone.
//
// Completion window (NetworkOptions::completion_window = eps, default 0: the
// exact model). At a drain event at time T every active flow f that started at
// s_f and would finish by T + eps * (T - s_f) finishes at T; its residual bytes
// are counted in bytes_truncated. Each flow's drain time is shortened by at
// most the fraction eps / (1 + eps) of its own duration under the rates it saw,
// and flows that all start together (a direct all-to-all) leave in batches
// whose times grow roughly geometrically: about log(T_last / T_first) /
// log(1 + eps) drain events instead of one per distinct finish time. It is an
// approximation (max-min rates are not monotone in the set of active flows, so
// there is no proof that the makespan moves by at most eps); the measured error
// on non-uniform all-to-alls and all-reduces is in docs/network.md and asserted
// by tests/sim/test_completion_window.cpp.
//
// Bytes scaling (drain_classes, posting_floor_s). When no transfer has a
// dependency (a direct all-to-all) every flow enters at t = 0, max-min rates
// depend only on which flows are active, and the completion order does not
// depend on the bytes, so multiplying every transfer's bytes by a > 0
// multiplies every drain time by a (with or without a completion window:
// T + eps (T - 0) scales too), while posting does not depend on bytes at all.
// With the drain times grouped by latency L = overhead + hops (few classes:
// path lengths and link kinds),
//     makespan(a) = max( max over classes L of (a * max_drain_L + L), posting_floor )
// exactly (up to floating-point rounding); sim::CollectiveCache uses it to serve
// every byte size of one all-to-all pattern from one simulation.

#include <array>
#include <cstdint>
#include <limits>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "sim/flow_network.hpp"
#include "sim/nccl_protocol.hpp"
#include "sim/sharing_policy.hpp"
#include "sim/transfer_graph.hpp"
#include "topology/mesh.hpp"
#include "topology/topology.hpp"

namespace switchsim::sim {

inline constexpr std::size_t kNumLinkKinds = 5;  // topology::LinkKind values

// Per-message software overhead by link kind (seconds), indexed by LinkKind:
// ici, on_chip, nvlink, nic, fabric: what a sender spends to post one message
// (charged in sequence per sender, shared_network.hpp). It prices every
// transfer that is not under a library's step costs: all-to-alls (NCCL's
// grouped point-to-point sends, XLA's direct sends) and every collective with
// `--protocol none` or on a TPU mesh.
//   nic, fabric  1 us: NCCL's network post overhead (NVIDIA/nccl v2.30.7
//                src/graph/tuning.cc getNetOverhead: 1 us on x86 Intel
//                hosts, 2 us on AMD; NCCL_NET_OVERHEAD overrides it).
//   nvlink       2 us: engineering assumption (NCCL publishes no per-message
//                cost for point-to-point sends over NVLink; its ring step
//                latencies are 0.6 / 1.9 / 3.4 us for LL / LL128 / Simple).
//   ici          1 us: engineering assumption, the order of the ~1 us per-hop
//                overhead the scaling-book gives for ICI (jax-ml/scaling-book
//                sharding.md, "A note on ICI latency"), on top of the hop
//                latency in devices.json.
//   on_chip      0.5 us: engineering assumption.
inline constexpr std::array<double, kNumLinkKinds> kDefaultMessageOverhead_s = {1.0e-6, 0.5e-6, 2.0e-6, 1.0e-6,
                                                                                1.0e-6};

struct NetworkOptions {
  SharingKind sharing = SharingKind::max_min;
  std::array<double, kNumLinkKinds> message_overhead_s = kDefaultMessageOverhead_s;
  // GPU collectives (all-reduce, all-gather, reduce-scatter on GPU clusters):
  // NCCL's protocols and latency model (nccl_protocol.hpp), chosen per size by
  // default; `none` prices them with message_overhead_s and hop latencies.
  ProtocolChoice protocol = ProtocolChoice::automatic;
  // Relative completion window eps >= 0 (see above); 0 = exact.
  double completion_window = 0.0;
  // Direct all-to-alls over MORE than this many participants use the per-link
  // load model instead of the flow simulation (collective.hpp); 0 = never.
  std::int32_t load_model_above_devices = 0;
  // Re-solve only what a batch changed (default) or every active flow (flow_network.hpp).
  SolveMode solve = SolveMode::selective;
  // Called about every progress_interval_s of wall time while a flow simulation runs (none: silent).
  NetworkProgressCallback progress;
  double progress_interval_s = 1.0;
};

// Sub-flows that share one path latency: the latest drain time among them.
struct DrainClass {
  double latency_s = 0.0;
  double max_drain_s = 0.0;
};

struct TransferTimes {
  std::vector<double> issue_s;  // per transfer
  std::vector<double> done_s;   // per transfer
  double makespan_s = 0.0;      // max done_s (0 for an empty graph)
  std::int64_t flows = 0;       // sub-flows simulated
  std::int64_t events = 0;      // drain and delivery batches processed
  std::int64_t rate_updates = 0;
  double bytes_sent = 0.0;       // sum of bytes put into flows
  double bytes_truncated = 0.0;  // residual bytes dropped by completion batching (flow_network.hpp)
  // Per distinct path latency (ascending): the latest drain of a sub-flow with
  // that latency. makespan_s = max(latency_s + max_drain_s) over the classes
  // when every transfer has bytes and src != dst.
  std::vector<DrainClass> drain_classes;
  double posting_floor_s = 0.0;  // max over sub-flows of (posting done + hops): the byte-independent floor
};

// InputError ("--network-tolerance") unless the completion window is finite and >= 0.
void check_completion_window(const NetworkOptions& options);

// The command-line network flags (`recommend`, `simulate`, `capacity`) as options:
// --network-tolerance in [0, 0.5] (0 = exact), --load-model-above >= 0 (0 = never);
// InputError naming the flag otherwise.
[[nodiscard]] NetworkOptions network_options_from_flags(double tolerance, std::int32_t load_model_above);

// One line each for provenance: the fluid model with its completion window, and
// (empty when it does not apply to `devices`) the per-link load model.
[[nodiscard]] std::string describe_network_model(const NetworkOptions& options);
// One line for provenance: how GPU collectives' messages are priced (options.protocol).
[[nodiscard]] std::string describe_collective_protocol(const NetworkOptions& options);
[[nodiscard]] std::string describe_all_to_all_model(const NetworkOptions& options, std::int32_t devices);

// The per-message software overhead of a path (the largest of its link kinds'),
// the sum of its link latencies, and their sum, the latency of one message.
[[nodiscard]] double path_overhead_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path,
                                     const NetworkOptions& options);
[[nodiscard]] double path_hops_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path);
// Latency of one path (overhead + hop latencies) under `options`.
[[nodiscard]] double path_latency_s(std::span<const topology::Link> links, std::span<const topology::LinkId> path,
                                    const NetworkOptions& options);

// The fixed costs of transfer t of `graph` sent over `path`: the overhead paid
// after its drain, its hop latencies, and whether the overhead is posted on
// the sender's clock (shared_network.hpp). Without a step cost: the path's
// per-message overhead, its hops, posted. With one (transfer_graph.hpp): the
// step latency of the costliest link kind on the path (0 for a streamed
// chunk), no hops, not posted. The launch delay is not included.
struct TransferLatency {
  double overhead_s = 0.0;
  double hops_s = 0.0;
  bool posted = true;
};
[[nodiscard]] TransferLatency transfer_latency(const TransferGraph& graph, TransferId t,
                                               std::span<const topology::Link> links,
                                               std::span<const topology::LinkId> path, const NetworkOptions& options);

// `devices`: vertices numbered from it are switches (shared_network.hpp: no posting clock).
[[nodiscard]] TransferTimes simulate_transfers(const TransferGraph& graph, std::span<const topology::Link> links,
                                               const topology::Router& router, const NetworkOptions& options = {},
                                               std::int32_t devices = std::numeric_limits<std::int32_t>::max());

}  // namespace switchsim::sim
