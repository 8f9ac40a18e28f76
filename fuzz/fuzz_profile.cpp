// libFuzzer target: calibration / roofline profiles (kernels/profile.hpp).
#include "fuzz_common.hpp"
#include "kernels/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto doc = switchsim::fuzz::parse(data, size);
  if (!doc) return 0;
  switchsim::fuzz::expect_only_input_errors(
      [&] { (void)switchsim::kernels::cost_model_from_profile_json(*doc, "", "fuzz"); });
  return 0;
}
