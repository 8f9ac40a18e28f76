#include "workloads/training.hpp"

#include <string>
#include <utility>

#include "common/errors.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

const char* to_string(Optimizer o) { return o == Optimizer::adafactor ? "adafactor" : "adam"; }
const char* to_string(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::fp32: return "fp32";
    case Precision::fp8: return "fp8";
  }
  return "bf16";
}

Optimizer parse_optimizer(const std::string& text, const std::string& field) {
  if (text == "adafactor") return Optimizer::adafactor;
  if (text == "adam") return Optimizer::adam;
  throw InputError(field, "must be 'adafactor' or 'adam' (got '" + text + "')");
}

Precision parse_precision(const std::string& text, const std::string& field) {
  if (text == "bf16") return Precision::bf16;
  if (text == "fp32") return Precision::fp32;
  if (text == "fp8") return Precision::fp8;
  throw InputError(field, "must be 'bf16', 'fp32' or 'fp8' (got '" + text + "')");
}

const char* to_string(GradSyncKind kind) { return kind == GradSyncKind::fused ? "fused" : "bucketed"; }

std::string to_string(const GradSync& sync) {
  if (sync.kind == GradSyncKind::fused) return "fused";
  return "bucketed:" + std::to_string(static_cast<std::int64_t>(sync.bucket_bytes));
}

GradSync default_grad_sync(bool tpu) {
  GradSync g;
  g.kind = tpu ? GradSyncKind::fused : GradSyncKind::bucketed;
  g.separate_stream = !tpu;
  return g;
}

GradSync parse_grad_sync(const std::string& text, bool tpu, const std::string& field) {
  GradSync g = default_grad_sync(tpu);
  if (text == "auto") return g;
  if (text == "fused") {
    g.kind = GradSyncKind::fused;
    return g;
  }
  const std::string prefix = "bucketed";
  if (text.rfind(prefix, 0) != 0) {
    throw InputError(field, "must be 'auto', 'fused', 'bucketed' or 'bucketed:BYTES' (got '" + text + "')");
  }
  g.kind = GradSyncKind::bucketed;
  if (text.size() == prefix.size()) return g;
  if (text[prefix.size()] != ':') {
    throw InputError(field, "must be 'auto', 'fused', 'bucketed' or 'bucketed:BYTES' (got '" + text + "')");
  }
  std::string number = text.substr(prefix.size() + 1);
  double unit = 1.0;
  for (const auto& [suffix, scale] : {std::pair<const char*, double>{"KiB", 1024.0}, {"MiB", 1024.0 * 1024.0},
                                      {"GiB", 1024.0 * 1024.0 * 1024.0}}) {
    const std::string sfx = suffix;
    if (number.size() > sfx.size() && number.compare(number.size() - sfx.size(), sfx.size(), sfx) == 0) {
      number.resize(number.size() - sfx.size());
      unit = scale;
      break;
    }
  }
  const bool digits = !number.empty() && number.size() <= 18 &&
                      number.find_first_not_of("0123456789") == std::string::npos;
  const double bytes = digits ? static_cast<double>(std::stoll(number)) * unit : 0.0;
  if (!(bytes >= 1.0) || bytes > 64.0 * 1024.0 * 1024.0 * 1024.0) {
    throw InputError(field, "bucket size must be a whole number of bytes in [1, 64 GiB], optionally with a "
                            "KiB/MiB/GiB suffix (got '" + text.substr(prefix.size() + 1) + "')");
  }
  g.bucket_bytes = bytes;
  return g;
}

namespace {

// ": use a multiple of UNIT, e.g. LOWER or UPPER": the valid batch sizes nearest to `tokens`.
std::string nearest_multiples(std::int64_t tokens, std::int64_t unit) {
  const std::int64_t lower = tokens / unit * unit;
  const std::int64_t upper = lower + unit;
  std::string s = ": use a multiple of " + std::to_string(unit) + " tokens, e.g. ";
  if (lower > 0) s += std::to_string(lower) + " or ";
  return s + std::to_string(upper);
}

}  // namespace

StepShape derive_step_shape(const TrainingSetup& setup, const Model& model, const Layout& layout) {
  if (setup.batch_tokens <= 0) throw InputError("--batch-tokens", "must be positive");
  if (setup.micro_batches <= 0) throw InputError("--micro-batches", "must be positive");
  if (setup.group_tokens < 0) throw InputError("--group-tokens", "must be positive (or 0 for the local batch)");
  if (setup.batch_tokens % model.input_length != 0) {
    throw InputError("--batch-tokens", std::to_string(setup.batch_tokens) + " is not a whole number of " +
                                           std::to_string(model.input_length) + "-token sequences" +
                                           nearest_multiples(setup.batch_tokens, model.input_length));
  }
  StepShape s;
  s.sequences = setup.batch_tokens / model.input_length;
  const std::int64_t split = layout.dp * setup.micro_batches;
  if (s.sequences % split != 0) {
    // The unit is dp x micro-batches x input_length tokens; the error names the nearest valid sizes.
    throw InputError("--batch-tokens", std::to_string(s.sequences) + " sequences do not divide over dp=" +
                                           std::to_string(layout.dp) + " replicas x " +
                                           std::to_string(setup.micro_batches) + " micro-batches" +
                                           nearest_multiples(setup.batch_tokens, split * model.input_length));
  }
  s.local_sequences = s.sequences / split;
  s.local_tokens = s.local_sequences * model.input_length;
  s.local_decoder_tokens = s.local_sequences * model.target_length;
  if (setup.group_tokens == 0 && setup.moe_impl == MoeImpl::einsum) {
    // Mesh-TF splits each stack's tokens into groups of at most 1024 (moe_impl.hpp); the batch
    // dimension is split over the data-parallel axis.
    const GroupSplit enc = mesh_tf_group_split(s.local_tokens, layout.dp);
    s.groups_per_device = enc.groups;
    s.group_tokens = enc.group_tokens;
    if (s.local_decoder_tokens > 0) {  // decoder-only models have no second stack (model.hpp)
      const GroupSplit dec = mesh_tf_group_split(s.local_decoder_tokens, layout.dp);
      s.decoder_groups_per_device = dec.groups;
      s.decoder_group_tokens = dec.group_tokens;
    } else {
      s.decoder_groups_per_device = s.groups_per_device;
      s.decoder_group_tokens = 0;
    }
    return s;
  }
  if (setup.group_tokens == 0) {
    s.group_tokens = s.local_tokens;
    s.groups_per_device = 1;
  } else {
    if (s.local_tokens % setup.group_tokens != 0) {
      throw InputError("--group-tokens", std::to_string(setup.group_tokens) + " does not divide the " +
                                             std::to_string(s.local_tokens) + " local tokens per device");
    }
    s.group_tokens = setup.group_tokens;
    s.groups_per_device = s.local_tokens / setup.group_tokens;
  }
  // Decoder groups: same count per device; the last may be shorter when it does not divide.
  s.decoder_groups_per_device = s.groups_per_device;
  s.decoder_group_tokens = (s.local_decoder_tokens + s.groups_per_device - 1) / s.groups_per_device;
  return s;
}

}  // namespace switchsim::workloads
