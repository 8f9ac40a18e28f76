#include "kernels/cost_model.hpp"

namespace switchsim::kernels {

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::matmul: return "matmul";
    case OpKind::batched_matmul: return "batched_matmul";
    case OpKind::router: return "router";
    case OpKind::dispatch: return "dispatch";
    case OpKind::combine: return "combine";
    case OpKind::attention: return "attention";
    case OpKind::elementwise: return "elementwise";
    case OpKind::optimizer: return "optimizer";
  }
  return "unknown";
}

const char* to_string(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::fp32: return "fp32";
    case Precision::fp8: return "fp8";
  }
  return "unknown";
}

namespace {
// Operand bytes per element; an fp8 product writes its output in bf16 (min_bytes).
double element_bytes(Precision p) {
  switch (p) {
    case Precision::fp8: return 1.0;
    case Precision::bf16: return 2.0;
    case Precision::fp32: return 4.0;
  }
  return 2.0;
}
double output_bytes(Precision p) { return p == Precision::fp8 ? 2.0 : element_bytes(p); }
}  // namespace

double OpShape::flops() const {
  const auto b = static_cast<double>(batch);
  const auto dm = static_cast<double>(m);
  const auto dn = static_cast<double>(n);
  const auto dk = static_cast<double>(k);
  switch (kind) {
    case OpKind::matmul:
    case OpKind::batched_matmul: return 2.0 * b * dm * dn * dk;
    case OpKind::router: return b * (2.0 * dm * dn * dk + 5.0 * dm * dn);
    case OpKind::attention: return b * (4.0 * dm * dn * dk + 5.0 * dm * dn);
    case OpKind::dispatch:
    case OpKind::combine:
    case OpKind::elementwise:
    case OpKind::optimizer: return 0.0;
  }
  return 0.0;
}

double OpShape::min_bytes() const {
  if (bytes > 0) return static_cast<double>(bytes);
  const auto b = static_cast<double>(batch);
  const auto dm = static_cast<double>(m);
  const auto dn = static_cast<double>(n);
  const auto dk = static_cast<double>(k);
  const double e = element_bytes(precision);
  switch (kind) {
    case OpKind::matmul:
    case OpKind::batched_matmul: return b * ((dm * dk + dk * dn) * e + dm * dn * output_bytes(precision));
    case OpKind::router: return b * (dm * dk * e + dk * dn * e + dm * dn * 4.0);
    case OpKind::attention: return b * (2.0 * dm * dk + 2.0 * dn * dk) * e;
    case OpKind::dispatch:
    case OpKind::combine:
    case OpKind::elementwise:
    case OpKind::optimizer: return 0.0;
  }
  return 0.0;
}

}  // namespace switchsim::kernels
