// libFuzzer target: the text parsers of the command line. The first byte picks the
// parser, the rest is the text: --layout, --mesh names, --participants,
// --routing (not trace:, fuzzed separately), --factors, --mode/--precision/--optimizer.
#include <string>

#include "fuzz_common.hpp"
#include "sim/participants.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/layout.hpp"
#include "workloads/routing.hpp"
#include "workloads/simulate.hpp"
#include "workloads/training.hpp"

namespace {

// Mesh names whose numbers multiply to more than this many chips are skipped:
// they are valid requests that build large meshes (slow, not a parser question).
bool small_mesh_name(const std::string& text) {
  double product = 1.0;
  double current = 0.0;
  bool in_number = false;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      current = current * 10.0 + (c - '0');
      in_number = true;
    } else if (in_number) {
      product *= current;
      current = 0.0;
      in_number = false;
    }
  }
  if (in_number) product *= current;
  return product <= 4096.0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace switchsim;
  fuzz::expect_only_input_errors([&] {
    switch (data[0] % 6) {
      case 0: (void)workloads::parse_layout(text); break;
      case 1:
        // Names only: anything that could be read as a file is skipped.
        if (small_mesh_name(text) && text.find('/') == std::string::npos && text.find(".json") == std::string::npos &&
            text.find('.') == std::string::npos) {
          (void)topology::build_mesh(text);
        }
        break;
      case 2: (void)sim::parse_participants(text); break;
      case 3:
        if (text.rfind("trace", 0) != 0) (void)workloads::parse_routing(text);
        break;
      case 4: (void)workloads::parse_factors(text); break;
      default:
        (void)workloads::parse_mode(text);
        (void)workloads::parse_precision(text);
        (void)workloads::parse_optimizer(text);
        break;
    }
  });
  return 0;
}
