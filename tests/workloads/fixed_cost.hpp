#pragma once
// A cost model for executor tests: every op takes `m` milliseconds, m taken from its shape.
#include <cstdint>
#include <string>

#include "kernels/cost_model.hpp"

namespace switchsim::workloads::test {

class FixedCost final : public kernels::CostModel {
 public:
  [[nodiscard]] kernels::Prediction predict(const kernels::OpShape& op) const override {
    return {static_cast<double>(op.m) * 1e-3, 0.0};
  }
  [[nodiscard]] std::string name() const override { return "fixed"; }
};

inline kernels::OpShape ms(std::int64_t m) {
  kernels::OpShape s;
  s.m = m;
  return s;
}

}  // namespace switchsim::workloads::test
