// libFuzzer target: model JSON (workloads/model_catalog.hpp) and its parameter / FLOP counts.
#include "fuzz_common.hpp"
#include "workloads/model.hpp"
#include "workloads/model_catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto doc = switchsim::fuzz::parse(data, size);
  if (!doc) return 0;
  switchsim::fuzz::expect_only_input_errors([&] {
    const auto model = switchsim::workloads::model_from_json(*doc, "model");
    (void)switchsim::workloads::count_params(model);
    (void)switchsim::workloads::count_forward_flops(model);
  });
  return 0;
}
