#include "workloads/moe_impl.hpp"

#include <algorithm>

#include "common/errors.hpp"

namespace switchsim::workloads {

const char* to_string(MoeImpl impl) {
  switch (impl) {
    case MoeImpl::automatic:
      return "auto";
    case MoeImpl::einsum:
      return "einsum";
    case MoeImpl::gather:
      return "gather";
    case MoeImpl::grouped:
      return "grouped";
  }
  return "auto";
}

const char* platform_caveat(MoeImpl impl, bool tpu) {
  if (!tpu || impl != MoeImpl::grouped) return nullptr;
  return "grouped GEMM on TPU: XLA's static shapes cannot run it; it needs a ragged grouped-matmul kernel (MaxText's "
         "megablox, in Pallas), which the Switch paper's TPU v3 runs did not have (they used a capacity factor): check "
         "that your framework runs it on this TPU before relying on this result";
}

const char* describe_moe_impl(MoeImpl impl) {
  switch (impl) {
    case MoeImpl::einsum:
      return "einsum (Mesh-TensorFlow / GShard): fp32 one-hot [S, E, C] dispatch and combine tensors per routing "
             "group, dispatch and combine as dense einsums (2 S E C d_model FLOPs each per group), experts batched "
             "over padded capacity";
    case MoeImpl::gather:
      return "gather (Tutel / Megatron-Core with capacity): index-based permutation into padded [E, C, d_model] "
             "buffers and back, weighted by the gate; experts batched over padded capacity";
    case MoeImpl::grouped:
      return "grouped (MegaBlocks / Megatron-Core grouped GEMM): permutation by expert without padding, one grouped "
             "GEMM per device over its experts' routed loads, unpermutation weighted by the gate";
    case MoeImpl::automatic:
      break;
  }
  return "auto (not resolved: TPU meshes einsum, GPU meshes gather in capacity mode, grouped when dropless)";
}

MoeImpl parse_moe_impl(const std::string& text, const std::string& field) {
  if (text == "auto") return MoeImpl::automatic;
  if (text == "einsum") return MoeImpl::einsum;
  if (text == "gather") return MoeImpl::gather;
  if (text == "grouped") return MoeImpl::grouped;
  throw InputError(field, "must be 'auto', 'einsum', 'gather' or 'grouped' (got '" + text + "')");
}

MoeImpl resolve_moe_impl(MoeImpl requested, bool tpu, bool dropless, const std::string& field) {
  if (requested == MoeImpl::automatic) {
    if (dropless) return MoeImpl::grouped;
    return tpu ? MoeImpl::einsum : MoeImpl::gather;
  }
  if (dropless && requested == MoeImpl::einsum) {
    throw InputError(field,
                     "einsum needs a fixed expert capacity for its [S, E, C] dispatch tensors; use --mode "
                     "capacity, or --moe-impl grouped for dropless");
  }
  if (dropless && requested == MoeImpl::gather) {
    throw InputError(field,
                     "gather pads to an expert capacity; use --mode capacity, or --moe-impl grouped for "
                     "dropless");
  }
  return requested;
}

GroupSplit mesh_tf_group_split(std::int64_t local_tokens, std::int64_t batch_devices, std::int64_t max_group_tokens) {
  SWITCHSIM_ASSERT(local_tokens > 0 && batch_devices > 0 && max_group_tokens > 0, "group split of an empty batch");
  const std::int64_t n = local_tokens * batch_devices;
  const std::int64_t start = std::max<std::int64_t>(1, n / max_group_tokens);  // num_groups, all devices
  std::int64_t g = (start + batch_devices - 1) / batch_devices;                // per device
  while (local_tokens % g != 0) ++g;                                           // terminates: g = local_tokens divides
  return GroupSplit{g, local_tokens / g};
}

}  // namespace switchsim::workloads
