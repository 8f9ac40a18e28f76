// Micro-batches chosen to fit memory (workloads/micro_batches.hpp), as `simulate`
// does when no --micro-batches is given; and the batch-size errors that name
// the sizes that would work.
#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/pipeline_memory.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

StepRequest switch_base_4x4() {
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-4x4";
  return q;
}

}  // namespace

TEST_CASE("micro-batches: simulate without --micro-batches takes the smallest count that fits", "[micro-batches]") {
  const double limit = kDefaultMemoryHeadroom * topology::device_spec("tpuv3").memory_bytes;
  // Given one micro-batch, Switch-Base's 2^20-token batch does not fit a TPU v3 core.
  StepRequest one = switch_base_4x4();
  one.micro_batches = 1;
  const ResolvedStep given = resolve_step_request(one);
  CHECK_FALSE(given.options.training.micro_batches_chosen);
  const StepResult r1 = simulate_step(given.model, *given.mesh, given.layout, given.options, *given.cost);
  CHECK(r1.memory.total_bytes() > limit);

  const ResolvedStep chosen = resolve_step_request(switch_base_4x4());
  CHECK(chosen.options.training.micro_batches_chosen);
  const std::int64_t mb = chosen.options.training.micro_batches;
  REQUIRE(mb > 1);
  CHECK((mb & (mb - 1)) == 0);  // a power of two
  const StepResult r = simulate_step(chosen.model, *chosen.mesh, chosen.layout, chosen.options, *chosen.cost);
  CHECK(r.memory.total_bytes() <= limit);  // capacity mode: the plan's estimate is the simulated one
  CHECK(r.training.micro_batches == mb);
  CHECK(to_json(r).at("micro_batches_chosen") == true);
  // Half as many would not fit.
  StepRequest half = switch_base_4x4();
  half.micro_batches = mb / 2;
  const ResolvedStep h = resolve_step_request(half);
  CHECK(simulate_step(h.model, *h.mesh, h.layout, h.options, *h.cost).memory.total_bytes() > limit);
}

TEST_CASE("micro-batches: the plan's outcomes", "[micro-batches]") {
  const Model base = load_model("switch-base");
  TrainingSetup setup;
  const double tpu_memory = topology::device_spec("tpuv3").memory_bytes;
  // Fits at once with a small batch: one micro-batch.
  setup.batch_tokens = 32 * 512;
  MicroBatchPlan p = plan_micro_batches(base, parse_layout("dp=32,ep=32"), setup, ExecutionMode::capacity, 1.0, tpu_memory);
  CHECK(p.outcome == MicroBatchPlan::Outcome::fits);
  CHECK(p.micro_batches == 1);
  // Switch-XXL's parameters alone exceed 8 cores: no count helps, the plan stops at 1.
  setup.batch_tokens = std::int64_t{1} << 20;
  p = plan_micro_batches(load_model("switch-xxl"), parse_layout("dp=8,ep=8"), setup, ExecutionMode::capacity, 1.0,
                         tpu_memory);
  CHECK(p.outcome == MicroBatchPlan::Outcome::static_too_large);
  CHECK(p.micro_batches == 1);
  // 24 replicas do not divide 2048 sequences.
  p = plan_micro_batches(base, parse_layout("dp=24,ep=8"), setup, ExecutionMode::capacity, 1.0, tpu_memory);
  CHECK(p.outcome == MicroBatchPlan::Outcome::divisibility);
  CHECK(p.divisibility_error.find("--batch-tokens") != std::string::npos);
  // A batch that splits into at most 2 micro-batches and still does not fit: the last count tried.
  // Device memory: the static state plus 30% of one micro-batch's activations (two micro-batches
  // hold about half of them each).
  setup.batch_tokens = 64 * 512;  // 64 sequences over dp = 32: 2 per replica
  const Layout l = parse_layout("dp=32,ep=32");
  const MemoryEstimate whole = plan_micro_batches(base, l, setup, ExecutionMode::capacity, 1.0, 1e15).memory;
  const double fixed = whole.parameters_bytes + whole.gradients_bytes + whole.optimizer_bytes;
  const double small_device = (fixed + 0.3 * (whole.total_bytes() - fixed)) / kDefaultMemoryHeadroom;
  p = plan_micro_batches(base, l, setup, ExecutionMode::capacity, 1.0, small_device);
  CHECK(p.outcome == MicroBatchPlan::Outcome::activations);
  CHECK(p.micro_batches == 2);
}

TEST_CASE("micro-batches: a batch that does not divide names the nearest sizes that do", "[micro-batches]") {
  // 24 GPUs: 2048 sequences of 512 tokens do not divide over dp = 24; the unit is
  // 24 x 1 x 512 = 12288 tokens, and 2^20 lies between 85 and 86 units.
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "dgx-h100-3";
  q.layout = "dp=24,ep=8";
  try {
    (void)resolve_step_request(q);
    FAIL("a batch that does not divide was accepted");
  } catch (const InputError& e) {
    CHECK(e.field() == "--batch-tokens");
    CHECK(e.reason().find("use a multiple of 12288 tokens, e.g. 1044480 or 1056768") != std::string::npos);
  }
  q.batch_tokens = 1000;  // not a whole number of 512-token sequences: 512 or 1024
  try {
    (void)resolve_step_request(q);
    FAIL("a partial sequence was accepted");
  } catch (const InputError& e) {
    CHECK(e.reason().find("use a multiple of 512 tokens, e.g. 512 or 1024") != std::string::npos);
  }
}

TEST_CASE("micro-batches: a pipeline's count fits its busiest stage, not the whole model on one device", "[micro-batches]") {
  // Mixtral 8x7B with Adam on 64 H100s, pp = 4: the whole model's parameters, gradients and Adam
  // state on one device (ep = 8, tp = 1) exceed 90% of 80 GB, a quarter of the layers do not.
  StepRequest q;
  q.model = "mixtral-8x7b";
  q.mesh = "dgx-h100-8";
  q.layout = "dp=16,ep=8,tp=1,pp=4";
  q.optimizer = "adam";
  q.network_model = "isolated";
  const ResolvedStep chosen = resolve_step_request(q);
  const TrainingSetup& t = chosen.options.training;
  const double memory = topology::device_spec("h100").memory_bytes;
  const double limit = kDefaultMemoryHeadroom * memory;
  CHECK(t.micro_batches_chosen);
  const std::int64_t mb = t.micro_batches;
  CHECK(mb % 4 == 0);
  CHECK(((mb / 4) & (mb / 4 - 1)) == 0);  // pp x a power of two

  auto stage_memory = [&](std::int64_t count, bool whole_model) {
    TrainingSetup s = t;
    s.micro_batches = count;
    const StepShape shape = derive_step_shape(s, chosen.model, chosen.layout);
    const double enc = planned_received_slots(chosen.model, chosen.layout, shape.group_tokens, shape.groups_per_device,
                                              1.0, ExecutionMode::capacity, s.moe_impl);
    if (whole_model) return estimate_memory(chosen.model, chosen.layout, s, shape, enc, 0.0, memory);
    return estimate_pipeline_memory(chosen.model, chosen.layout, s, shape, enc, 0.0, memory).memory;
  };
  const MemoryEstimate whole = stage_memory(mb, true);
  CHECK(whole.parameters_bytes + whole.gradients_bytes + whole.optimizer_bytes > limit);  // why pp = 1 sizing fails
  CHECK(stage_memory(mb, false).total_bytes() <= limit);
  if (mb > 4) CHECK(stage_memory(mb / 2, false).total_bytes() > limit);  // the smallest such count
  const StepResult r = simulate_step(chosen.model, *chosen.mesh, chosen.layout, chosen.options, *chosen.cost);
  CHECK(r.memory.total_bytes() <= limit);
  CHECK(r.training.micro_batches == mb);
}
