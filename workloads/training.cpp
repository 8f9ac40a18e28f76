#include "workloads/training.hpp"

#include "common/errors.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

const char* to_string(Optimizer o) { return o == Optimizer::adafactor ? "adafactor" : "adam"; }
const char* to_string(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Optimizer parse_optimizer(const std::string& text, const std::string& field) {
  if (text == "adafactor") return Optimizer::adafactor;
  if (text == "adam") return Optimizer::adam;
  throw InputError(field, "must be 'adafactor' or 'adam' (got '" + text + "')");
}

Precision parse_precision(const std::string& text, const std::string& field) {
  if (text == "bf16") return Precision::bf16;
  if (text == "fp32") return Precision::fp32;
  throw InputError(field, "must be 'bf16' or 'fp32' (got '" + text + "')");
}

StepShape derive_step_shape(const TrainingSetup& setup, const Model& model, const Layout& layout) {
  if (setup.batch_tokens <= 0) throw InputError("--batch-tokens", "must be positive");
  if (setup.micro_batches <= 0) throw InputError("--micro-batches", "must be positive");
  if (setup.group_tokens < 0) throw InputError("--group-tokens", "must be positive (or 0 for the local batch)");
  if (setup.batch_tokens % model.input_length != 0) {
    throw InputError("--batch-tokens", std::to_string(setup.batch_tokens) + " is not a whole number of " +
                                           std::to_string(model.input_length) + "-token sequences");
  }
  StepShape s;
  s.sequences = setup.batch_tokens / model.input_length;
  const std::int64_t split = layout.dp * setup.micro_batches;
  if (s.sequences % split != 0) {
    throw InputError("--batch-tokens", std::to_string(s.sequences) + " sequences do not divide over dp=" +
                                           std::to_string(layout.dp) + " replicas x " +
                                           std::to_string(setup.micro_batches) + " micro-batches");
  }
  s.local_sequences = s.sequences / split;
  s.local_tokens = s.local_sequences * model.input_length;
  s.local_decoder_tokens = s.local_sequences * model.target_length;
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
  s.decoder_group_tokens = (s.local_decoder_tokens + s.groups_per_device - 1) / s.groups_per_device;
  return s;
}

}  // namespace switchsim::workloads
