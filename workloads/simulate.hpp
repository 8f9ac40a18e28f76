#pragma once
// The library entry points: one simulated training step, and the
// capacity-factor trade-off. Thread-safe (no shared mutable state; a
// CollectiveCache passed in is itself thread-safe) and silent (no printing).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "kernels/cost_model.hpp"
#include "sim/chrome_trace.hpp"
#include "sim/collective.hpp"
#include "sim/shared_step_executor.hpp"
#include "sim/step_executor.hpp"
#include "sim/step_progress.hpp"
#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/limited_routing.hpp"
#include "workloads/memory.hpp"
#include "workloads/model.hpp"
#include "workloads/op_accounting.hpp"
#include "workloads/routing.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

class RoutingMemo;  // routing_memo.hpp

// How the step's collectives use the network (--network-model).
//   shared    one discrete-event simulation on one flow network for the whole step:
//             concurrent collectives share links (sim/shared_step_executor.hpp); the default
//   isolated  each collective timed alone on the mesh and memoized (sim/step_executor.hpp):
//             no contention between collectives; faster, optimistic (an approximation)
enum class NetworkModel : std::uint8_t { shared, isolated };
[[nodiscard]] const char* to_string(NetworkModel m);
[[nodiscard]] NetworkModel parse_network_model(const std::string& text, const std::string& field = "--network-model");
// Traffic classes on shared links (--comm-priority): none (plain max-min), or all-to-all
// served with strict priority over all other traffic (Lina).
[[nodiscard]] bool parse_comm_priority(const std::string& text, const std::string& field = "--comm-priority");

struct StepOptions {
  TrainingSetup training;
  NetworkModel network_model = NetworkModel::shared;
  bool strict_priority = false;  // all-to-all before other traffic (shared model only)
  double capacity_factor = 1.0;
  RoutingSpec routing;  // default uniform
  ExecutionMode mode = ExecutionMode::capacity;
  std::uint64_t seed = 0;
  RoutingLimit routing_limit;                  // --max-nodes-per-token, --max-devices-per-token
  Dispatch dispatch = Dispatch::automatic;     // --dispatch (limited_routing.hpp)
  sim::TraceWriter* trace = nullptr;       // when set, the step is added to it
  std::int32_t trace_max_devices = 64;     // tracks for at most this many devices (the first ones)
  bool trace_all_devices = false;          // every device its own process, even identical ones
                                           // (sim/step_schedule_trace.hpp: identical ones written once)
  sim::CollectiveCache* cache = nullptr;   // optional shared memo (must belong to the mesh)
  RoutingMemo* routing_memo = nullptr;     // optional memo of the layers' routing (routing_memo.hpp)
  // The network model of a memo made here (none given): exact by default; `recommend`'s
  // approximations (completion window, load model) on request. A given cache keeps its own.
  sim::NetworkOptions network;
  bool traffic = false;                    // fill StepResult::traffic (`simulate` does; the planner need not)
  // Optional: ops ended so far, at most once a second and at the end (sim/step_progress.hpp);
  // long flow simulations report through network.progress.
  sim::StepProgressCallback progress;
};

struct StepResult {
  std::string model;
  bool decoder_only = false;  // one causal stack: the "decoder" figures of the T5 family do not apply
  std::string mesh;       // the mesh's label (a custom mesh's "name")
  std::string mesh_file;  // a custom mesh: the file it was read from
  std::string device_kind;
  std::int32_t devices = 0;
  std::string layout;
  double capacity_factor = 0.0;
  std::string mode;
  std::string routing;
  std::uint64_t seed = 0;
  RoutingPlan routing_plan;  // limits as given and the resolved dispatch (JSON when recorded())
  TrainingSetup training;
  StepShape shape;
  std::int64_t expert_capacity = 0;          // encoder groups
  std::int64_t decoder_expert_capacity = 0;  // decoder groups
  double step_time_s = 0.0;
  double tokens_per_s = 0.0;     // encoder input tokens (the paper's "tokens per batch") per second
  double examples_per_s = 0.0;   // sequences per second
  double drop_fraction = 0.0;    // over all Switch layers, encoder and decoder
  double encoder_drop_fraction = 0.0;
  double decoder_drop_fraction = 0.0;
  std::string platform_caveat;  // what the platform may not run as priced (moe_impl.hpp), or empty
  double max_expert_load_ratio = 0.0;  // busiest device's received assignments / the mean over devices
  // Slots the busiest device's experts process per Switch layer and micro-batch
  // (capacity mode: the padded E x groups x C; dropless: the busiest device's load).
  double encoder_received_slots = 0.0;
  double decoder_received_slots = 0.0;
  MemoryEstimate memory;          // the most loaded device (pp > 1: of stage memory_stage)
  std::int64_t pp = 1;            // pipeline stages (layout.pp)
  // Expert grid of a folded layout (etp != tp, layout.hpp), 0 otherwise: written as "expert_layout".
  std::int64_t etp = 0, expert_ep = 0, edp = 0;
  std::int64_t memory_stage = 0;  // pp > 1: the stage of the most loaded device (pipeline_memory.hpp)
  sim::CriticalPathBreakdown breakdown;
  NetworkModel network_model = NetworkModel::shared;
  bool strict_priority = false;
  double exposed_communication_s = 0.0;     // communication on the critical path
  double overlapped_communication_s = 0.0;  // communication hidden by compute (sim/step_schedule.hpp)
  sim::SharedStepStats shared;              // shared model: collectives run, memo / replay / load-model counts
  // Isolated model: whether two collective groups were in flight at once (sim::collectives_overlap);
  // when not, the shared model gives this same step. Always true under the shared model.
  bool collectives_overlap = true;
  double compute_lower_bound_s = 0.0;  // busiest device's total compute time
  sim::NetworkOptions network;         // the network options of the memo the step ran with
  std::int32_t ops = 0;
  std::int64_t collective_simulations = 0;
  std::string cost_model;
  double params = 0.0;
  // Device x device bytes of the step's all-to-alls (sim/traffic.hpp), only
  // with StepOptions::traffic and devices <= kMaxTrafficDevices (256: 64 Ki
  // entries, ~1.5 MB of JSON); otherwise `traffic_omitted` says why when asked.
  std::optional<sim::ByteMatrix> traffic;
  std::string traffic_omitted;
  OpAccounting op_accounting;  // per op kind: count, FLOPs, bytes, critical-path seconds (op_accounting.hpp)
  ModelFlops model_flops;      // model FLOPs per step and per device-second, MFU (op_accounting.hpp)
};

inline constexpr std::int32_t kMaxTrafficDevices = 256;

// Validates everything (InputError naming the field), builds the op graph, runs it.
[[nodiscard]] StepResult simulate_step(const Model& model, const topology::Mesh& mesh, const Layout& layout,
                                       const StepOptions& options, const kernels::CostModel& cost);

struct Spread {
  double mean = 0.0;
  double min = 0.0;
  double max = 0.0;
  double stddev = 0.0;  // sample standard deviation (0 for one sample)
};

// Mean, min, max and sample standard deviation (n - 1 in the denominator; 0
// for fewer than two values) of per-seed results. An empty input gives zeros.
[[nodiscard]] Spread spread_of(const std::vector<double>& xs);

struct CapacityRow {
  double capacity_factor = 0.0;
  StepResult first;  // the run with the first seed (all fields)
  Spread step_time_s;
  Spread tokens_per_s;
  Spread examples_per_s;
  Spread drop_fraction;
  std::int64_t samples = 0;
};

// One row per factor, each the statistics over `samples` seeds (options.seed, +1, ...).
[[nodiscard]] std::vector<CapacityRow> capacity_sweep(const Model& model, const topology::Mesh& mesh,
                                                      const Layout& layout, const StepOptions& options,
                                                      const std::vector<double>& factors, std::int64_t samples,
                                                      const kernels::CostModel& cost);

// Parses "0.5,1.0,1.25"; InputError(field) on junk or a factor <= 0.
[[nodiscard]] std::vector<double> parse_factors(const std::string& text, const std::string& field = "--factors");

[[nodiscard]] json to_json(const StepResult& r);
[[nodiscard]] json to_json(const std::vector<CapacityRow>& rows);
[[nodiscard]] std::string to_text(const StepResult& r);
[[nodiscard]] std::string to_text(const std::vector<CapacityRow>& rows);

}  // namespace switchsim::workloads
