// The routing memo (workloads/routing_cache.hpp): steps that share a routing draw through the
// cache are bit-identical to steps that draw their own, across ep, mapping, capacity factor and
// mode; the draws are shared exactly when the key says they may be; a full cache still serves.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/routing_cache.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

ResolvedStep small_step(const std::string& layout, const std::string& mode, double cf, std::uint64_t seed,
                        const std::string& routing = "uniform") {
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-2x2";
  q.layout = layout;
  q.batch_tokens = 16 * 512;
  q.mode = mode;
  q.capacity_factor = cf;
  q.seed = seed;
  q.routing = routing;
  q.network_model = "isolated";
  return resolve_step_request(q);
}

// Everything a step reports that routing can change.
void check_same(const StepResult& a, const StepResult& b) {
  CHECK(a.step_time_s == b.step_time_s);
  CHECK(a.drop_fraction == b.drop_fraction);
  CHECK(a.encoder_drop_fraction == b.encoder_drop_fraction);
  CHECK(a.decoder_drop_fraction == b.decoder_drop_fraction);
  CHECK(a.max_expert_load_ratio == b.max_expert_load_ratio);
  CHECK(a.memory.total_bytes() == b.memory.total_bytes());
  CHECK(to_json(a).dump() == to_json(b).dump());
}

}  // namespace

TEST_CASE("routing cache: cached steps equal uncached ones across ep, mapping and capacity factor", "[routing_cache]") {
  const std::vector<std::string> layouts = {"dp=8,ep=8", "dp=8,ep=4", "dp=8,ep=4,order=mp.rep.ep", "dp=8,ep=2"};
  for (const std::string routing : {"uniform", "zipf:1.1"}) {
    for (const auto& [mode, factors] : std::vector<std::pair<std::string, std::vector<double>>>{
             {"capacity", {1.0, 1.5}}, {"dropless", {1.0}}}) {
      // The draws of one step: one per MoE layer and micro-batch (none shared inside a step).
      RoutingCache one;
      ResolvedStep probe = small_step(layouts.front(), mode, 1.0, 0, routing);
      probe.options.routing_cache = &one;
      (void)simulate_step(probe.model, *probe.mesh, probe.layout, probe.options, *probe.cost);
      const std::int64_t per_step = one.samples();
      REQUIRE(per_step > 0);
      CHECK(one.hits() == 0);

      RoutingCache cache;
      std::int64_t steps = 0;
      for (const std::string& layout : layouts) {
        for (double cf : factors) {
          for (std::uint64_t seed : {0u, 1u}) {
            INFO(routing << " " << layout << " " << mode << " cf " << cf << " seed " << seed);
            ResolvedStep own = small_step(layout, mode, cf, seed, routing);
            ResolvedStep shared = small_step(layout, mode, cf, seed, routing);
            shared.options.routing_cache = &cache;
            check_same(simulate_step(own.model, *own.mesh, own.layout, own.options, *own.cost),
                       simulate_step(shared.model, *shared.mesh, shared.layout, shared.options, *shared.cost));
            ++steps;
          }
        }
      }
      // dp = 8 everywhere, so ep, the mapping and the capacity factor share one draw per seed.
      CHECK(cache.samples() == 2 * per_step);
      CHECK(cache.hits() == (steps - 2) * per_step);
    }
  }
}

TEST_CASE("routing cache: a different data-parallel degree or seed draws again", "[routing_cache]") {
  RoutingCache cache;
  ResolvedStep a = small_step("dp=8,ep=8", "dropless", 1.0, 0);
  a.options.routing_cache = &cache;
  (void)simulate_step(a.model, *a.mesh, a.layout, a.options, *a.cost);
  const std::int64_t first = cache.samples();
  REQUIRE(first > 0);
  CHECK(cache.hits() == 0);
  ResolvedStep b = small_step("dp=4,ep=4,mp=2", "dropless", 1.0, 0);  // other group sizes: no hit
  b.options.routing_cache = &cache;
  (void)simulate_step(b.model, *b.mesh, b.layout, b.options, *b.cost);
  CHECK(cache.hits() == 0);
  ResolvedStep c = small_step("dp=8,ep=8", "dropless", 1.0, 1);  // another seed: no hit
  c.options.routing_cache = &cache;
  (void)simulate_step(c.model, *c.mesh, c.layout, c.options, *c.cost);
  CHECK(cache.hits() == 0);
  CHECK(cache.samples() == 3 * first);
}

TEST_CASE("routing cache: over its byte limit it samples without storing, same results", "[routing_cache]") {
  RoutingCache full(0);
  ResolvedStep own = small_step("dp=8,ep=4", "capacity", 1.0, 3);
  ResolvedStep shared = small_step("dp=8,ep=4", "capacity", 1.0, 3);
  shared.options.routing_cache = &full;
  check_same(simulate_step(own.model, *own.mesh, own.layout, own.options, *own.cost),
             simulate_step(shared.model, *shared.mesh, shared.layout, shared.options, *shared.cost));
  (void)simulate_step(shared.model, *shared.mesh, shared.layout, shared.options, *shared.cost);
  CHECK(full.stored_bytes() == 0);
  CHECK(full.hits() == 0);
  CHECK(full.samples() > 0);
}

TEST_CASE("routing cache: a pipelined top-8 step simulated with the cache equals the step without it", "[workloads][routing]") {
  const workloads::Model m = workloads::load_model("olmoe-1b-7b");
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-2");
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  workloads::Layout layout;
  layout.dp = 8;
  layout.ep = 8;
  layout.pp = 2;
  workloads::StepOptions so;
  so.training.batch_tokens = 16 * m.input_length;
  so.training.micro_batches = 2;
  so.mode = workloads::ExecutionMode::dropless;
  so.network_model = workloads::NetworkModel::isolated;
  const workloads::StepResult plain = workloads::simulate_step(m, mesh, layout, so, *cost);
  workloads::RoutingCache memo;
  so.routing_cache = &memo;
  const workloads::StepResult first = workloads::simulate_step(m, mesh, layout, so, *cost);
  const workloads::StepResult second = workloads::simulate_step(m, mesh, layout, so, *cost);
  CHECK(memo.samples() > 0);
  CHECK(memo.hits() == memo.samples());  // the second step drew nothing itself
  CHECK(first.step_time_s == plain.step_time_s);
  CHECK(second.step_time_s == plain.step_time_s);
  CHECK(second.max_expert_load_ratio == plain.max_expert_load_ratio);
  CHECK(second.drop_fraction == plain.drop_fraction);
}
