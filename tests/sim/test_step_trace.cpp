// The step trace (sim/step_schedule_trace.hpp): args on every slice, identical
// device timelines written once, --trace-all-devices writing each. The schedule
// is set by hand, so every figure below is known exactly.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/step_schedule_trace.hpp"

using namespace switchsim::sim;
using switchsim::json;
using switchsim::kernels::OpKind;
using switchsim::kernels::OpShape;

namespace {

// 4 devices: a matmul on all (2 x 64 x 32 x 16), then an all-to-all in pairs {0,1}, {2,3}
// of 1 MB per device, named as the step builder names them (micro-batch 1, forward).
struct Step {
  OpGraph graph{4};
  StepSchedule schedule;
  OpId matmul = 0;
  OpId a2a = 0;
  Step() {
    OpShape s;
    s.kind = OpKind::matmul;
    s.batch = 2;
    s.m = 64;
    s.n = 32;
    s.k = 16;
    matmul = graph.add_compute("mb1.enc0.ffn.wi.fwd", "mb1.enc0", graph.add_all_devices(), s, {});
    const PartitionId pairs = graph.add_partition({{0, 1}, {2, 3}});
    a2a = graph.add_collective("mb1.enc0.switch.dispatch_a2a.fwd", "mb1.enc0", pairs, CollectiveOp::all_to_all, 1e6,
                               {matmul});
    init_schedule(graph, schedule);
    for (std::int64_t i = 0; i < 4; ++i) {
      set(matmul, i, 0.0, 1e-3);
      set(a2a, i, 1e-3, 3e-3);
    }
  }
  void set(OpId op, std::int64_t member, double start, double end) {
    const auto k = static_cast<std::size_t>(schedule.offsets[static_cast<std::size_t>(op)] + member);
    schedule.start_s[k] = start;
    schedule.end_s[k] = end;
  }
};

struct Written {
  std::map<std::int64_t, std::string> process;  // pid -> process name
  std::vector<json> slices;
};

Written written(const TraceWriter& trace) {
  Written w;
  const json j = trace.to_json();  // held: a range-for over a temporary's member would dangle
  for (const json& e : j.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "process_name") w.process[e.at("pid")] = e.at("args").at("name");
    if (e.at("ph") == "X") w.slices.push_back(e);
  }
  return w;
}

const json* slice(const Written& w, const std::string& name, std::int64_t pid) {
  for (const json& e : w.slices) {
    if (e.at("name") == name && e.at("pid") == pid) return &e;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("step trace: every slice carries its op's args (FLOPs, bytes, group, members, peer)", "[sim][trace]") {
  Step st;
  TraceWriter trace;
  (void)add_step_to_trace(st.graph, st.schedule, trace, {.all_devices = true});
  const Written w = written(trace);
  REQUIRE(w.slices.size() == 8);
  for (const json& e : w.slices) {
    REQUIRE(e.contains("args"));
    CHECK(e.at("args").at("op") == e.at("name"));
    CHECK(e.at("args").at("micro_batch") == 1);
    CHECK(e.at("args").at("pass") == "forward");
    CHECK(e.at("args").at("layer") == "mb1.enc0");
  }
  const json* mm = slice(w, "mb1.enc0.ffn.wi.fwd", 0);
  REQUIRE(mm != nullptr);
  CHECK(mm->at("args").at("kind") == "compute");
  CHECK(mm->at("args").at("op_kind") == "matmul");
  CHECK(mm->at("args").at("flops").get<double>() == 2.0 * 2 * 64 * 32 * 16);
  // bf16 operands: batch * (m*k + k*n + m*n) * 2 bytes.
  CHECK(mm->at("args").at("bytes").get<double>() == 2.0 * (64 * 16 + 16 * 32 + 64 * 32) * 2);
  // Device 3 (pid 3): the second pair, position 1, its peer device 2.
  const json* a2a = slice(w, "mb1.enc0.switch.dispatch_a2a.fwd", 3);
  REQUIRE(a2a != nullptr);
  const json& a = a2a->at("args");
  CHECK(a.at("kind") == "all_to_all");
  CHECK(a.at("collective") == "all-to-all");
  CHECK(a.at("bytes").get<double>() == 1e6);
  CHECK(a.at("group") == 1);
  CHECK(a.at("group_size") == 2);
  CHECK(a.at("members") == "2-3");
  CHECK(a.at("peer") == 2);
  CHECK(a2a->at("ts").get<double>() == Approx(1e3));
  CHECK(a2a->at("dur").get<double>() == Approx(2e3));
}

TEST_CASE("step trace: a byte-matrix all-to-all shows each device's own row", "[sim][trace]") {
  Step st;
  auto& op = st.graph.op(st.a2a);
  op.matrices = {std::make_shared<const ByteMatrix>(ByteMatrix::from_dense(2, std::vector<double>{0, 5, 7, 0})),
                 std::make_shared<const ByteMatrix>(ByteMatrix::from_dense(2, std::vector<double>{0, 11, 13, 0}))};
  TraceWriter trace;
  (void)add_step_to_trace(st.graph, st.schedule, trace, {.all_devices = true});
  const Written w = written(trace);
  const double expected[] = {5, 7, 11, 13};
  for (std::int64_t d = 0; d < 4; ++d) {
    const json* e = slice(w, "mb1.enc0.switch.dispatch_a2a.fwd", d);
    REQUIRE(e != nullptr);
    CHECK(e->at("args").at("bytes").get<double>() == expected[d]);
  }
  // Different bytes: no two devices are identical, whatever the times.
  CHECK(identical_timeline_classes(st.graph, st.schedule, 4).size() == 4);
}

TEST_CASE("step trace: identical devices are written once with a note, all on request", "[sim][trace]") {
  Step st;
  SECTION("a symmetric step: one process for all four") {
    TraceWriter trace;
    const auto classes = add_step_to_trace(st.graph, st.schedule, trace);
    REQUIRE(classes.size() == 1);
    CHECK(classes[0] == std::vector<switchsim::topology::VertexId>{0, 1, 2, 3});
    const Written w = written(trace);
    REQUIRE(w.process.size() == 1);
    CHECK(w.process.begin()->second == "devices 0-3 (identical timelines)");
    CHECK(w.slices.size() == 2);  // device 0's matmul and all-to-all
  }
  SECTION("--trace-all-devices: one process per device") {
    TraceWriter trace;
    const auto classes = add_step_to_trace(st.graph, st.schedule, trace, {.all_devices = true});
    CHECK(classes.size() == 4);
    const Written w = written(trace);
    REQUIRE(w.process.size() == 4);
    CHECK(w.process.at(2) == "device 2");
    CHECK(w.slices.size() == 8);
  }
  SECTION("a device that ends one op later is its own class") {
    st.set(st.a2a, 2, 1e-3, 3.5e-3);
    TraceWriter trace;
    const auto classes = add_step_to_trace(st.graph, st.schedule, trace);
    REQUIRE(classes.size() == 2);
    CHECK(classes[0] == std::vector<switchsim::topology::VertexId>{0, 1, 3});
    CHECK(classes[1] == std::vector<switchsim::topology::VertexId>{2});
    const Written w = written(trace);
    CHECK(w.process.at(0) == "devices 0-1,3 (identical timelines)");
    CHECK(w.process.at(1) == "device 2");
  }
  SECTION("same times but different work (a ragged member shape) is not identical") {
    OpShape bigger = st.graph.op(st.matmul).shape;
    const OpShape same = bigger;
    bigger.m = 128;
    st.graph.op(st.matmul).member_shapes = {same, same, same, bigger};
    const auto classes = identical_timeline_classes(st.graph, st.schedule, 4);
    REQUIRE(classes.size() == 2);
    CHECK(classes[1] == std::vector<switchsim::topology::VertexId>{3});
  }
  SECTION("max_devices keeps the first devices only") {
    TraceWriter trace;
    const auto classes = add_step_to_trace(st.graph, st.schedule, trace, {.max_devices = 2});
    REQUIRE(classes.size() == 1);
    CHECK(classes[0] == std::vector<switchsim::topology::VertexId>{0, 1});
  }
}

TEST_CASE("step trace: device lists", "[sim][trace]") {
  CHECK(format_device_list({}).empty());
  CHECK(format_device_list({7}) == "7");
  CHECK(format_device_list({0, 1, 2, 3}) == "0-3");
  CHECK(format_device_list({0, 1, 3, 8, 9, 10}) == "0-1,3,8-10");
  CHECK(format_device_list({4, 0, 1}) == "4,0-1");  // ring order kept
}
