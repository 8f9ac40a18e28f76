#pragma once
// A step request as text (what the CLI flags hold) resolved into the objects
// simulate_step needs. Shared by `simulate`, `capacity` and anything else that
// takes the same flags; every error names its flag.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "kernels/cost_model.hpp"
#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::workloads {

struct StepRequest {
  std::string model;                  // --model
  std::string mesh;                   // --mesh
  std::string layout;                 // --layout (empty: dp = devices, ep = min(dp, experts) dividing both, mp = 1)
  double capacity_factor = 1.0;       // --capacity-factor
  std::string routing = "uniform";    // --routing
  std::string mode = "capacity";      // --mode
  std::int64_t batch_tokens = std::int64_t{1} << 20;  // --batch-tokens
  // --micro-batches; none: the smallest count in 1, 2, 4, ... whose memory estimate fits
  // kDefaultMemoryHeadroom of device memory (workloads/micro_batches.hpp), as recommend chooses.
  // With pp > 1 the count is then at least pp (a multiple of pp that splits the batch), so the
  // pipeline fills; the memory plan is the whole model's (conservative: a stage holds less).
  std::optional<std::int64_t> micro_batches;
  std::int64_t group_tokens = 0;      // --group-tokens (0: the MoE implementation's default)
  std::string moe_impl = "auto";      // --moe-impl (auto: the platform default, moe_impl.hpp)
  std::string precision = "bf16";     // --precision
  bool fp8_dispatch = false;          // --fp8-dispatch
  std::string optimizer = "adafactor";  // --optimizer
  bool rematerialize = false;         // --remat
  std::uint64_t seed = 0;             // --seed
  std::optional<std::int64_t> max_nodes_per_token;    // --max-nodes-per-token (limited_routing.hpp)
  std::optional<std::int64_t> max_devices_per_token;  // --max-devices-per-token
  std::string dispatch = "auto";                      // --dispatch
  std::string profile;                // --profile (empty: shape-aware model of the mesh's device)
  double network_tolerance = 0.0;     // --network-tolerance (0: the exact fluid model)
  std::int32_t load_model_above = 0;  // --load-model-above (0: never)
  std::string network_model = "shared";  // --network-model
  std::string grad_sync = "auto";        // --grad-sync (auto: the platform default, training.hpp)
  std::string comm_priority = "none";    // --comm-priority
  std::int64_t zero = 0;                 // --zero (ZeRO stage 0..3, zero_sharding.hpp)
  // --pp-schedule gpipe|1f1b|interleaved (auto: interleaved when the layout has vpp > 1, else 1f1b)
  std::string pp_schedule = "auto";
};

struct ResolvedStep {
  Model model;
  std::unique_ptr<topology::Mesh> mesh;
  Layout layout;
  StepOptions options;
  std::unique_ptr<kernels::CostModel> cost;
};

[[nodiscard]] ResolvedStep resolve_step_request(const StepRequest& request);

}  // namespace switchsim::workloads
