// The step executor on hand-made graphs with a fixed-cost model.
#include <catch2/catch.hpp>

#include "sim/shared_step_executor.hpp"
#include "sim/step_executor.hpp"
#include "tests/workloads/fixed_cost.hpp"
#include "topology/mesh_catalog.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::workloads::test::FixedCost;
using switchsim::workloads::test::ms;

TEST_CASE("ops on one stream run in issue order, streams overlap where deps allow", "[executor]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  OpGraph g(mesh.topology.num_devices());
  const auto all = g.add_all_devices();
  const auto part = g.add_partition({{0, 1, 2, 3, 4, 5, 6, 7}});
  const OpId a = g.add_compute("a", "l", all, ms(2), {});
  const OpId c = g.add_collective("ar", "l", part, CollectiveOp::all_reduce, 1e6, {a});
  const OpId b = g.add_compute("b", "l", all, ms(3), {a});  // independent of the collective
  (void)g.add_compute("d", "l", all, ms(1), {c, b});
  CollectiveCache cache(mesh);
  FixedCost cost;
  const StepSchedule s = execute_step(g, cost, cache);
  const double ar = cache.duration_s(CollectiveOp::all_reduce, CollectiveAlgorithm::automatic,
                                     {0, 1, 2, 3, 4, 5, 6, 7}, 1e6, nullptr);
  // a: [0, 2ms]; all-reduce and b both start at 2 ms (different streams); d after both.
  CHECK(s.start(c, 0) == Approx(2e-3));
  CHECK(s.start(b, 0) == Approx(2e-3));
  const double expected = 2e-3 + std::max(ar, 3e-3) + 1e-3;
  CHECK(s.step_time_s == Approx(expected));
  CHECK(s.critical_path.total_s() == Approx(s.step_time_s));
  CHECK(cache.simulations() == 1);
  CHECK(cache.hits() == 1);  // the test's own lookup was served from the memo
}

TEST_CASE("a collective waits for its slowest member, the straggler is on the critical path", "[executor]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  OpGraph g(mesh.topology.num_devices());
  const auto all = g.add_all_devices();
  const auto part = g.add_partition({{0, 1, 2, 3}, {4, 5, 6, 7}});
  OpId x = g.add_compute("x", "l", all, ms(1), {});
  auto& shapes = g.op(x).member_shapes;
  for (int d = 0; d < 8; ++d) shapes.push_back(ms(d == 5 ? 10 : 1));  // device 5 straggles
  const OpId a2a = g.add_collective("a2a", "l", part, CollectiveOp::all_to_all, 4e6, {x});
  CollectiveCache cache(mesh);
  FixedCost cost;
  const StepSchedule s = execute_step(g, cost, cache);
  CHECK(s.start(a2a, 0) == Approx(1e-3));   // group {0..3}: all done at 1 ms
  CHECK(s.start(a2a, 4) == Approx(10e-3));  // group {4..7} waits for device 5
  CHECK(s.critical_path.compute_s == Approx(10e-3));
  CHECK(s.critical_path.all_to_all_s == Approx(s.step_time_s - 10e-3));
  CHECK(s.critical_path.idle_s == Approx(0.0).margin(1e-15));
  CHECK(s.compute_busy_max_s == Approx(10e-3));
}

TEST_CASE("both executors report progress: ops done only grow, the last report is the whole step", "[executor]") {
  // Hand-made step: a (2 ms) -> all-reduce -> d (1 ms), b (3 ms) after a: 4 ops.
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  OpGraph g(mesh.topology.num_devices());
  const auto all = g.add_all_devices();
  const auto part = g.add_partition({{0, 1, 2, 3, 4, 5, 6, 7}});
  const OpId a = g.add_compute("a", "l", all, ms(2), {});
  const OpId c = g.add_collective("ar", "l", part, CollectiveOp::all_reduce, 1e6, {a});
  const OpId b = g.add_compute("b", "l", all, ms(3), {a});
  (void)g.add_compute("d", "l", all, ms(1), {c, b});
  CollectiveCache cache(mesh);
  FixedCost cost;
  for (const bool shared : {false, true}) {
    INFO((shared ? "shared" : "isolated"));
    std::vector<StepProgress> seen;
    const StepProgressCallback record = [&](const StepProgress& p) { seen.push_back(p); };
    StepSchedule s;
    if (shared) {
      SharedStepOptions o;
      o.progress = record;
      o.progress_interval_s = 0.0;  // every op
      s = execute_step_shared(g, cost, cache, o);
    } else {
      s = execute_step(g, cost, cache, record, 0.0);
    }
    REQUIRE(seen.size() == 5);  // 4 ops, then the final report
    for (std::size_t i = 1; i < seen.size(); ++i) {
      CHECK(seen[i].ops_done >= seen[i - 1].ops_done);
      CHECK(seen[i].now_s >= seen[i - 1].now_s);
      CHECK(seen[i].ops == 4);
    }
    CHECK(seen.back().finished);
    CHECK(seen.back().ops_done == 4);
    CHECK(seen.back().now_s == Approx(s.step_time_s));
    CHECK(!seen.front().finished);
  }
  // With the default interval (1 s) a millisecond step reports only its end.
  std::int64_t reports = 0;
  (void)execute_step(g, cost, cache, [&](const StepProgress& p) { reports += p.finished ? 1 : 100; });
  CHECK(reports == 1);
}
