// Per-op accounting (workloads/op_accounting.hpp): hand-made graphs with known
// FLOPs and durations, and whole steps whose critical-path rows must add up to
// the executor's breakdown.
#include <catch2/catch.hpp>

#include "kernels/calibrated_cost_model.hpp"
#include "sim/step_executor.hpp"
#include "tests/workloads/fixed_cost.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/op_accounting.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::FixedCost;

namespace {

const OpKindRow* row(const OpAccounting& a, const std::string& kind) {
  for (const auto& r : a.rows) {
    if (r.kind == kind) return &r;
  }
  return nullptr;
}

kernels::OpShape matmul(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k) {
  kernels::OpShape s;
  s.kind = kernels::OpKind::matmul;
  s.batch = batch;
  s.m = m;
  s.n = n;
  s.k = k;
  return s;
}

}  // namespace

TEST_CASE("ops table: matmul FLOPs are 2 m n k x batch per device copy, and the rows add up to the step", "[op_accounting]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");  // 8 devices
  sim::OpGraph g(mesh.topology.num_devices());
  const auto all = g.add_all_devices();
  const auto half = g.add_device_set({0, 1, 2, 3});
  const auto part = g.add_partition({{0, 1, 2, 3, 4, 5, 6, 7}});
  const sim::OpId a = g.add_compute("a", "l", all, matmul(3, 4, 5, 6), {});
  const sim::OpId b = g.add_compute("b", "l", half, matmul(1, 7, 10, 10), {a});
  const sim::OpId c = g.add_collective("ar", "l", part, sim::CollectiveOp::all_reduce, 1e6, {b});
  kernels::OpShape e;
  e.kind = kernels::OpKind::elementwise;
  e.m = 2;  // 2 ms with FixedCost
  e.bytes = 1000;
  (void)g.add_compute("e", "l", all, e, {c});
  sim::CollectiveCache cache(mesh);
  const FixedCost cost;
  const sim::StepSchedule s = sim::execute_step(g, cost, cache);
  const OpAccounting acc = account_ops(g, s, cost);

  const OpKindRow* mm = row(acc, "matmul");
  REQUIRE(mm != nullptr);
  CHECK(mm->count == 2);
  CHECK(mm->flops == 2.0 * 3 * 4 * 5 * 6 * 8 + 2.0 * 1 * 7 * 10 * 10 * 4);
  CHECK(mm->time_source == "model");
  CHECK(mm->modelled_members == 12);
  const OpKindRow* ew = row(acc, "elementwise");
  REQUIRE(ew != nullptr);
  CHECK(ew->flops == 0.0);
  CHECK(ew->bytes == 1000.0 * 8);
  const OpKindRow* ar = row(acc, "all-reduce");
  REQUIRE(ar != nullptr);
  CHECK(ar->bytes == 1e6 * 8);
  CHECK(ar->time_source == "network-model");

  // Critical path: a (4 ms) -> b (7 ms) -> all-reduce -> e (2 ms), no gaps.
  const double ar_s = cache.duration_s(sim::CollectiveOp::all_reduce, sim::CollectiveAlgorithm::automatic,
                                       {0, 1, 2, 3, 4, 5, 6, 7}, 1e6, nullptr);
  CHECK(mm->critical_path_s == Approx(11e-3));
  CHECK(ew->critical_path_s == Approx(2e-3));
  CHECK(ar->critical_path_s == Approx(ar_s));
  CHECK(acc.critical_path_s() + acc.idle_s == Approx(s.step_time_s));
}

TEST_CASE("ops table: the critical-path rows equal the breakdown on whole steps", "[op_accounting]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  for (const char* mode : {"capacity", "dropless"}) {
    for (const char* layout : {"dp=8,ep=8", "dp=4,ep=2,mp=2"}) {
      CAPTURE(mode, layout);
      StepOptions o;
      o.training.batch_tokens = 8 * 2 * 512;
      o.mode = parse_mode(mode);
      o.routing = parse_routing("zipf:1.2");
      const StepResult r = simulate_step(m, mesh, parse_layout(layout), o, *cost);
      double compute = 0.0, a2a = 0.0, allreduce = 0.0, other = 0.0;
      for (const auto& k : r.op_accounting.rows) {
        if (k.kind == "all-to-all") {
          a2a += k.critical_path_s;
        } else if (k.kind == "all-reduce") {
          allreduce += k.critical_path_s;
        } else if (k.time_source == "network-model") {
          other += k.critical_path_s;
        } else {
          compute += k.critical_path_s;
        }
      }
      CHECK(compute == Approx(r.breakdown.compute_s).epsilon(1e-9));
      CHECK(a2a == Approx(r.breakdown.all_to_all_s).epsilon(1e-9).margin(1e-15));
      CHECK(allreduce == Approx(r.breakdown.all_reduce_s).epsilon(1e-9).margin(1e-15));
      CHECK(other == Approx(r.breakdown.other_communication_s).margin(1e-15));
      CHECK(r.op_accounting.idle_s == r.breakdown.idle_s);
      CHECK(r.op_accounting.critical_path_s() + r.op_accounting.idle_s == Approx(r.step_time_s).epsilon(1e-9));
      CHECK(r.op_accounting.flops() > 0.0);
      CHECK(row(r.op_accounting, "batched_matmul") != nullptr);
      CHECK(row(r.op_accounting, "all-to-all") != nullptr);
    }
  }
}

TEST_CASE("model FLOPs: 3 x forward FLOPs x sequences, and MFU against the precision's peak", "[op_accounting]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  const Model m = load_model("switch-base");
  const auto cost = make_cost_model("tpuv3", "");
  StepOptions o;
  o.training.batch_tokens = 8 * 2 * 512;
  const StepResult r = simulate_step(m, mesh, parse_layout("dp=8,ep=8"), o, *cost);
  const double per_step = 3.0 * count_forward_flops(m).executed_flops_per_sequence() * 16.0;
  CHECK(r.model_flops.per_step == Approx(per_step));
  CHECK(r.model_flops.per_s_per_device == Approx(per_step / r.step_time_s / 8.0));
  CHECK(r.model_flops.peak_flops_per_device == topology::device_spec("tpuv3").peak_bf16_flops);
  CHECK(r.model_flops.mfu == Approx(r.model_flops.per_s_per_device / topology::device_spec("tpuv3").peak_bf16_flops));
  CHECK(r.model_flops.mfu > 0.0);
  CHECK(r.model_flops.mfu < 1.0);
  const json j = to_json(r);
  CHECK(j.at("mfu").get<double>() == r.model_flops.mfu);
  CHECK(j.at("ops").at("by_kind").is_array());
  CHECK(j.at("op_count").get<std::int64_t>() == r.ops);

  o.training.precision = Precision::fp32;
  const StepResult f = simulate_step(m, mesh, parse_layout("dp=8,ep=8"), o, *cost);
  CHECK(f.model_flops.peak_flops_per_device == topology::device_spec("tpuv3").peak_fp32_flops);
  CHECK(f.model_flops.precision == "fp32");
}

TEST_CASE("ops table: a calibrated profile's measured range gives time source 'profile'", "[op_accounting]") {
  const topology::Mesh mesh = topology::build_mesh("tpuv3-2x2");
  kernels::DeviceCeilings ceilings;
  ceilings.device_kind = "test";
  ceilings.matrix_flops_per_s = 1e12;
  ceilings.vector_flops_per_s = 1e11;
  ceilings.memory_Bps = 1e11;
  // Matmul samples spanning 1e3 .. 1e9 FLOPs per call; nothing for elementwise.
  std::vector<kernels::CalibrationSample> samples;
  for (double work : {1e3, 1e6, 1e9}) {
    kernels::CalibrationSample s;
    s.kind = kernels::OpKind::matmul;
    s.work = work;
    s.median_s = work / 1e11;
    samples.push_back(s);
  }
  const kernels::CalibratedCostModel cost("profile:test", ceilings, samples);
  sim::OpGraph g(mesh.topology.num_devices());
  const auto all = g.add_all_devices();
  const sim::OpId a = g.add_compute("a", "l", all, matmul(1, 64, 64, 64), {});  // 524288 FLOPs: measured
  const sim::OpId b = g.add_compute("b", "l", all, matmul(1, 4096, 4096, 4096), {a});  // 1.4e11: outside
  kernels::OpShape e;
  e.kind = kernels::OpKind::elementwise;
  e.bytes = 4096;
  (void)g.add_compute("e", "l", all, e, {b});
  sim::CollectiveCache cache(mesh);
  const sim::StepSchedule s = sim::execute_step(g, cost, cache);
  const OpAccounting acc = account_ops(g, s, cost);
  const OpKindRow* mm = row(acc, "matmul");
  REQUIRE(mm != nullptr);
  CHECK(mm->time_source == "mixed");
  CHECK(mm->measured_members == 8);
  CHECK(mm->modelled_members == 8);
  CHECK(row(acc, "elementwise")->time_source == "model");
}
