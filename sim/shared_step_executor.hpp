#pragma once
// Runs the op graph of one training step as ONE discrete-event simulation on
// ONE flow network (`--network-model shared`, the default of simulate and
// capacity).
//
// Model. Every device has a compute stream and kCommStreams communication
// streams (op_graph.hpp); ops on one stream of a device run one at a time, in
// issue order. An (op, device) pair -- a slot -- becomes ready when its stream
// predecessor on that device has ended and every dependency has ended (on that
// device when the dependency ran there, else everywhere). The clock jumps from
// event to event:
//   compute slot ready at t     ends at t + CostModel::predict(shape)
//   collective group            when its last member is ready, its planned
//                               transfers (collective.hpp, plan_collective) are
//                               submitted to the shared network
//                               (shared_network.hpp) and every member ends when
//                               the last transfer is delivered
// Every collective in flight -- the all-to-alls of all expert-parallel groups,
// the tensor-parallel all-reduces of every mp group, gradient all-reduces
// overlapping the backward pass -- puts its flows into the same max-min
// network, so concurrent collectives slow each other down exactly as the flows
// of one collective do. With strict priority (SharedStepOptions), all-to-all
// flows are served before all other traffic on every link (Lina).
//
// Units: memo for collectives that cannot meet. Jobs interact only through
// links and sender posting clocks, and max-min sharing decomposes over
// disjoint link sets (collective_footprint.hpp), so the collectives in flight
// are kept in units with disjoint footprints, each running exactly as it would
// alone:
//   * a group whose footprint no unit holds starts an alone unit; groups that
//     start at the same instant and share resources join it; when the instant
//     is over its durations come from a memo (one group: the isolated memo,
//     CollectiveCache, with bytes scaling and translation sharing; several: one
//     simulation of just them, memoized by their keys); no flows are simulated;
//   * a group that meets exactly one simulated unit (and perhaps alone units
//     opened at this instant) is submitted to that unit's network;
//   * otherwise (it meets an alone unit that started earlier, or two simulated
//     units) the units it meets are replayed together into a fresh network
//     from the earliest start, each group submitted at its own time (same code
//     path, so the flows' state now is the one they had), and it joins them.
// A simulated unit holds a resource while one of its jobs in flight uses it
// and is dropped when its network is idle. Results equal one network for
// every flow (replay_alone = false) up to floating-point rounding (tested on
// random steps); a step whose collectives never contend costs about what the
// isolated model costs.
//
// Scale (contention-aware load model). A direct all-to-all over more devices
// than NetworkOptions::load_model_above_devices is not simulated flow by flow:
// all groups of the op are priced together by the per-link load model of
// collective.hpp applied to the SUM of their link loads (they run at the same
// time), so the groups of one op contend; the result is a fixed duration that
// takes no bandwidth from other collectives in flight (an approximation; its
// measured error is in docs/network.md).

#include <cstdint>

#include "kernels/cost_model.hpp"
#include "sim/op_graph.hpp"
#include "sim/shared_network.hpp"
#include "sim/step_executor.hpp"
#include "sim/step_progress.hpp"
#include "sim/step_schedule.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sim {

struct SharedStepOptions {
  bool strict_priority = false;  // all-to-all traffic before all other traffic on every link
  bool replay_alone = true;      // units (above); false: every flow through one network
  bool record_link_loads = false;  // keep every link-load change (for trace counter tracks)
  StepProgressCallback progress;   // optional: ops ended, at most once per interval (step_progress.hpp)
  double progress_interval_s = 1.0;
};

struct SharedStepStats {
  std::int64_t collectives = 0;     // collective group instances run
  std::int64_t memo_alone = 0;      // of those, timed from a memo (in an alone unit when it started)
  std::int64_t replayed = 0;        // replays: units run again together when a collective met them
  std::int64_t load_modelled = 0;   // priced by the contention-aware load model
  std::int64_t flows = 0;           // flows put into the shared network
  std::int64_t network_events = 0;
  std::vector<LinkLoadSample> link_loads;  // with record_link_loads
  std::vector<double> link_capacity_Bps;   // with record_link_loads
};

// Runs the graph. `cache` belongs to `mesh` and carries the network options.
[[nodiscard]] StepSchedule execute_step_shared(const OpGraph& graph, const kernels::CostModel& cost,
                                               CollectiveCache& cache, const SharedStepOptions& options = {},
                                               SharedStepStats* stats = nullptr);

}  // namespace switchsim::sim
