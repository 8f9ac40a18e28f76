#pragma once
// How long one compute op takes on one device. Two implementations: a roofline
// from the device catalog (roofline_cost_model.hpp) and a model calibrated from
// a measured profile (calibrated_cost_model.hpp). This header depends on
// nothing but the standard library, so sim/ and workloads/ can use it.

#include <cstdint>
#include <string>

namespace switchsim::kernels {

enum class OpKind : std::uint8_t {
  matmul,          // (m,k) x (k,n), `batch` independent copies
  batched_matmul,  // expert FFN: `batch` experts, each (m,k) x (k,n)
  router,          // logits (tokens x d_model x experts) + fp32 softmax + top-k
  dispatch,        // scatter tokens into (E, C, d_model) buffers: bytes moved
  combine,         // gather expert outputs back, weighted by the gate: bytes moved
  attention,       // softmax(QK^T)V for `batch` heads: m = query len, n = key len, k = d_kv
  elementwise,     // bytes read + written
  optimizer,       // parameter update: bytes read + written
};

[[nodiscard]] const char* to_string(OpKind kind);

// fp8: an FP8 matrix product (E4M3 operands, bf16 output, fp32 accumulation: DeepSeek-V3's
// FP8 GEMMs, arXiv 2412.19437 section 3.3), priced at DeviceCeilings::fp8_matrix_flops_per_s.
enum class Precision : std::uint8_t { bf16, fp32, fp8 };
[[nodiscard]] const char* to_string(Precision p);

struct OpShape {
  OpKind kind = OpKind::matmul;
  std::int64_t batch = 1;
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
  std::int64_t bytes = 0;  // for memory-bound kinds: bytes read + written
  Precision precision = Precision::bf16;
  // Elements that also pass through a GELU fused into the op (the GEGLU expert
  // FFN: E * S * d_ff values of gelu(h) * gate); 0 for none (a relu is a
  // negligible pass over the GEMM output). Not counted in flops(): on a CPU
  // the GELU's tanh costs about as much per element as a few hundred FLOPs of
  // GEMM, so the calibrated model times it as its own term.
  std::int64_t activation_elements = 0;

  // Floating-point operations (a multiply-add counts as 2):
  //   matmul, batched_matmul: 2*batch*m*n*k
  //   router (m tokens, k = d_model, n = experts): batch*(2*m*n*k + 5*m*n)
  //          (logits, then exp/sum/divide/compare for the softmax and top-k)
  //   attention (m queries, n keys, k = d_kv, per head): batch*(4*m*n*k + 5*m*n)
  //   dispatch, combine, elementwise, optimizer: 0 (they are memory-bound)
  [[nodiscard]] double flops() const;
  // Bytes the op must at least move through memory. `bytes` when it is set
  // (> 0), for every kind; otherwise, with e = 2 (bf16) or 4 (fp32) bytes:
  //   matmul, batched_matmul: batch*(m*k + k*n + m*n)*e
  //                           fp8: batch*((m*k + k*n)*1 + m*n*2)   (fp8 operands, bf16 output)
  //   router: batch*(m*k*e + k*n*e + m*n*4)   (fp32 probabilities out)
  //   attention: batch*(2*m*k + 2*n*k)*e      (Q, K, V in, output out)
  //   dispatch, combine, elementwise, optimizer: 0 without `bytes`
  // Convention for the Switch layer (kernels/switch_layer.hpp, switch_layer_ops):
  //   dispatch bytes = 2 * E*C*d_model*e (read the token rows, write the padded
  //   (E, C, d_model) buffer), combine bytes = (E*C*d_model + tokens*d_model)*e.
  [[nodiscard]] double min_bytes() const;
};

// A matrix product's shape: `batch` independent (m,k) x (k,n) products.
[[nodiscard]] inline OpShape matmul(std::int64_t m, std::int64_t k, std::int64_t n, std::int64_t batch = 1,
                                    OpKind kind = OpKind::matmul) {
  OpShape s;
  s.kind = kind;
  s.batch = batch;
  s.m = m;
  s.k = k;
  s.n = n;
  return s;
}

// A memory-bound op's shape: `bytes` read + written.
[[nodiscard]] inline OpShape memory_op(OpKind kind, double bytes) {
  OpShape s;
  s.kind = kind;
  s.bytes = static_cast<std::int64_t>(bytes);
  return s;
}

struct Prediction {
  double seconds = 0.0;
  // One standard deviation, relative (0.1 = +-10%). Roofline predictions carry
  // a fixed, documented uncertainty; calibrated ones carry the spread of the
  // measurements they interpolate, larger outside the measured range.
  double relative_uncertainty = 0.0;
};

class CostModel {
 public:
  virtual ~CostModel() = default;
  [[nodiscard]] virtual Prediction predict(const OpShape& op) const = 0;
  // "roofline:h100" or "profile:data/profiles/h200-....json"
  [[nodiscard]] virtual std::string name() const = 0;
};

// What a roofline needs to know about one device (filled from the catalog by
// the caller, so kernels/ does not depend on topology/).
struct DeviceCeilings {
  std::string device_kind;
  double matrix_flops_per_s = 0.0;  // peak bf16 dense, per device
  double fp8_matrix_flops_per_s = 0.0;  // peak fp8 dense, per device; 0: no FP8 matrix path
  double vector_flops_per_s = 0.0;  // peak fp32 non-matrix, per device
  double memory_Bps = 0.0;          // HBM bandwidth, per device
  double matrix_efficiency = 0.7;   // achievable fraction for large matrix products
  double memory_efficiency = 0.8;   // achievable fraction of memory bandwidth
  double launch_overhead_s = 5e-6;  // fixed cost per op
};

}  // namespace switchsim::kernels
