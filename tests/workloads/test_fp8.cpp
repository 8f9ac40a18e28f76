// FP8 (--precision fp8, --fp8-dispatch; workloads/fp8.hpp): the fp8 matrix rate in the cost
// models, refusal on devices without one, the dispatch all-to-all's bytes, memory, and a step.
#include <catch2/catch.hpp>

#include <string>

#include "helpers.hpp"

#include "kernels/roofline_cost_model.hpp"
#include "kernels/shape_aware_cost_model.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/fp8.hpp"
#include "workloads/memory.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_builder.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;

namespace {
kernels::OpShape fp8(kernels::OpShape s) {
  s.precision = kernels::Precision::fp8;
  return s;
}
}  // namespace

TEST_CASE("FP8 halves a compute-bound matmul in the roofline on an FP8-capable device", "[fp8][cost]") {
  for (const char* kind : {"h100", "h800", "b200", "gb200"}) {
    INFO(kind);
    const kernels::DeviceCeilings c = ceilings_from_spec(topology::device_spec(kind));
    const kernels::RooflineCostModel roofline(c);
    // 8192^3: 1.1e12 FLOPs against 0.4 GB (bf16) or 0.27 GB (fp8): compute-bound on all four.
    const kernels::OpShape s = kernels::matmul(8192, 8192, 8192);
    const double bf16_s = roofline.predict(s).seconds - c.launch_overhead_s;
    const double fp8_s = roofline.predict(fp8(s)).seconds - c.launch_overhead_s;
    // time = flops / (peak x efficiency): the fp8 peak is exactly twice the bf16 one.
    CHECK(fp8_s / bf16_s == Approx(0.5).epsilon(1e-12));
    CHECK(bf16_s == Approx(s.flops() / (c.matrix_flops_per_s * c.matrix_efficiency)).epsilon(1e-12));
    // The shape-aware model pads the same tiles, so the same ratio for an aligned product.
    const kernels::ShapeAwareCostModel aware(c, geometry_from_spec(topology::device_spec(kind)));
    CHECK((aware.predict(fp8(s)).seconds - c.launch_overhead_s) / (aware.predict(s).seconds - c.launch_overhead_s) ==
          Approx(0.5).epsilon(1e-12));
  }
}

TEST_CASE("FP8 operands move half the bytes, the bf16 output stays", "[fp8][cost]") {
  const kernels::OpShape s = kernels::matmul(100, 30, 20, 2);
  CHECK(s.min_bytes() == 2.0 * (100 * 30 + 30 * 20 + 100 * 20) * 2.0);
  CHECK(fp8(s).min_bytes() == 2.0 * ((100 * 30 + 30 * 20) * 1.0 + 100 * 20 * 2.0));
  // Memory-bound kinds and the attention core keep their own rate and bytes.
  const kernels::DeviceCeilings c = ceilings_from_spec(topology::device_spec("h100"));
  const kernels::RooflineCostModel roofline(c);
  const kernels::OpShape elementwise = kernels::memory_op(kernels::OpKind::elementwise, 1e9);
  CHECK(roofline.predict(fp8(elementwise)).seconds == roofline.predict(elementwise).seconds);
}

TEST_CASE("FP8 on a device without an FP8 path is refused, naming the flag and the device", "[fp8][errors]") {
  for (const char* kind : {"tpuv3", "tpuv4", "a100", "tpuv5p", "tpuv5e"}) {
    INFO(kind);
    const kernels::RooflineCostModel roofline(ceilings_from_spec(topology::device_spec(kind)));
    try {
      (void)roofline.predict(fp8(kernels::matmul(128, 128, 128)));
      FAIL("no error");
    } catch (const InputError& e) {
      CHECK(e.field() == "--precision");
      CHECK(e.reason().find(kind) != std::string::npos);
    }
    TrainingSetup setup;
    setup.precision = Precision::fp8;
    CHECK(field_of([&] { validate_precision(setup, kind, false); }) == "--precision");
  }
  TrainingSetup setup;
  setup.precision = Precision::fp8;
  CHECK(field_of([&] { validate_precision(setup, "h100", false); }) == "(no error)");
  CHECK(field_of([&] { validate_precision(setup, "h100", true); }) == "--precision");  // a measured profile
  setup.precision = Precision::bf16;
  setup.fp8_dispatch = true;
  CHECK(field_of([&] { validate_precision(setup, "h100", false); }) == "--fp8-dispatch");
  CHECK(field_of([] { (void)parse_precision("fp16"); }) == "--precision");
}

namespace {
struct A2aBytes {
  double dispatch_fwd = 0.0, dispatch_bwd = 0.0, combine_fwd = 0.0, combine_bwd = 0.0;
};
A2aBytes a2a_bytes(const sim::OpGraph& g) {
  A2aBytes b;
  for (sim::OpId i = 0; i < g.num_ops(); ++i) {
    const sim::Op& op = g.op(i);
    if (op.type != sim::OpType::collective || op.collective != sim::CollectiveOp::all_to_all) continue;
    double bytes = op.bytes_per_device;
    if (!op.matrices.empty()) {
      bytes = 0.0;
      for (const auto& m : op.matrices)
        for (std::int32_t r = 0; r < m->n(); ++r) bytes += m->row_sum(r);
    }
    const bool fwd = op.name.ends_with(".fwd");
    if (op.name.find("dispatch_a2a") != std::string::npos) (fwd ? b.dispatch_fwd : b.dispatch_bwd) += bytes;
    if (op.name.find("combine_a2a") != std::string::npos) (fwd ? b.combine_fwd : b.combine_bwd) += bytes;
  }
  return b;
}
}  // namespace

TEST_CASE("FP8 dispatch halves the dispatch all-to-all's bytes; combine and backward stay bf16", "[fp8][step]") {
  const Model m = load_model("switch-base");
  const Layout layout = parse_layout("dp=8,ep=8");
  for (const char* mode : {"capacity", "dropless"}) {
    INFO(mode);
    TrainingSetup bf16;
    bf16.batch_tokens = 8 * 2 * 512;
    bf16.moe_impl = resolve_moe_impl(MoeImpl::automatic, false, std::string(mode) == "dropless");
    RoutingOptions ro;
    ro.mode = parse_mode(mode);
    TrainingSetup f8 = bf16;
    f8.precision = Precision::fp8;
    f8.fp8_dispatch = true;
    const A2aBytes a = a2a_bytes(build_step(m, layout, bf16, derive_step_shape(bf16, m, layout), ro, 8).graph);
    const A2aBytes b = a2a_bytes(build_step(m, layout, f8, derive_step_shape(f8, m, layout), ro, 8).graph);
    REQUIRE(a.dispatch_fwd > 0.0);
    CHECK(b.dispatch_fwd == Approx(0.5 * a.dispatch_fwd).epsilon(1e-12));
    CHECK(b.dispatch_bwd == Approx(a.dispatch_bwd).epsilon(1e-12));
    CHECK(b.combine_fwd == Approx(a.combine_fwd).epsilon(1e-12));
    CHECK(b.combine_bwd == Approx(a.combine_bwd).epsilon(1e-12));
    CHECK(a.dispatch_fwd == Approx(a.combine_fwd).epsilon(1e-12));  // bf16: the transpose, same bytes
  }
}

TEST_CASE("an FP8 step runs the linear products in FP8 and keeps logits, router and attention in bf16", "[fp8][step]") {
  const Model m = load_model("mixtral-8x7b");
  const Layout layout = parse_layout("dp=8,ep=8");
  TrainingSetup setup;
  setup.batch_tokens = 8 * m.input_length;
  setup.precision = Precision::fp8;
  setup.optimizer = Optimizer::adam;
  setup.moe_impl = resolve_moe_impl(MoeImpl::automatic, false, true);
  RoutingOptions ro;
  ro.mode = ExecutionMode::dropless;
  const sim::OpGraph g = build_step(m, layout, setup, derive_step_shape(setup, m, layout), ro, 8).graph;
  int fp8_ops = 0;
  for (sim::OpId i = 0; i < g.num_ops(); ++i) {
    const sim::Op& op = g.op(i);
    if (op.type != sim::OpType::compute) continue;
    const bool is_fp8 = op.shape.precision == kernels::Precision::fp8;
    fp8_ops += is_fp8 ? 1 : 0;
    INFO(op.name);
    if (op.name.find("logits") != std::string::npos || op.shape.kind == kernels::OpKind::router ||
        op.shape.kind == kernels::OpKind::attention || op.shape.kind == kernels::OpKind::elementwise) {
      CHECK_FALSE(is_fp8);
    }
    if (op.name.find(".qkv") != std::string::npos || op.name.find("expert_wi") != std::string::npos ||
        op.name.find("expert_wo") != std::string::npos) {
      CHECK(is_fp8);  // forward, dgrad and wgrad
    }
  }
  CHECK(fp8_ops > 0);
}

TEST_CASE("FP8 memory: linear-layer inputs cached in 1 byte, weights and optimizer unchanged", "[fp8][memory]") {
  const Model m = load_model("mixtral-8x7b");
  const Layout layout = parse_layout("dp=8,ep=8");
  TrainingSetup bf16;
  bf16.batch_tokens = 8 * m.input_length;
  bf16.optimizer = Optimizer::adam;
  bf16.moe_impl = resolve_moe_impl(MoeImpl::automatic, false, true);
  TrainingSetup f8 = bf16;
  f8.precision = Precision::fp8;
  const StepShape shape = derive_step_shape(bf16, m, layout);
  const double slots = static_cast<double>(m.top_k * shape.local_tokens);
  const MemoryEstimate a = estimate_memory(m, layout, bf16, shape, slots, 0.0, 80e9);
  const MemoryEstimate b = estimate_memory(m, layout, f8, shape, slots, 0.0, 80e9);
  CHECK(b.parameters_bytes == a.parameters_bytes);
  CHECK(b.gradients_bytes == a.gradients_bytes);
  CHECK(b.optimizer_bytes == a.optimizer_bytes);
  // Per layer and token, 1 byte less for each linear input: attention d + inner (Mixtral:
  // 4096 + 4096), shared none, expert rows d + d_ff per received slot (4096 + 14336).
  const double T = static_cast<double>(shape.local_tokens);
  const double d = static_cast<double>(m.d_model);
  const double inner = static_cast<double>(m.inner_dim());
  const double per_layer = T * (d + inner) + slots * (d + static_cast<double>(m.expert_width()));
  CHECK(a.activations_bytes - b.activations_bytes ==
        Approx(static_cast<double>(m.encoder_layers) * per_layer).epsilon(1e-12));
}

TEST_CASE("an FP8 step is faster than bf16 on B200 and its JSON records the precision", "[fp8][step]") {
  StepRequest q;
  q.model = "mixtral-8x7b";
  q.mesh = "dgx-b200-1";
  q.layout = "dp=8,ep=8";
  q.mode = "dropless";
  q.optimizer = "adam";
  q.batch_tokens = 8 * 4096;
  q.micro_batches = 1;
  ResolvedStep a = resolve_step_request(q);
  const StepResult ra = simulate_step(a.model, *a.mesh, a.layout, a.options, *a.cost);
  q.precision = "fp8";
  q.fp8_dispatch = true;
  ResolvedStep b = resolve_step_request(q);
  const StepResult rb = simulate_step(b.model, *b.mesh, b.layout, b.options, *b.cost);
  CHECK(rb.step_time_s < ra.step_time_s);
  CHECK(rb.breakdown.compute_s < ra.breakdown.compute_s);
  CHECK(rb.step_time_s > 0.5 * ra.step_time_s);  // attention, logits, memory-bound ops stay bf16
  const json j = to_json(rb);
  CHECK(j.at("precision") == "fp8");
  CHECK(j.at("fp8_dispatch") == true);
  q.mesh = "tpuv5e-4x4";
  q.layout = "dp=16,ep=8";
  CHECK(field_of([&] { (void)resolve_step_request(q); }) == "--precision");
}
