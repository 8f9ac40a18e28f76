// The step time's compute-cost uncertainty band (workloads/op_accounting.hpp):
// the linear sum of u_i x t_i over the compute ops on the critical path.
#include <catch2/catch.hpp>

#include <memory>

#include "kernels/cost_model.hpp"
#include "kernels/roofline_cost_model.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

// The step's own cost model, but with matrix products claimed `u_matmul` uncertain
// (as a calibrated profile's fallback outside its measured range is).
class WiderMatmuls final : public kernels::CostModel {
 public:
  WiderMatmuls(const kernels::CostModel& base, double u_matmul) : base_(base), u_matmul_(u_matmul) {}
  [[nodiscard]] kernels::Prediction predict(const kernels::OpShape& op) const override {
    kernels::Prediction p = base_.predict(op);
    if (op.kind == kernels::OpKind::matmul) p.relative_uncertainty = u_matmul_;
    return p;
  }
  [[nodiscard]] std::string name() const override { return "wider:" + base_.name(); }

 private:
  const kernels::CostModel& base_;
  double u_matmul_;
};

ResolvedStep small_step() {
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-2x2";
  q.layout = "dp=8,ep=8";
  q.batch_tokens = 16 * 512;
  return resolve_step_request(q);
}

double critical_seconds_of(const StepResult& r, const std::string& kind) {
  for (const OpKindRow& row : r.op_accounting.rows) {
    if (row.kind == kind) return row.critical_path_s;
  }
  return 0.0;
}

}  // namespace

TEST_CASE("uncertainty: the band is u x the critical compute seconds and contains the step time", "[uncertainty]") {
  ResolvedStep s = small_step();
  // The roofline states one u for every prediction (kernels/roofline_cost_model.hpp), so the
  // band is u x the compute on the critical path.
  const kernels::RooflineCostModel roofline(ceilings_from_spec(topology::device_spec(s.mesh->device_kind)));
  const StepResult r = simulate_step(s.model, *s.mesh, s.layout, s.options, roofline);
  const double u = kernels::kRooflineRelativeUncertainty;
  REQUIRE(u > 0.0);
  CHECK(r.op_accounting.uncertainty_s == Approx(u * r.breakdown.compute_s).epsilon(1e-9));
  const json j = to_json(r);
  CHECK(j.at("step_time_s_low").get<double>() < r.step_time_s);
  CHECK(j.at("step_time_s_high").get<double>() > r.step_time_s);
  CHECK(j.at("step_time_s_high").get<double>() - r.step_time_s == Approx(r.op_accounting.uncertainty_s));
  CHECK(to_text(r).find("uncertainty    +-") != std::string::npos);
  // The shape-aware model states u per shape; its band still holds the step time.
  const StepResult shaped = simulate_step(s.model, *s.mesh, s.layout, s.options, *s.cost);
  CHECK(shaped.op_accounting.uncertainty_s > 0.0);
  CHECK(shaped.op_accounting.uncertainty_s < shaped.step_time_s);
}

TEST_CASE("uncertainty: a less certain op kind widens the band by exactly its share", "[uncertainty]") {
  ResolvedStep s = small_step();
  const kernels::RooflineCostModel roofline(ceilings_from_spec(topology::device_spec(s.mesh->device_kind)));
  const StepResult base = simulate_step(s.model, *s.mesh, s.layout, s.options, roofline);
  const WiderMatmuls wider(roofline, 0.5);
  const StepResult w = simulate_step(s.model, *s.mesh, s.layout, s.options, wider);
  CHECK(w.step_time_s == base.step_time_s);  // same seconds, only the stated uncertainty differs
  const double matmul_s = critical_seconds_of(base, "matmul");
  REQUIRE(matmul_s > 0.0);
  const double u = kernels::kRooflineRelativeUncertainty;
  CHECK(w.op_accounting.uncertainty_s == Approx(base.op_accounting.uncertainty_s + (0.5 - u) * matmul_s).epsilon(1e-9));
  CHECK(w.op_accounting.uncertainty_s > base.op_accounting.uncertainty_s);
}
