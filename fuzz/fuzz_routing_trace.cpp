// libFuzzer target: routing trace files (`--routing trace:FILE`, workloads/routing.hpp).
// The loader reads a path, so each input goes through one temporary file.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_common.hpp"
#include "workloads/routing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp") + "/switchsim-fuzz-trace-" + std::to_string(::getpid()) + ".json";
  }();
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    return 0;
  }
  switchsim::fuzz::expect_only_input_errors([&] {
    const auto spec = switchsim::workloads::parse_routing("trace:" + path);
    switchsim::workloads::check_routing_for_model(spec, 8);
  });
  return 0;
}
