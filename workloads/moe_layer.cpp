#include "workloads/moe_layer.hpp"

#include "common/errors.hpp"

namespace switchsim::workloads {
namespace {

using kernels::OpKind;
using kernels::matmul;
using kernels::memory_op;
using kernels::OpShape;

MoeOp same_both_ways(std::string name, const OpShape& shape) { return MoeOp{std::move(name), shape, shape, false}; }
MoeOp weighted(std::string name, const OpShape& shape) { return MoeOp{std::move(name), shape, shape, true}; }

constexpr double kIndexBytes = 8.0;  // int32 expert id + int32 slot per assignment
constexpr double kGateBytes = 4.0;   // fp32 gate per assignment

}  // namespace

MoeLayerDims moe_layer_dims(MoeImpl impl, const Model& model, const Layout& layout, const LayerDims& dims,
                            std::int64_t tokens, std::int64_t group_tokens, std::int64_t groups, std::int64_t capacity,
                            double act_bytes) {
  MoeLayerDims md;
  md.impl = impl;
  md.tokens = tokens;
  md.group_tokens = group_tokens;
  md.groups = groups;
  md.capacity = capacity;
  md.experts = dims.experts;
  md.ep = layout.ep;
  md.top_k = model.top_k;
  md.d_model = dims.d_model;
  md.d_ff = dims.expert_d_ff;
  md.ffn_matrices = dims.ffn_matrices;
  md.act_bytes = act_bytes;
  return md;
}

std::vector<MoeOp> moe_dispatch_ops(const MoeLayerDims& x) {
  SWITCHSIM_ASSERT(x.impl != MoeImpl::automatic, "MoE implementation resolved before building");
  const double a = x.act_bytes, d = static_cast<double>(x.d_model), T = static_cast<double>(x.tokens);
  const double kT = x.assignments();
  std::vector<MoeOp> ops;
  switch (x.impl) {
    case MoeImpl::einsum: {
      const double elements = static_cast<double>(x.group_tokens) * x.padded_slots();  // g S E C
      const double fwd = elements * (8.0 + a + (a < 4.0 ? a : 0.0));
      const double bwd = elements * (a + 4.0);
      ops.push_back(MoeOp{"dispatch_mask", memory_op(OpKind::dispatch, fwd), memory_op(OpKind::dispatch, bwd), false});
      const std::int64_t EC = x.experts * x.capacity;
      ops.push_back(MoeOp{"dispatch_einsum", matmul(EC, x.group_tokens, x.d_model, x.groups),
                          matmul(x.group_tokens, EC, x.d_model, x.groups), false});
      break;
    }
    case MoeImpl::gather:
      ops.push_back(MoeOp{"dispatch", memory_op(OpKind::dispatch, (kT + x.padded_slots()) * d * a + kIndexBytes * kT),
                          memory_op(OpKind::dispatch, (kT + T) * d * a + kIndexBytes * kT), false});
      break;
    case MoeImpl::grouped:
      ops.push_back(MoeOp{"permute", memory_op(OpKind::dispatch, 2.0 * kT * d * a + kIndexBytes * kT),
                          memory_op(OpKind::dispatch, (kT + T) * d * a + kIndexBytes * kT), false});
      break;
    case MoeImpl::automatic:
      break;
  }
  return ops;
}

std::vector<MoeOp> moe_expert_ops(const MoeLayerDims& x, std::int64_t rows) {
  SWITCHSIM_ASSERT(x.impl != MoeImpl::automatic, "MoE implementation resolved before building");
  const double a = x.act_bytes, d = static_cast<double>(x.d_model), f = static_cast<double>(x.d_ff);
  const double R = static_cast<double>(rows);
  const std::int64_t El = x.local_experts();
  const std::int64_t n_in = (x.ffn_matrices - 1) * x.d_ff;
  std::vector<MoeOp> ops;
  if (x.sorts_by_expert()) ops.push_back(same_both_ways("sort_by_expert", memory_op(OpKind::dispatch, 2.0 * R * d * a)));
  if (x.uneven()) {
    // One grouped GEMM over the device's experts: rows R in all, each expert's weights read once.
    auto grouped = [&](std::int64_t k, std::int64_t n) {
      OpShape s = matmul(rows, k, n, 1, OpKind::batched_matmul);
      const double dk = static_cast<double>(k), dn = static_cast<double>(n);
      s.bytes = static_cast<std::int64_t>((R * dk + static_cast<double>(El) * dk * dn + R * dn) * a);
      return s;
    };
    ops.push_back(weighted("expert_wi", grouped(x.d_model, n_in)));
    ops.push_back(
        same_both_ways("expert_act", memory_op(OpKind::elementwise, static_cast<double>(x.ffn_matrices) * R * f * a)));
    ops.push_back(weighted("expert_wo", grouped(x.d_ff, x.d_model)));
  } else {
    SWITCHSIM_ASSERT(rows % El == 0, "padded rows split evenly over the local experts");
    const std::int64_t per_expert = rows / El;  // ep g C
    ops.push_back(weighted("expert_wi", matmul(per_expert, x.d_model, n_in, El, OpKind::batched_matmul)));
    ops.push_back(
        same_both_ways("expert_act", memory_op(OpKind::elementwise, static_cast<double>(x.ffn_matrices) * R * f * a)));
    ops.push_back(weighted("expert_wo", matmul(per_expert, x.d_ff, x.d_model, El, OpKind::batched_matmul)));
  }
  if (x.sorts_by_expert()) ops.push_back(same_both_ways("unsort", memory_op(OpKind::combine, 2.0 * R * d * a)));
  return ops;
}

std::vector<MoeOp> moe_combine_ops(const MoeLayerDims& x) {
  SWITCHSIM_ASSERT(x.impl != MoeImpl::automatic, "MoE implementation resolved before building");
  const double a = x.act_bytes, d = static_cast<double>(x.d_model), T = static_cast<double>(x.tokens);
  const double kT = x.assignments();
  const double fwd_bytes = (kT + T) * d * a + (kIndexBytes + kGateBytes) * kT;
  // Backward: d buffer written in full (padded P or kT rows), d output and expert outputs read
  // per assignment; indices and gates read, d gate written.
  auto bwd_bytes = [&](double buffer_rows) {
    return (2.0 * kT + buffer_rows) * d * a + (kIndexBytes + 2.0 * kGateBytes) * kT;
  };
  std::vector<MoeOp> ops;
  switch (x.impl) {
    case MoeImpl::einsum: {
      const std::int64_t EC = x.experts * x.capacity;
      // Backward: two products of the forward's size (d expert_outputs and d combine).
      ops.push_back(MoeOp{"combine_einsum", matmul(x.group_tokens, EC, x.d_model, x.groups),
                          matmul(x.group_tokens, EC, x.d_model, 2 * x.groups), false});
      break;
    }
    case MoeImpl::gather:
      ops.push_back(MoeOp{"combine", memory_op(OpKind::combine, fwd_bytes),
                          memory_op(OpKind::combine, bwd_bytes(x.padded_slots())), false});
      break;
    case MoeImpl::grouped:
      ops.push_back(
          MoeOp{"unpermute", memory_op(OpKind::combine, fwd_bytes), memory_op(OpKind::combine, bwd_bytes(kT)), false});
      break;
    case MoeImpl::automatic:
      break;
  }
  return ops;
}

double moe_routing_saved_bytes(MoeImpl impl, double tokens, double group_tokens, std::int64_t top_k,
                               double padded_slots, double act_bytes) {
  if (impl == MoeImpl::einsum) return group_tokens * padded_slots * (4.0 + 2.0 * act_bytes);
  return kIndexBytes * static_cast<double>(top_k) * tokens;
}

}  // namespace switchsim::workloads
