// Enumeration of layouts, mappings and modes; memory feasibility and micro-batches.
#include <catch2/catch.hpp>

#include <set>

#include "planner/candidates.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/model_catalog.hpp"

using namespace switchsim;
using planner::enumerate_candidates;
using planner::enumerate_layouts;
using planner::enumerate_mappings;
using workloads::Layout;

TEST_CASE("planner: layouts of Switch-Base on 32 devices", "[planner]") {
  const workloads::Model m = workloads::load_model("switch-base");
  const auto layouts = enumerate_layouts(m, 32);
  // mp | 12 heads, mp | 2048 d_ff, mp | 32 -> mp in {1, 2, 4}; dp = 32, 16, 8;
  // ep | dp and ep | 128: 6 (1..32), 5 (1..16), 4 (1..8) -> 15 layouts.
  REQUIRE(layouts.size() == 15);
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> seen;
  for (const Layout& l : layouts) {
    CHECK_NOTHROW(workloads::validate_layout(l, m, 32));
    seen.insert({l.dp, l.ep, l.mp});
  }
  CHECK(seen.size() == 15);
  CHECK(seen.count({32, 32, 1}) == 1);
  CHECK(seen.count({8, 8, 4}) == 1);
}

TEST_CASE("planner: dense models only get ep = 1", "[planner]") {
  const workloads::Model m = workloads::load_model("t5-base");
  const auto layouts = enumerate_layouts(m, 32);
  // mp in {1, 2, 4} (12 heads), ep = 1 -> 3 layouts.
  REQUIRE(layouts.size() == 3);
  for (const Layout& l : layouts) CHECK(l.ep == 1);
}

TEST_CASE("planner: mappings differ in placement, the default first", "[planner]") {
  auto ids = [](const Layout& l) {
    std::vector<std::int32_t> v;
    for (std::int64_t r = 0; r < l.replicas(); ++r)
      for (std::int64_t e = 0; e < l.ep; ++e)
        for (std::int64_t k = 0; k < l.mp; ++k) v.push_back(l.device(r, e, k));
    return v;
  };
  Layout three;  // rep = 2, ep = 4, mp = 2: three axes of size > 1 -> 3! = 6 orders
  three.dp = 8;
  three.ep = 4;
  three.mp = 2;
  const auto maps = enumerate_mappings(three);
  REQUIRE(maps.size() == 6);
  CHECK(maps.front().order == Layout{}.order);
  std::set<std::vector<std::int32_t>> placements;
  for (const Layout& l : maps) placements.insert(ids(l));
  CHECK(placements.size() == 6);  // every mapping places devices differently

  Layout two;  // rep = 8, ep = 4, mp = 1: 2 orders
  two.dp = 32;
  two.ep = 4;
  CHECK(enumerate_mappings(two).size() == 2);
  Layout one;  // ep = dp = 32, mp = 1: one axis, one mapping
  one.dp = 32;
  one.ep = 32;
  CHECK(enumerate_mappings(one).size() == 1);
}

TEST_CASE("planner: received slots before simulating", "[planner]") {
  const workloads::Model m = workloads::load_model("switch-base");
  Layout l;
  l.dp = 32;
  l.ep = 32;
  // G = 16384, E = 128, k = 1, cf = 1.25: C = ceil(1.25 * 16384 / 128) = 160; E x groups x C = 20480.
  CHECK(workloads::planned_received_slots(m, l, 16384, 1, 1.25, workloads::ExecutionMode::capacity) == 20480.0);
  // Two groups of 8192: C = ceil(1.0 * 8192 / 128) = 64 -> 128 x 2 x 64 = 16384.
  CHECK(workloads::planned_received_slots(m, l, 8192, 2, 1.0, workloads::ExecutionMode::capacity) == 16384.0);
  // Dropless: the mean, k x G x groups = 16384.
  CHECK(workloads::planned_received_slots(m, l, 16384, 1, 1.25, workloads::ExecutionMode::dropless) == 16384.0);
}

TEST_CASE("planner: Switch-Base on tpuv3-4x4, every (layout, mode) accepted or rejected", "[planner]") {
  const workloads::Model m = workloads::load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-4x4");
  planner::EnumerationOptions o;  // 4 factors + dropless
  const planner::Enumeration en = enumerate_candidates(m, mesh, o);
  CHECK(en.layouts == 15);
  // Mappings per layout: mp=1: ep=1 and ep=32 one each, ep=2..16 two each -> 10;
  // mp=2: ep=1 two, ep=2,4,8 six each, ep=16 two -> 22; mp=4: ep=1 two, ep=2,4 six each, ep=8 two -> 16.
  CHECK(en.mappings == 48);
  const double limit = o.memory_headroom * topology::device_spec("tpuv3").memory_bytes;
  std::set<std::string> accepted;
  for (const planner::Candidate& c : en.candidates) {
    CHECK_NOTHROW(workloads::validate_layout(c.layout, m, 32));
    CHECK(c.memory.total_bytes() <= limit);
    Layout base = c.layout;
    base.order = Layout{}.order;
    accepted.insert(base.to_string() + (c.mode == workloads::ExecutionMode::dropless ? "d" : std::to_string(c.capacity_factor)));
  }
  const std::set<std::string> kinds = {"divisibility", "memory", "activation_memory", "simulated_memory"};
  for (const planner::Rejection& r : en.rejected) {
    CHECK(!r.reason.empty());
    CHECK(kinds.count(r.reason_kind) == 1);
  }
  // 15 layouts x 5 modes: each pair either has candidates or one rejection.
  CHECK(accepted.size() + en.rejected.size() == 75);
}

TEST_CASE("planner: a model that fits nowhere is rejected with numbers", "[planner]") {
  const workloads::Model m = workloads::load_model("switch-c");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-1x1");  // 2 cores, 16 GiB each
  const planner::Enumeration en = enumerate_candidates(m, mesh, planner::EnumerationOptions{});
  CHECK(en.candidates.empty());
  REQUIRE(!en.rejected.empty());
  for (const planner::Rejection& r : en.rejected) {
    // 1571B parameters x 8 B (fp32 params + grads) / 2 devices >> 0.9 x 16 GiB.
    CHECK(r.memory_per_device_bytes > r.memory_limit_bytes);
    CHECK(r.reason.find("GiB") != std::string::npos);
    // Static state (parameters, gradients, optimizer) alone is over the limit.
    CHECK(r.reason_kind == "memory");
  }
}

TEST_CASE("planner: micro-batches are the smallest count that fits", "[planner]") {
  // T5-Base on 2 cores with 2^20 tokens: 2^19 local tokens per device; activations far above 16 GiB.
  const workloads::Model m = workloads::load_model("t5-base");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-1x1");
  planner::EnumerationOptions o;
  const planner::Enumeration en = enumerate_candidates(m, mesh, o);
  REQUIRE(!en.candidates.empty());
  const double limit = o.memory_headroom * topology::device_spec("tpuv3").memory_bytes;
  for (const planner::Candidate& c : en.candidates) {
    CHECK(c.micro_batches > 1);
    CHECK(c.memory.total_bytes() <= limit);
    workloads::TrainingSetup half = o.training;
    half.micro_batches = c.micro_batches / 2;
    const workloads::StepShape shape = workloads::derive_step_shape(half, m, c.layout);
    const workloads::MemoryEstimate before =
        workloads::estimate_memory(m, c.layout, half, shape, 0.0, 0.0, c.memory.device_memory_bytes);
    CHECK(before.total_bytes() > limit);  // half as many micro-batches would not fit
  }
}

TEST_CASE("planner: bad enumeration options name the flag", "[planner]") {
  const workloads::Model m = workloads::load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-1x1");
  planner::EnumerationOptions o;
  o.memory_headroom = 1.5;
  CHECK_THROWS_WITH(enumerate_candidates(m, mesh, o), Catch::Contains("--memory-headroom"));
  o.memory_headroom = 0.9;
  o.factors.clear();
  o.dropless = false;
  CHECK_THROWS_WITH(enumerate_candidates(m, mesh, o), Catch::Contains("--factors"));
}
