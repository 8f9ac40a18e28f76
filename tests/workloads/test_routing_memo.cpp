// The routing memo (workloads/routing_memo.hpp): the same routing as route_layer, shared by
// layouts that differ only in what routing does not read (the mapping, pipeline stages).
#include <catch2/catch.hpp>

#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/layer_routing.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/routing.hpp"
#include "workloads/routing_memo.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;

namespace {

void check_same(const workloads::LayerRouting& a, const workloads::LayerRouting& b) {
  CHECK(a.drops.assignments == b.drops.assignments);
  CHECK(a.drops.dropped == b.drops.dropped);
  CHECK(a.received == b.received);
  REQUIRE(a.sent.size() == b.sent.size());
  for (std::size_t i = 0; i < a.sent.size(); ++i) CHECK(a.sent[i].dense() == b.sent[i].dense());
}

}  // namespace

TEST_CASE("routing memo: the stored routing equals route_layer's, keyed on what it reads", "[workloads][routing]") {
  const workloads::Model m = workloads::load_model("mixtral-8x7b");  // top-2 of 8 experts
  workloads::Layout layout;
  layout.dp = 16;
  layout.ep = 8;
  workloads::RoutingOptions ro;
  ro.mode = workloads::ExecutionMode::dropless;
  ro.seed = 7;
  workloads::RoutingMemo memo;
  ro.memo = &memo;
  const double bytes = 4096.0 * 2.0;
  for (std::uint64_t stream : {0u, 1u, 5u}) {
    const auto first = workloads::route_layer_memoized(&memo, m, layout, 512, 2, 1024, ro, stream, bytes, true);
    const workloads::LayerRouting direct = workloads::route_layer(m, layout, 512, 2, 1024, ro, stream, bytes, true);
    check_same(*first, direct);
    // Another mapping and pipeline depth: the same routing, served from the memo.
    workloads::Layout other = layout;
    other.order = {workloads::Axis::rep, workloads::Axis::ep, workloads::Axis::mp};
    other.pp = 4;
    const auto again = workloads::route_layer_memoized(&memo, m, other, 512, 2, 1024, ro, stream, bytes, true);
    CHECK(again.get() == first.get());
  }
  CHECK(memo.misses() == 3);
  CHECK(memo.hits() == 3);
  // A different seed, group size or capacity is another entry.
  ro.seed = 8;
  const auto s8 = workloads::route_layer_memoized(&memo, m, layout, 512, 2, 1024, ro, 0, bytes, true);
  check_same(*s8, workloads::route_layer(m, layout, 512, 2, 1024, ro, 0, bytes, true));
  const auto g256 = workloads::route_layer_memoized(&memo, m, layout, 256, 2, 1024, ro, 0, bytes, true);
  check_same(*g256, workloads::route_layer(m, layout, 256, 2, 1024, ro, 0, bytes, true));
  CHECK(memo.misses() == 5);
  // Trace routing is not memoized.
  workloads::RoutingOptions traced = ro;
  traced.spec.kind = workloads::RoutingKind::trace;
  CHECK_FALSE(workloads::RoutingMemo::memoizable(traced));
}

TEST_CASE("routing memo: a step simulated with the memo equals the step without it", "[workloads][routing]") {
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
  workloads::RoutingMemo memo;
  so.routing_memo = &memo;
  const workloads::StepResult first = workloads::simulate_step(m, mesh, layout, so, *cost);
  const workloads::StepResult second = workloads::simulate_step(m, mesh, layout, so, *cost);
  CHECK(memo.misses() > 0);
  CHECK(memo.hits() == memo.misses());  // the second step routed nothing itself
  CHECK(first.step_time_s == plain.step_time_s);
  CHECK(second.step_time_s == plain.step_time_s);
  CHECK(second.max_expert_load_ratio == plain.max_expert_load_ratio);
  CHECK(second.drop_fraction == plain.drop_fraction);
}

TEST_CASE("routing: uniform top-2 over 2^n experts draws as the general top-k loop", "[workloads][routing]") {
  // routing.cpp's k = 2 path against the general loop written here: the same bits, the same counts.
  for (std::int64_t E : {2, 8, 64}) {
    int log2E = 0;
    while ((std::int64_t{1} << log2E) < E) ++log2E;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      workloads::Rng a(seed), b(seed);
      workloads::RoutingSpec spec;
      const workloads::RoutingSampler sampler(spec, E, 2, a);
      std::vector<std::int64_t> fast(static_cast<std::size_t>(E), 0), slow(fast);
      sampler.sample_group(a, 4096, 0, fast.data());
      for (int t = 0; t < 4096; ++t) {
        const auto e0 = static_cast<std::int64_t>(b.bits(log2E));
        auto e1 = static_cast<std::int64_t>(b.bits(log2E));
        int tries = 0;
        while (e1 == e0) e1 = ++tries < 64 ? static_cast<std::int64_t>(b.bits(log2E)) : (e1 + 1) % E;
        slow[static_cast<std::size_t>(e0)] += 1;
        slow[static_cast<std::size_t>(e1)] += 1;
      }
      CHECK(fast == slow);
      CHECK(a.next64() == b.next64());  // the same bits consumed
    }
  }
}
