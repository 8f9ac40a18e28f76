#pragma once
#include <memory>

#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

// The CPU backend (fp32; cpu/switch_layer_cpu.hpp).
[[nodiscard]] std::unique_ptr<SwitchLayerBackend> make_cpu_backend();

}  // namespace switchsim::kernels
