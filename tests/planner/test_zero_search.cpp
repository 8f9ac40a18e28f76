// The planner's ZeRO search (planner/candidates.hpp, EnumerationOptions::zero): layouts that fit
// only with sharding become candidates at the lowest stage that fits; rejections name the stage.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <tuple>

#include "common/errors.hpp"
#include "planner/candidates.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/model_catalog.hpp"

using namespace switchsim;

namespace {

planner::EnumerationOptions options(std::int32_t zero) {
  planner::EnumerationOptions o;
  o.training.batch_tokens = std::int64_t{1} << 16;
  o.factors = {1.0};
  o.dropless = false;
  o.zero = zero;
  return o;
}

bool fits_at(const workloads::Model& m, const topology::Mesh& mesh, const planner::Candidate& c, std::int32_t stage) {
  workloads::TrainingSetup setup = options(stage).training;
  setup.moe_impl = c.moe_impl;
  setup.zero_stage = stage;
  return workloads::plan_micro_batches(m, c.layout, setup, c.mode, c.capacity_factor,
                                       topology::device_spec(mesh.device_kind).memory_bytes)
      .fits();
}

}  // namespace

TEST_CASE("planner zero: the search option parses and prints", "[planner][zero]") {
  CHECK(planner::parse_zero_search("auto") == planner::kZeroLowest);
  CHECK(planner::parse_zero_search("all") == planner::kZeroEvery);
  CHECK(planner::parse_zero_search("2") == 2);
  CHECK(planner::zero_search_to_string(planner::kZeroLowest) == "auto");
  CHECK(planner::zero_search_to_string(3) == "3");
  for (const char* bad : {"4", "-1", "", "full", "12"}) {
    try {
      (void)planner::parse_zero_search(bad);
      FAIL("accepted " << bad);
    } catch (const InputError& e) {
      CHECK(e.field() == "--zero");
    }
  }
}

TEST_CASE("planner zero: memory-rejected layouts become candidates at the lowest stage that fits", "[planner][zero]") {
  // Switch-Base (7.4 B parameters, mostly experts) on 8 TPU v3 cores of 16 GiB: layouts with few
  // experts per device fit unsharded, those with ep = 1 or 2 do not.
  const workloads::Model m = workloads::load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const planner::Enumeration none = planner::enumerate_candidates(m, mesh, options(0));
  const planner::Enumeration lowest = planner::enumerate_candidates(m, mesh, options(planner::kZeroLowest));
  const planner::Enumeration every = planner::enumerate_candidates(m, mesh, options(planner::kZeroEvery));

  // Stage 0 alone: today's search; its memory rejections name no stage.
  REQUIRE_FALSE(none.rejected.empty());
  for (const planner::Candidate& c : none.candidates) CHECK(c.zero == 0);
  for (const planner::Rejection& r : none.rejected) CHECK(r.reason.rfind("with --zero", 0) == std::string::npos);

  // auto: every stage-0 candidate is still there, unchanged, and in the same order.
  REQUIRE(lowest.candidates.size() > none.candidates.size());
  std::size_t k = 0;
  for (const planner::Candidate& c : lowest.candidates) {
    if (c.zero != 0) continue;
    REQUIRE(k < none.candidates.size());
    CHECK(c.label() == none.candidates[k].label());
    ++k;
  }
  CHECK(k == none.candidates.size());
  // The new ones: the lowest stage that fits (the one below does not).
  std::int64_t sharded = 0;
  for (const planner::Candidate& c : lowest.candidates) {
    if (c.zero == 0) continue;
    ++sharded;
    INFO(c.label());
    CHECK(c.label().find(" zero=" + std::to_string(c.zero)) != std::string::npos);
    CHECK(fits_at(m, mesh, c, c.zero));
    CHECK_FALSE(fits_at(m, mesh, c, c.zero - 1));
    CHECK(c.memory.fits());
  }
  CHECK(sharded > 0);
  CHECK(lowest.rejected.size() < none.rejected.size());
  // What is still rejected under auto tried every stage up to 3 (dp > 1 everywhere here).
  for (const planner::Rejection& r : lowest.rejected) {
    if (r.reason_kind == "divisibility") continue;
    CHECK(r.zero == 3);
    CHECK(r.reason.rfind("with --zero 3: ", 0) == 0);
  }

  // all: each (layout, mode) that fits from stage s on has one candidate per stage s..3.
  std::map<std::tuple<std::string, double>, std::int32_t> lowest_stage;
  for (const planner::Candidate& c : lowest.candidates)
    lowest_stage[{c.layout.to_string(), c.capacity_factor}] = c.zero;
  std::map<std::tuple<std::string, double>, std::int32_t> stages;
  for (const planner::Candidate& c : every.candidates) ++stages[{c.layout.to_string(), c.capacity_factor}];
  REQUIRE(stages.size() == lowest_stage.size());
  for (const auto& [key, count] : stages) CHECK(count == 4 - lowest_stage.at(key));
}
