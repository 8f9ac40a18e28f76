#pragma once
// Validation: predicted against measured kernel times on held-out shapes,
// and the drop check.
//
//   cases[i]  = {kernel, shape, predicted_s, measured_s, error, ...}, with
//               error = (predicted_s - measured_s) / measured_s
//   mape      = mean |error| over the cases
//   median_abs_error = median |error|
//   drop_check[j] (per generated top-1 router output, uniform and Zipf-skewed):
//               kernel_drops    = tokens the real dispatch did not place
//                                 (T*k minus the buffer rows it filled),
//               simulator_drops = the DropCounter's count for the same
//                                 expert assignments (default: the plain
//                                 sequential count of drop_model.hpp; the
//                                 workloads layer's drop model can be passed
//                                 in its place),
//               expected_drops  = groups * sum_i E[max(0, X_i - C)],
//                                 X_i ~ Binomial(G, p_i) (uniform: p_i = 1/E),
//               match           = kernel_drops == simulator_drops.

#include <nlohmann/json.hpp>

#include "kernels/calibration.hpp"
#include "kernels/cost_model.hpp"
#include "kernels/drop_model.hpp"
#include "kernels/switch_layer.hpp"

namespace switchsim::kernels {

struct ValidationOptions {
  CalibrationOptions timing;
  DropCounter drop_counter = default_drop_counter();
};

// `profile_json` is the profile the model was built from: a held-out shape
// that appears in its samples is an error (InputError "--profile").
[[nodiscard]] nlohmann::ordered_json validate(SwitchLayerBackend& backend, const CostModel& model,
                                              const nlohmann::ordered_json& profile_json,
                                              const ValidationOptions& options);

// The drop check alone (also used by tests).
[[nodiscard]] nlohmann::ordered_json drop_check(SwitchLayerBackend& backend, const DropCounter& counter,
                                                std::uint64_t seed);

}  // namespace switchsim::kernels
