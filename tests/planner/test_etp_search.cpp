// Expert tensor parallelism in the layout search (planner/candidates.hpp, --etp): which folded
// layouts each search adds, that every one is a valid layout with one mapping, that a folded
// layout whose routing does not split is a divisibility rejection naming --layout.etp, and that
// the lower bound of folded candidates (token slices, etp all-reduce, slice all-gather) stays
// below their simulated step, pp = 1 and pp = 2, capacity and dropless.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>

#include "common/errors.hpp"
#include "planner/bounds.hpp"
#include "planner/candidates.hpp"
#include "tests/planner/candidate_oracle.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"
#include "workloads/training.hpp"

using namespace switchsim;
using planner::test::candidate_bound;
using planner::test::simulate_candidate;

namespace {

using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;  // dp, ep, mp, etp

std::set<Key> folded_keys(const std::vector<workloads::Layout>& layouts) {
  std::set<Key> out;
  for (const workloads::Layout& l : layouts)
    if (l.folded()) out.insert({l.dp, l.ep, l.mp, l.expert_tp()});
  return out;
}

}  // namespace

TEST_CASE("etp search: which folded layouts auto, all and N add", "[planner][etp]") {
  // Mixtral 8x7B (8 experts, 32 heads, 8 K/V heads, expert width 14336) on 16 devices:
  // mp in {1, 2, 4, 8} (the K/V heads), dp = 16 / mp.
  const workloads::Model m = workloads::load_model("mixtral-8x7b");
  const std::vector<workloads::Layout> unfolded = planner::enumerate_layouts(m, 16);
  // auto on a GPU mesh: etp = 1 beside every mp > 1, ep | 8 (all divide 16): 4 per mp, 3 mps.
  std::set<Key> want;
  for (std::int64_t mp : {2, 4, 8})
    for (std::int64_t ep : {1, 2, 4, 8}) want.insert({16 / mp, ep, mp, 1});
  const std::vector<workloads::Layout> gpu = planner::enumerate_expert_layouts(m, 16, planner::kEtpAuto, true);
  CHECK(folded_keys(gpu) == want);
  CHECK(gpu.size() == unfolded.size() + want.size());
  // Folded layouts with ep > dp exist (the expert grid spans the tp ranks): dp = 2, mp = 8, ep = 8.
  CHECK(want.count({2, 8, 8, 1}) == 1);
  for (const workloads::Layout& l : gpu) {
    INFO(l.to_string());
    CHECK_NOTHROW(workloads::validate_layout(l, m, 16, "--layout"));
    if (l.folded()) CHECK(planner::enumerate_mappings(l).size() == 1);
  }
  // auto on a TPU mesh: exactly the unfolded layouts.
  const std::vector<workloads::Layout> tpu = planner::enumerate_expert_layouts(m, 16, planner::kEtpAuto, false);
  CHECK(tpu.size() == unfolded.size());
  CHECK(folded_keys(tpu).empty());
  // all: etp in {1} for mp 2, {1, 2} for mp 4, {1, 2, 4} for mp 8; ep x etp | 16 always here.
  std::set<Key> every;
  for (std::int64_t mp : {2, 4, 8})
    for (std::int64_t etp = 1; etp < mp; etp *= 2)
      for (std::int64_t ep : {1, 2, 4, 8})
        if (16 % (ep * etp) == 0) every.insert({16 / mp, ep, mp, etp});
  CHECK(folded_keys(planner::enumerate_expert_layouts(m, 16, planner::kEtpEvery, false)) == every);
  // N = 2: only layouts whose experts run at etp = 2: unfolded mp = 2, folded mp in {4, 8} at etp 2.
  for (const workloads::Layout& l : planner::enumerate_expert_layouts(m, 16, 2, true)) {
    INFO(l.to_string());
    CHECK(l.expert_tp() == 2);
  }
  // A dense model has no expert grid: the unfolded layouts whatever the search.
  const workloads::Model dense = workloads::load_model("llama3-8b");
  CHECK(planner::enumerate_expert_layouts(dense, 16, planner::kEtpEvery, true).size() ==
        planner::enumerate_layouts(dense, 16).size());
}

TEST_CASE("etp search: parse and refuse", "[planner][etp]") {
  CHECK(planner::parse_etp_search("auto") == planner::kEtpAuto);
  CHECK(planner::parse_etp_search("all") == planner::kEtpEvery);
  CHECK(planner::parse_etp_search("4") == 4);
  for (const char* bad : {"0", "-1", "x", "", "1.5"}) {
    try {
      (void)planner::parse_etp_search(bad);
      FAIL("accepted " << bad);
    } catch (const InputError& e) {
      CHECK(e.field() == "--etp");
    }
  }
  CHECK(planner::etp_search_to_string(planner::kEtpAuto) == "auto");
  CHECK(planner::etp_search_to_string(3) == "3");
}

TEST_CASE("etp search: a folded layout whose routing groups do not split is a divisibility outcome", "[planner][etp]") {
  // One routing group of an odd size per device: s = mp / etp = 2 slices divide neither the one
  // group nor its G tokens (expert_tensor_parallel.hpp).
  workloads::Model m = workloads::load_model("olmoe-1b-7b");
  m.input_length = 1023;  // odd sequences: one group of 1023 tokens per data-parallel rank
  workloads::Layout l;
  l.dp = 4;
  l.ep = 4;
  l.mp = 2;
  l.etp = 1;
  workloads::TrainingSetup setup;
  setup.batch_tokens = 4 * 1023;
  setup.group_tokens = 1023;
  setup.micro_batches = 1;
  const workloads::MicroBatchPlan plan = workloads::plan_micro_batch_count(
      m, l, setup, workloads::ExecutionMode::capacity, 1.0, 80e9, 0.9, 1);
  CHECK(plan.outcome == workloads::MicroBatchPlan::Outcome::divisibility);
  CHECK(plan.divisibility_error.find("--layout.etp") != std::string::npos);
}

TEST_CASE("etp search: the bound of folded candidates stays below their simulated step", "[planner][etp]") {
  // OLMoE (64 experts, top-8) on two DGX H100 nodes: folded candidates at pp = 1 and pp = 2,
  // capacity (gather) and dropless (grouped), etp 1 and 2.
  planner::test::BoundFixture f("olmoe-1b-7b", "dgx-h100-2");
  auto& [m, mesh, cost, cuts, cache] = f;
  planner::EnumerationOptions o;
  o.training.batch_tokens = 32 * m.input_length;
  o.factors = {1.25};
  o.dropless = true;
  o.etp = planner::kEtpEvery;
  o.pp = planner::kPpEvery;
  o.pp_schedule = planner::kScheduleAuto;
  const planner::Enumeration en = planner::enumerate_candidates(m, mesh, o);
  std::vector<planner::Candidate> folded;
  for (const planner::Candidate& c : en.candidates)
    if (c.layout.folded() && c.layout.pp <= 2) folded.push_back(c);
  REQUIRE(folded.size() > 20);
  int checked = 0;
  bool seen_pp2 = false, seen_dropless = false, seen_etp2 = false, seen_wide_ep = false;
  const std::size_t stride = std::max<std::size_t>(1, folded.size() / 14);
  for (std::size_t i = 0; i < folded.size(); i += stride) {
    const planner::Candidate& c = folded[i];
    const planner::StepBound b = candidate_bound(m, o.training, c, *cost, cuts, &cache);
    const workloads::StepResult r = simulate_candidate(m, mesh, o.training, c, *cost, &cache);
    INFO(c.label() << " bound " << b.step_time_s() << " compute " << b.compute_s << " comm " << b.communication_s
                   << " chain " << b.chain_s << " step " << r.step_time_s);
    CHECK(b.step_time_s() <= r.step_time_s * (1.0 + 1e-9));
    CHECK(b.step_time_s() > 0.0);
    seen_pp2 = seen_pp2 || c.layout.pp == 2;
    seen_dropless = seen_dropless || c.mode == workloads::ExecutionMode::dropless;
    seen_etp2 = seen_etp2 || c.layout.expert_tp() == 2;
    seen_wide_ep = seen_wide_ep || c.layout.ep > c.layout.dp;
    ++checked;
  }
  CHECK(checked >= 12);
  CHECK(seen_pp2);
  CHECK(seen_dropless);
  CHECK(seen_etp2);
  CHECK(seen_wide_ep);
}
