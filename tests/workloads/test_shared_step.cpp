// The shared-network step executor (sim/shared_step_executor.hpp) on hand-made
// graphs and meshes, against hand-computed times and the isolated executor.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "sim/shared_step_executor.hpp"
#include "sim/step_executor.hpp"
#include "tests/workloads/fixed_cost.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/mesh_file.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/layout.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::workloads::test::FixedCost;
using switchsim::workloads::test::ms;

namespace {

constexpr double kLinkBps = 10e9;  // every link of the dumbbell
constexpr double kLatency = 1e-6;

// Devices 0, 1 on switch A, devices 2, 3 on switch B, one A-B link (both
// directions): the routes 0 -> 2 and 1 -> 3 share it.
topology::Mesh dumbbell() {
  json v = json::array();
  for (const char* d : {"d0", "d1", "d2", "d3"}) v.push_back({{"name", d}, {"kind", "device"}});
  v.push_back({{"name", "A"}, {"kind", "switch"}});
  v.push_back({{"name", "B"}, {"kind", "switch"}});
  json links = json::array();
  auto link = [&](const char* a, const char* b) {
    links.push_back({{"src", a}, {"dst", b}, {"bandwidth_Bps", kLinkBps}, {"latency_s", kLatency}, {"kind", "nic"},
                     {"efficiency", 1.0}, {"duplex", true}});
  };
  link("d0", "A");
  link("d1", "A");
  link("d2", "B");
  link("d3", "B");
  link("A", "B");
  return topology::mesh_from_json({{"name", "dumbbell"}, {"device_kind", "h100"}, {"vertices", v}, {"links", links}},
                                  "dumbbell");
}
}  // namespace

TEST_CASE("shared step: two collectives on disjoint groups share one link max-min fairly", "[executor][shared]") {
  const topology::Mesh mesh = dumbbell();
  OpGraph g(4);
  const auto part = g.add_partition({{0, 2}, {1, 3}});
  const double bytes = 64e6;  // each device sends bytes / 2 to its peer
  (void)g.add_collective("a2a", "l", part, CollectiveOp::all_to_all, bytes, {});
  CollectiveCache cache(mesh);
  FixedCost cost;
  const StepSchedule isolated = execute_step(g, cost, cache);
  const StepSchedule shared = execute_step_shared(g, cost, cache);
  // Alone: bytes/2 over the A-B link at 10 GB/s plus the latency of 3 hops and one overhead.
  const double overhead = kDefaultMessageOverhead_s[static_cast<std::size_t>(topology::LinkKind::nic)];
  const double alone = bytes / 2 / kLinkBps + 3 * kLatency + overhead;
  CHECK(isolated.step_time_s == Approx(alone).epsilon(1e-9));
  // Together: both groups' flows cross A->B (and B->A): each gets half: twice the drain.
  CHECK(shared.step_time_s == Approx(2 * bytes / 2 / kLinkBps + 3 * kLatency + overhead).epsilon(1e-9));
  CHECK(shared.critical_path.all_to_all_s == Approx(shared.step_time_s));
}

TEST_CASE("shared step: one collective with nothing concurrent equals the isolated model", "[executor][shared]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  OpGraph g(mesh.topology.num_devices());
  const auto all = g.add_all_devices();
  const auto part = g.add_partition({{0, 1, 2, 3, 4, 5, 6, 7}});
  const OpId a = g.add_compute("a", "l", all, ms(2), {});
  const OpId c = g.add_collective("a2a", "l", part, CollectiveOp::all_to_all, 8e6, {a});
  const OpId b = g.add_compute("b", "l", all, ms(1), {c});
  (void)g.add_collective("ar", "l", part, CollectiveOp::all_reduce, 4e6, {b});
  FixedCost cost;
  CollectiveCache cache(mesh);
  const StepSchedule isolated = execute_step(g, cost, cache);
  SharedStepStats from_memo, replayed;
  const StepSchedule shared = execute_step_shared(g, cost, cache, {}, &from_memo);
  SharedStepOptions no_memo;
  no_memo.replay_alone = false;  // every flow through the shared network
  const StepSchedule simulated = execute_step_shared(g, cost, cache, no_memo, &replayed);
  CHECK(shared.step_time_s == isolated.step_time_s);
  CHECK(simulated.step_time_s == Approx(isolated.step_time_s).epsilon(1e-12));
  CHECK(from_memo.memo_alone == 2);
  CHECK(from_memo.flows == 0);
  CHECK(replayed.flows > 0);
  CHECK(shared.critical_path.all_to_all_s == Approx(isolated.critical_path.all_to_all_s));
}

TEST_CASE("shared step: a collective timed alone is replayed when another one starts", "[executor][shared]") {
  const topology::Mesh mesh = dumbbell();
  OpGraph g(4);
  const auto all = g.add_all_devices();
  const auto p0 = g.add_partition({{0, 2}});
  const auto p1 = g.add_partition({{1, 3}});
  const double bytes = 64e6;
  const double alone_drain = bytes / 2 / kLinkBps;  // 3.2 ms
  (void)g.add_collective("first", "l", p0, CollectiveOp::all_to_all, bytes, {});
  // The second starts 1 ms later (after a 1 ms compute op), while the first is still draining.
  const OpId wait = g.add_compute("wait", "l", all, ms(1), {});
  (void)g.add_collective("second", "l", p1, CollectiveOp::all_to_all, bytes, {wait});
  FixedCost cost;
  CollectiveCache cache(mesh);
  SharedStepStats st;
  SharedStepOptions no_memo;
  no_memo.replay_alone = false;
  const StepSchedule direct = execute_step_shared(g, cost, cache, no_memo);
  const StepSchedule s = execute_step_shared(g, cost, cache, {}, &st);
  CHECK(st.replayed == 1);
  CHECK(s.step_time_s == Approx(direct.step_time_s).epsilon(1e-12));
  // Max-min by hand: the first drains alone for 1 ms (10 MB sent), then both share the link
  // (5 GB/s each) until the first's 22 MB are sent (4.4 ms more), then the second finishes
  // its remaining 10 MB alone (1 ms): second drain ends at 1 + 4.4 + 1 = 6.4 ms.
  const double overhead = kDefaultMessageOverhead_s[static_cast<std::size_t>(topology::LinkKind::nic)];
  const double first_left = bytes / 2 - 1e-3 * kLinkBps;
  const double shared_phase = first_left / (kLinkBps / 2);
  const double second_left = bytes / 2 - shared_phase * kLinkBps / 2;
  const double end = 1e-3 + shared_phase + second_left / kLinkBps + 3 * kLatency + overhead;
  CHECK(alone_drain == Approx(3.2e-3));
  CHECK(s.step_time_s == Approx(end).epsilon(1e-9));
}

TEST_CASE("shared step: bucketed gradient sync overlaps the backward pass of a dense step", "[executor][shared]") {
  // T5-Base, dp only on 8 H100s: fused sync waits for the whole backward pass, bucketed
  // starts reducing the first buckets while the rest of the backward pass computes.
  const workloads::Model model = workloads::load_model("t5-base", "--model");
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-1");
  workloads::Layout layout;
  layout.dp = 8;
  layout.ep = 1;
  layout.mp = 1;
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  workloads::StepOptions o;
  o.training.batch_tokens = 8 * 512 * 4;
  o.training.optimizer = workloads::Optimizer::adam;
  o.training.grad_sync = workloads::default_grad_sync(false);
  o.training.grad_sync.kind = workloads::GradSyncKind::fused;
  const auto fused = workloads::simulate_step(model, mesh, layout, o, *cost);
  o.training.grad_sync.kind = workloads::GradSyncKind::bucketed;
  const auto bucketed = workloads::simulate_step(model, mesh, layout, o, *cost);
  // Fused: compute, then one all-reduce of every gradient, then the update.
  CHECK(fused.breakdown.all_reduce_s > 0.0);
  CHECK(fused.overlapped_communication_s == Approx(0.0).margin(1e-12));
  // Bucketed: the same bytes, but all buckets except the ones after the last wgrad overlap
  // compute; the step ends earlier by the part of the all-reduce that is hidden.
  CHECK(bucketed.step_time_s < fused.step_time_s);
  CHECK(bucketed.overlapped_communication_s > 0.0);
  const double hidden = fused.step_time_s - bucketed.step_time_s;
  CHECK(hidden <= fused.breakdown.all_reduce_s * (1 + 1e-9));
  CHECK(bucketed.exposed_communication_s < fused.exposed_communication_s);
  // The compute on the critical path is the same work either way.
  CHECK(bucketed.compute_lower_bound_s == Approx(fused.compute_lower_bound_s));
}

TEST_CASE("shared step: the contention-aware load model sums the link loads of an op's groups", "[executor][shared]") {
  const topology::Mesh mesh = dumbbell();
  OpGraph g(4);
  const auto part = g.add_partition({{0, 2}, {1, 3}});
  const double bytes = 64e6;
  (void)g.add_collective("a2a", "l", part, CollectiveOp::all_to_all, bytes, {});
  FixedCost cost;
  NetworkOptions approx;
  approx.load_model_above_devices = 1;  // every all-to-all by the load model
  CollectiveCache cache(mesh, approx);
  SharedStepStats st;
  const StepSchedule s = execute_step_shared(g, cost, cache, {}, &st);
  CHECK(st.load_modelled == 2);
  CHECK(st.flows == 0);
  // Both groups' bytes / 2 on the A-B link: the busiest link drains 64 MB at 10 GB/s.
  const double overhead = kDefaultMessageOverhead_s[static_cast<std::size_t>(topology::LinkKind::nic)];
  CHECK(s.step_time_s == Approx(bytes / kLinkBps + 3 * kLatency + overhead).epsilon(1e-9));
  // The isolated model prices each group alone: half of it.
  CHECK(execute_step(g, cost, cache).step_time_s == Approx(bytes / 2 / kLinkBps + 3 * kLatency + overhead).epsilon(1e-9));
}

TEST_CASE("shared step: the trace carries link-utilisation counters that never exceed capacity", "[executor][shared]") {
  const workloads::Model model = workloads::load_model("switch-base", "--model");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const workloads::Layout layout = workloads::parse_layout("dp=8,ep=4", "--layout");
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  workloads::StepOptions o;
  o.training.batch_tokens = 8 * 2 * 512;
  TraceWriter trace;
  o.trace = &trace;
  o.trace_max_devices = 2;
  const auto traced = workloads::simulate_step(model, mesh, layout, o, *cost);
  o.trace = nullptr;
  const auto plain = workloads::simulate_step(model, mesh, layout, o, *cost);
  CHECK(traced.step_time_s == Approx(plain.step_time_s).epsilon(1e-12));  // tracing replays every collective
  const json j = trace.to_json();
  std::set<std::string> counters;
  std::int64_t samples = 0;
  bool busy = false;
  for (const json& e : j["traceEvents"]) {
    if (e["ph"] != "C") continue;
    ++samples;
    counters.insert(e["name"].get<std::string>());
    const double u = e["args"]["value"].get<double>();
    CHECK(u >= 0.0);
    CHECK(u <= 1.0 + 1e-9);  // max-min never puts more than a link's capacity on it
    busy = busy || u > 0.99;
  }
  CHECK(samples > 0);
  CHECK(counters.size() <= 16);
  CHECK(busy);  // an all-to-all saturates its bottleneck link
}

TEST_CASE("shared step: with strict priority the all-to-all finishes as if alone", "[executor][shared]") {
  // An all-to-all over {0, 2} and an all-reduce over {1, 3} start together; both cross the
  // A-B link. Plain max-min: they share it. Strict priority: the all-to-all takes it whole.
  const topology::Mesh mesh = dumbbell();
  OpGraph g(4);
  const auto a2a_part = g.add_partition({{0, 2}});
  const auto ar_part = g.add_partition({{1, 3}});
  const double bytes = 64e6;
  const OpId a2a = g.add_collective("a2a", "l", a2a_part, CollectiveOp::all_to_all, bytes, {});
  (void)g.add_collective("ar", "l", ar_part, CollectiveOp::all_reduce, bytes, {});
  FixedCost cost;
  CollectiveCache cache(mesh);
  const double alone = cache.duration_s(CollectiveOp::all_to_all, CollectiveAlgorithm::automatic, {0, 2}, bytes, nullptr);
  const StepSchedule plain = execute_step_shared(g, cost, cache);
  SharedStepOptions prio;
  prio.strict_priority = true;
  const StepSchedule strict = execute_step_shared(g, cost, cache, prio);
  CHECK(plain.end(a2a, 0) > alone * 1.2);                          // slowed down by the all-reduce
  CHECK(strict.end(a2a, 0) == Approx(alone).epsilon(1e-9));       // as if alone
  CHECK(strict.step_time_s >= plain.end(a2a, 0));                  // the all-reduce pays for it
}
