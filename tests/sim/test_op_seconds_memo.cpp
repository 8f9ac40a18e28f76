// The executors' memo of per-member op seconds (sim/step_executor.hpp): keyed by every field of
// the shape, so two shapes that differ in any field are priced apart.
#include <catch2/catch.hpp>

#include <string>

#include "sim/step_executor.hpp"

using namespace switchsim;

TEST_CASE("op-seconds memo: shapes differing in any field are priced apart", "[step_executor]") {
  class ActivationCost final : public kernels::CostModel {
   public:
    [[nodiscard]] kernels::Prediction predict(const kernels::OpShape& op) const override {
      return {1e-3 * static_cast<double>(op.m) + 1e-6 * static_cast<double>(op.activation_elements), 0.0};
    }
    [[nodiscard]] std::string name() const override { return "activation"; }
  } cost;
  sim::ShapeSecondsMemo memo;
  kernels::OpShape a = kernels::matmul(8, 16, 32);
  kernels::OpShape b = a;
  b.activation_elements = 1000;  // the old string key left this field out
  CHECK(sim::member_seconds(a, cost, memo) == Approx(8e-3));
  CHECK(sim::member_seconds(b, cost, memo) == Approx(8e-3 + 1e-3));
  CHECK(sim::member_seconds(a, cost, memo) == Approx(8e-3));
  CHECK(memo.size() == 2);
}
