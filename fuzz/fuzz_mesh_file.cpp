// libFuzzer target: custom mesh JSON (topology/mesh_file.hpp).
#include "fuzz_common.hpp"
#include "topology/mesh_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto doc = switchsim::fuzz::parse(data, size);
  if (!doc) return 0;
  switchsim::fuzz::expect_only_input_errors([&] { (void)switchsim::topology::mesh_from_json(*doc, "fuzz"); });
  return 0;
}
