// The planner's pipeline search (planner/pipeline_search.hpp): pp, schedules and virtual stages
// enumerated with the layouts, the busiest stage's memory, bounds with the bubble.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "common/errors.hpp"
#include "planner/bounds.hpp"
#include "planner/candidates.hpp"
#include "planner/pipeline_search.hpp"
#include "tests/planner/candidate_oracle.hpp"
#include "planner/recommend.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;
using switchsim::planner::test::candidate_bound;
using switchsim::planner::test::simulate_candidate;

namespace {

// Llama 3 8B with one K/V head (so mp = 1), half its FFN width, a 32000-token vocabulary and
// 1024-token sequences: 4.2 B parameters at 8 bytes (adafactor: fp32 parameters and gradients)
// need 31 GiB on a TPU v3 core of 16 GiB (limit 14.4) at pp = 1 and 16.6 GiB on the busiest of
// pp = 2 stages; 4 or 8 stages of the 8 cores of tpuv3-2x2 fit.
workloads::Model narrow_llama() {
  workloads::Model m = workloads::load_model("llama3-8b");
  m.name = "narrow-llama";
  m.kv_heads = 1;
  m.d_ff = 7168;
  m.vocab = 32000;
  m.input_length = 1024;
  return m;
}

planner::SearchOptions search_options(std::int64_t batch_tokens) {
  planner::SearchOptions o;
  o.enumeration.training.batch_tokens = batch_tokens;
  o.enumeration.factors = {1.0};
  o.enumeration.dropless = false;
  o.enumeration.zero = 0;
  o.samples = 1;
  o.threads = 2;
  o.top = 3;
  o.network_model = workloads::NetworkModel::isolated;
  return o;
}

}  // namespace

TEST_CASE("planner pipelines: the search options parse and print", "[planner][pipeline]") {
  CHECK(planner::parse_pp_search("auto") == planner::kPpAuto);
  CHECK(planner::parse_pp_search("all") == planner::kPpEvery);
  CHECK(planner::parse_pp_search("4") == 4);
  CHECK(planner::pp_search_to_string(planner::kPpEvery) == "all");
  CHECK(planner::pp_search_to_string(8) == "8");
  for (const char* bad : {"0", "-1", "", "two", "4x", "99999999999"}) {
    try {
      (void)planner::parse_pp_search(bad);
      FAIL("accepted " << bad);
    } catch (const InputError& e) {
      CHECK(e.field() == "--pp");
    }
  }
  CHECK(planner::parse_schedule_search("auto") == planner::kScheduleAuto);
  CHECK(planner::schedule_search_to_string(planner::parse_schedule_search("interleaved")) == "interleaved");
  CHECK(planner::schedule_search_to_string(planner::parse_schedule_search("all")) == "all");
  try {
    (void)planner::parse_schedule_search("zigzag");
    FAIL("accepted zigzag");
  } catch (const InputError& e) {
    CHECK(e.field() == "--pp-schedule");
  }
  // Divisors of the devices up to the layers (olmoe: 16 layers).
  const workloads::Model olmoe = workloads::load_model("olmoe-1b-7b");
  CHECK(planner::pipeline_depths(olmoe, 64) == std::vector<std::int64_t>{2, 4, 8, 16});
  CHECK(planner::pipelines_by_default(topology::build_mesh("dgx-h100-2")));
  CHECK_FALSE(planner::pipelines_by_default(topology::build_mesh("dgx-h100-1")));
  CHECK_FALSE(planner::pipelines_by_default(topology::build_mesh("tpuv3-4x4")));
}

TEST_CASE("planner pipelines: a model that fits only with stages gets a pp > 1 recommendation", "[planner][pipeline]") {
  const workloads::Model m = narrow_llama();
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");  // 8 cores of 16 GiB; pipelines not by default
  const planner::SearchOptions o = search_options(32 * m.input_length);
  const planner::Enumeration en = planner::enumerate_candidates(m, mesh, o.enumeration);
  CHECK(en.pipelines);  // --pp auto: nothing fits at pp = 1
  REQUIRE_FALSE(en.candidates.empty());
  for (const planner::Candidate& c : en.candidates) {
    INFO(c.label());
    CHECK((c.layout.pp == 4 || c.layout.pp == 8));
    CHECK(c.micro_batches % c.layout.pp == 0);
    CHECK(c.memory.total_bytes() <= 0.9 * c.memory.device_memory_bytes);
  }
  // The pp = 1 and pp = 2 layouts are rejected for their parameters, gradients and optimizer state.
  int small = 0;
  for (const planner::Rejection& r : en.rejected) {
    if (r.layout.pp > 2) continue;
    ++small;
    CHECK(r.reason_kind == "memory");
  }
  CHECK(small == 4);  // pp = 1; pp = 2 with 1f1b and interleaved vpp 2, 4
  // Both schedules of auto: 1f1b and interleaved (4 layers per stage: vpp 2 and 4).
  CHECK(std::any_of(en.candidates.begin(), en.candidates.end(),
                    [](const planner::Candidate& c) { return c.schedule == workloads::PipelineSchedule::interleaved && c.layout.vpp == 4; }));
  CHECK(std::none_of(en.candidates.begin(), en.candidates.end(),
                     [](const planner::Candidate& c) { return c.schedule == workloads::PipelineSchedule::gpipe; }));

  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  const planner::RecommendResult r = planner::recommend(m, mesh, o, *cost);
  REQUIRE_FALSE(r.recommendations.empty());
  const planner::Evaluation& best = r.evaluated[r.recommendations.front().evaluation];
  CHECK(best.candidate.layout.pp > 1);
  CHECK(best.memory_per_device_bytes() <= 0.9 * best.memory.device_memory_bytes);
  for (const planner::Evaluation& e : r.evaluated) {
    INFO(e.candidate.label());
    CHECK(e.bound.step_time_s() <= e.step_time_s.min * (1.0 + 1e-9));
  }
}

TEST_CASE("planner pipelines: the bound includes the bubble and stays below the simulated step", "[planner][pipeline]") {
  // 2 nodes (a stage per node at pp = 2) and 4 nodes (stages of 16 GPUs across 2 nodes: mp and ep
  // groups off device 0's node, priced in their own groups: bounds.cpp).
  const workloads::Model m = workloads::load_model("olmoe-1b-7b");
  for (const char* name : {"dgx-h100-2", "dgx-h100-4"}) {
    const topology::Mesh mesh = topology::build_mesh(name);
    planner::EnumerationOptions o = search_options(32 * m.input_length).enumeration;
    o.pp = planner::kPpEvery;
    o.pp_schedule = planner::kScheduleEvery;
    o.factors = {1.0};
    o.dropless = true;
    const planner::Enumeration en = planner::enumerate_candidates(m, mesh, o);
    std::vector<planner::Candidate> piped;
    for (const planner::Candidate& c : en.candidates)
      if (c.layout.pp > 1) piped.push_back(c);
    REQUIRE(piped.size() > 10);
    const auto cost = workloads::make_cost_model(mesh.device_kind, "");
    const planner::MeshCuts cuts = planner::compute_mesh_cuts(mesh);
    sim::CollectiveCache cache(mesh);
    const std::size_t stride = std::max<std::size_t>(1, piped.size() / 20);  // about 20 steps, every kind
    bool seen[3] = {false, false, false};
    for (std::size_t i = 0; i < piped.size(); i += stride) {
      const planner::Candidate& c = piped[i];
      seen[static_cast<int>(c.schedule)] = true;
      const planner::StepBound b = candidate_bound(m, o.training, c, *cost, cuts, &cache);
      const workloads::StepResult r = simulate_candidate(m, mesh, o.training, c, *cost, &cache);
      INFO(name << " " << c.label());
      CHECK(b.step_time_s() <= r.step_time_s * (1.0 + 1e-9));
      CHECK(b.compute_s <= r.compute_lower_bound_s * (1.0 + 1e-9));
      // The fill and drain of the pipeline: the chain exceeds the busiest stage's compute.
      CHECK(b.chain_s > b.compute_s);
    }
    CHECK((seen[0] && seen[1] && seen[2]));
  }
}

TEST_CASE("planner pipelines: the interleaved schedule's bound has the smaller bubble", "[planner][pipeline]") {
  // Same layout and micro-batches: (v m + p - 1) / (v m) < (m + p - 1) / m (bounds.cpp).
  const workloads::Model m = workloads::load_model("olmoe-1b-7b");
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-2");
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  const planner::MeshCuts cuts = planner::compute_mesh_cuts(mesh);
  planner::EnumerationOptions o = search_options(16 * m.input_length).enumeration;
  planner::Candidate c;
  c.layout.dp = 4;
  c.layout.ep = 4;
  c.layout.pp = 4;
  c.micro_batches = 4;
  c.moe_impl = workloads::MoeImpl::gather;
  c.schedule = workloads::PipelineSchedule::one_f_one_b;
  const planner::StepBound one = candidate_bound(m, o.training, c, *cost, cuts, nullptr);
  c.schedule = workloads::PipelineSchedule::interleaved;
  c.layout.vpp = 2;
  const planner::StepBound two = candidate_bound(m, o.training, c, *cost, cuts, nullptr);
  c.layout.vpp = 4;
  const planner::StepBound four = candidate_bound(m, o.training, c, *cost, cuts, nullptr);
  CHECK(one.compute_s == Approx(two.compute_s).epsilon(1e-12));  // the same ops per device
  CHECK(two.chain_s < one.chain_s);
  CHECK(four.chain_s < two.chain_s);
  // Every schedule's chain has the fill and drain on top of the busiest stage's compute.
  CHECK(four.chain_s > four.compute_s);
}

TEST_CASE("planner pipelines: stage counts that do not divide are recorded as rejections", "[planner][pipeline]") {
  const workloads::Model m = workloads::load_model("olmoe-1b-7b");  // 16 layers
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-2");  // 16 devices
  planner::EnumerationOptions o = search_options(16 * m.input_length).enumeration;
  for (const std::int64_t pp : {3, 32}) {
    o.pp = pp;
    // 32 stages: a divisor of dgx-h100-4's 32 devices, but more than the layers.
    const planner::Enumeration en = planner::enumerate_candidates(m, topology::build_mesh(pp == 3 ? "dgx-h100-2" : "dgx-h100-4"), o);
    INFO("pp=" << pp);
    CHECK(en.candidates.empty());
    REQUIRE(en.rejected.size() == 1);
    CHECK(en.rejected[0].reason_kind == "divisibility");
    CHECK(en.rejected[0].layout.pp == pp);
    CHECK(en.rejected[0].reason.find(pp == 3 ? "does not divide the 16 devices" : "more stages than the 16 layers") !=
          std::string::npos);
  }
  // Interleaved with one layer per stage: no vpp divides it.
  o.pp = 16;
  o.pp_schedule = static_cast<std::int32_t>(workloads::PipelineSchedule::interleaved);
  const planner::Enumeration en = planner::enumerate_candidates(m, mesh, o);
  CHECK(en.candidates.empty());
  REQUIRE_FALSE(en.rejected.empty());
  CHECK(en.rejected[0].reason.find("vpp") != std::string::npos);
  // A fixed ZeRO stage with pipelines: every pp = 2 candidate has it, and shards its optimizer
  // state (the busiest stage's, pipeline_memory.hpp) against the same candidate at stage 0.
  o.pp = 2;
  o.pp_schedule = planner::kScheduleAuto;
  o.zero = 0;
  const planner::Enumeration z0 = planner::enumerate_candidates(m, mesh, o);
  o.zero = 1;
  const planner::Enumeration z1 = planner::enumerate_candidates(m, mesh, o);
  REQUIRE_FALSE(z1.candidates.empty());
  bool compared = false;
  for (const planner::Candidate& c : z1.candidates) {
    CHECK(c.zero == 1);
    CHECK(c.layout.pp == 2);
    for (const planner::Candidate& b : z0.candidates) {
      const bool same = b.layout.to_string() == c.layout.to_string() && b.mode == c.mode &&
                        b.capacity_factor == c.capacity_factor && b.micro_batches == c.micro_batches &&
                        b.schedule == c.schedule && b.layout.dp > 1;
      if (!same) continue;
      CHECK(c.memory.optimizer_bytes < b.memory.optimizer_bytes);
      compared = true;
    }
  }
  CHECK(compared);
}

TEST_CASE("planner pipelines: --pp 1 and a TPU mesh that fits search exactly the pp = 1 space", "[planner][pipeline]") {
  const workloads::Model m = workloads::load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  planner::EnumerationOptions o;
  o.training.batch_tokens = std::int64_t{1} << 16;
  const planner::Enumeration dflt = planner::enumerate_candidates(m, mesh, o);
  o.pp = 1;
  const planner::Enumeration one = planner::enumerate_candidates(m, mesh, o);
  CHECK_FALSE(dflt.pipelines);
  REQUIRE(dflt.candidates.size() == one.candidates.size());
  for (std::size_t i = 0; i < one.candidates.size(); ++i) CHECK(dflt.candidates[i].label() == one.candidates[i].label());
  for (const planner::Candidate& c : dflt.candidates) CHECK(c.layout.pp == 1);
}
