// The shared step executor's units (sim/shared_step_executor.hpp): collectives
// whose links and posting clocks no other collective in flight uses are timed
// from the memo even while others run; the result must equal running every flow
// through one network (replay_alone = false) in every case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "sim/shared_step_executor.hpp"
#include "sim/step_executor.hpp"
#include "tests/workloads/fixed_cost.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/mesh_file.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::workloads::test::FixedCost;
using switchsim::workloads::test::ms;

namespace {

constexpr double kLinkBps = 10e9;
constexpr double kLatency = 1e-6;

// Two switches, A (devices 0-3) and B (devices 4-7), one A-B link: pairs inside
// one switch use only their own two device links; pairs across share A-B.
topology::Mesh two_switches() {
  json v = json::array();
  std::vector<std::string> names;
  for (int d = 0; d < 8; ++d) {
    std::string name = "d";
    name += std::to_string(d);
    names.push_back(name);
    v.push_back({{"name", name}, {"kind", "device"}});
  }
  v.push_back({{"name", "A"}, {"kind", "switch"}});
  v.push_back({{"name", "B"}, {"kind", "switch"}});
  json links = json::array();
  auto link = [&](const std::string& a, const std::string& b) {
    links.push_back({{"src", a}, {"dst", b}, {"bandwidth_Bps", kLinkBps}, {"latency_s", kLatency}, {"kind", "nic"},
                     {"efficiency", 1.0}, {"duplex", true}});
  };
  for (int d = 0; d < 8; ++d) link(names[static_cast<std::size_t>(d)], d < 4 ? "A" : "B");
  link("A", "B");
  return topology::mesh_from_json({{"name", "two-switches"}, {"device_kind", "h100"}, {"vertices", v}, {"links", links}},
                                  "two-switches");
}

struct Run {
  StepSchedule schedule;
  SharedStepStats stats;
};

Run run(const OpGraph& g, const topology::Mesh& mesh, bool memo) {
  FixedCost cost;
  CollectiveCache cache(mesh);
  SharedStepOptions options;
  options.replay_alone = memo;
  Run r;
  r.schedule = execute_step_shared(g, cost, cache, options, &r.stats);
  return r;
}

void check_same_schedule(const StepSchedule& a, const StepSchedule& b) {
  REQUIRE(a.end_s.size() == b.end_s.size());
  CHECK(a.step_time_s == Approx(b.step_time_s).epsilon(1e-9));
  for (std::size_t k = 0; k < a.end_s.size(); ++k) {
    CHECK(a.start_s[k] == Approx(b.start_s[k]).epsilon(1e-9).margin(1e-15));
    CHECK(a.end_s[k] == Approx(b.end_s[k]).epsilon(1e-9).margin(1e-15));
  }
}

}  // namespace

TEST_CASE("shared step units: overlapping collectives on disjoint links are both timed from the memo",
          "[executor][shared]") {
  const topology::Mesh mesh = two_switches();
  OpGraph g(8);
  const auto all = g.add_all_devices();
  const double bytes = 64e6;
  // {0,1} starts at 0 and {2,3} 1 ms later, while the first still drains (3.2 ms alone):
  // both inside switch A, on their own device links only.
  (void)g.add_collective("first", "l", g.add_partition({{0, 1}}), CollectiveOp::all_to_all, bytes, {});
  const OpId wait = g.add_compute("wait", "l", all, ms(1), {});
  (void)g.add_collective("second", "l", g.add_partition({{2, 3}}), CollectiveOp::all_to_all, bytes, {wait});
  const Run memo = run(g, mesh, true);
  const Run every_flow = run(g, mesh, false);
  CHECK(memo.stats.memo_alone == 2);
  CHECK(memo.stats.replayed == 0);
  CHECK(memo.stats.flows == 0);
  CHECK(every_flow.stats.flows > 0);
  check_same_schedule(memo.schedule, every_flow.schedule);
  // By hand: each drains bytes / 2 over its own 10 GB/s links, unslowed: the second ends at 1 + 3.2 ms.
  const double overhead = kDefaultMessageOverhead_s[static_cast<std::size_t>(topology::LinkKind::nic)];
  CHECK(memo.schedule.step_time_s == Approx(1e-3 + bytes / 2 / kLinkBps + 2 * kLatency + overhead).epsilon(1e-9));
}

TEST_CASE("shared step units: a collective that meets two alone units replays both together", "[executor][shared]") {
  const topology::Mesh mesh = two_switches();
  OpGraph g(8);
  const auto all = g.add_all_devices();
  const double bytes = 64e6;
  (void)g.add_collective("a", "l", g.add_partition({{0, 4}}), CollectiveOp::all_to_all, bytes, {});
  const OpId w1 = g.add_compute("w1", "l", all, ms(1), {});
  (void)g.add_collective("b", "l", g.add_partition({{2, 3}}), CollectiveOp::all_to_all, bytes, {w1});
  const OpId w2 = g.add_compute("w2", "l", all, ms(1), {w1});
  // {3, 5} shares device 3's link
  // with "b" and the A-B link with "a": it meets both units (on the second stream, so that
  // device 3's first stream, busy with "b", does not hold it back).
  const OpId c = g.add_collective("c", "l", g.add_partition({{3, 5}}), CollectiveOp::all_to_all, bytes, {w2});
  g.op(c).comm_stream = 1;
  const Run memo = run(g, mesh, true);
  const Run every_flow = run(g, mesh, false);
  CHECK(memo.stats.replayed == 1);
  CHECK(memo.stats.memo_alone == 2);
  check_same_schedule(memo.schedule, every_flow.schedule);
}

TEST_CASE("shared step units: random steps give the same schedule with and without the memo",
          "[executor][shared]") {
  // Random compute and collectives on random groups of two meshes (posted messages on the
  // switch pair; NCCL step costs on two DGX H100 nodes), every collective on a random
  // communication stream: alone units, merges, replays and simulated units all occur.
  std::vector<topology::Mesh> meshes;
  meshes.push_back(two_switches());
  meshes.push_back(topology::build_mesh("dgx-h100-2"));
  std::int64_t alone = 0, replayed = 0;
  for (std::size_t mi = 0; mi < meshes.size(); ++mi) {
    const topology::Mesh& mesh = meshes[mi];
    const std::int32_t n = mesh.topology.num_devices();
    for (std::uint32_t seed = 1; seed <= 12; ++seed) {
      std::mt19937 rng(seed * 7919U + static_cast<std::uint32_t>(mi));
      std::vector<topology::VertexId> devices(static_cast<std::size_t>(n));
      for (std::int32_t d = 0; d < n; ++d) devices[static_cast<std::size_t>(d)] = d;
      OpGraph g(n);
      std::vector<OpId> ops;
      for (int i = 0; i < 24; ++i) {
        std::vector<OpId> deps;
        if (!ops.empty() && rng() % 3 != 0) deps.push_back(ops[rng() % ops.size()]);
        if (rng() % 3 == 0) {
          std::shuffle(devices.begin(), devices.end(), rng);
          const auto k = static_cast<std::size_t>(1 + rng() % 3);
          const std::vector<topology::VertexId> some(devices.begin(), devices.begin() + static_cast<std::ptrdiff_t>(k));
          ops.push_back(g.add_compute("c", "l", g.add_device_set(some), ms(1 + rng() % 3), deps));
        } else {
          std::shuffle(devices.begin(), devices.end(), rng);
          const std::size_t size = rng() % 2 == 0 ? 2 : 4;
          std::vector<std::vector<topology::VertexId>> groups;
          const std::size_t count = 1 + rng() % 2;
          for (std::size_t gi = 0; gi < count; ++gi) {
            std::vector<topology::VertexId> group(devices.begin() + static_cast<std::ptrdiff_t>(gi * size),
                                                  devices.begin() + static_cast<std::ptrdiff_t>((gi + 1) * size));
            std::sort(group.begin(), group.end());
            groups.push_back(group);
          }
          const CollectiveOp op = rng() % 2 == 0 ? CollectiveOp::all_to_all : CollectiveOp::all_reduce;
          const OpId c = g.add_collective("x", "l", g.add_partition(groups), op, 1e6 * static_cast<double>(1 + rng() % 64), deps);
          g.op(c).comm_stream = static_cast<std::uint8_t>(rng() % 2);
          ops.push_back(c);
        }
      }
      const Run memo = run(g, mesh, true);
      const Run every_flow = run(g, mesh, false);
      INFO("mesh " << mesh.name << " seed " << seed);
      check_same_schedule(memo.schedule, every_flow.schedule);
      alone += memo.stats.memo_alone;
      replayed += memo.stats.replayed;
    }
  }
  // The cases exercise both paths (not an assertion about the model: about this test's coverage).
  CHECK(alone > 0);
  CHECK(replayed > 0);
}

TEST_CASE("shared step units: without overlapping collectives the isolated schedule is the shared one",
          "[executor][shared]") {
  // sim::collectives_overlap (step_schedule.hpp) on the isolated schedule: the planner's re-rank
  // reuses a step when it is false, because the shared executor then gives the same schedule.
  const topology::Mesh mesh = two_switches();
  FixedCost cost;
  for (const bool concurrent : {false, true}) {
    OpGraph g(8);
    const auto all = g.add_all_devices();
    const OpId a = g.add_collective("a", "l", g.add_partition({{0, 4}}), CollectiveOp::all_to_all, 64e6, {});
    // Sequential: "b" waits for "a" and a compute op; concurrent: "b" starts after 1 ms on its own.
    const OpId w = g.add_compute("w", "l", all, ms(1), concurrent ? std::vector<OpId>{} : std::vector<OpId>{a});
    (void)g.add_collective("b", "l", g.add_partition({{1, 5}}), CollectiveOp::all_reduce, 8e6, {w});
    // A one-member group never uses the network: it does not count.
    (void)g.add_collective("solo", "l", g.add_partition({{6}}), CollectiveOp::all_reduce, 8e6, {});
    CollectiveCache cache(mesh);
    const StepSchedule isolated = execute_step(g, cost, cache);
    CHECK(collectives_overlap(g, isolated) == concurrent);
    if (!concurrent) {
      const StepSchedule shared = execute_step_shared(g, cost, cache);
      REQUIRE(shared.end_s.size() == isolated.end_s.size());
      CHECK(shared.step_time_s == isolated.step_time_s);
      for (std::size_t k = 0; k < shared.end_s.size(); ++k) CHECK(shared.end_s[k] == isolated.end_s[k]);
    }
  }
}
