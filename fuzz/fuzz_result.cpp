// libFuzzer target: result JSON read by `switchsim report` (reports/result.hpp).
#include "fuzz_common.hpp"
#include "reports/result.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto doc = switchsim::fuzz::parse(data, size);
  if (!doc) return 0;
  switchsim::fuzz::expect_only_input_errors([&] {
    const auto kind = switchsim::reports::classify_result(*doc, "fuzz");
    (void)switchsim::reports::read_view(*doc, kind);
    (void)switchsim::reports::read_inputs(*doc);
  });
  return 0;
}
