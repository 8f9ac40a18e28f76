#pragma once
// `switchsim fidelity`: runs every registry case (fidelity_registry.hpp)
// through the simulator and compares the prediction with the published figure.
//
//   collective        sim::simulate_collective on the named mesh (nccl-tests
//                     semantics: bytes = buffer size per device); the unit picks
//                     busbw, algbw or the time.
//   collective_ratio  two collectives; the prediction is numerator time / denominator time.
//   step              workloads::simulate_step with the config's step request
//                     (the `simulate` flags, step_request.hpp); the unit picks step time,
//                     tokens/s, examples/s, model TFLOP/s per device or MFU (op_accounting.hpp).
//
// Per case: relative error = (predicted - measured) / measured, with `measured`
// the published value or the middle of a published range. MAPE = 100 x the mean
// of |relative error| over the cases compared (status "ok"); cases with status
// "excluded" (run, shown, a reason given), "unsupported" (not run) or "error"
// (bad entry, or the simulator rejected the configuration) do not count.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "workloads/fidelity_registry.hpp"

namespace switchsim::workloads {

enum class FidelityStatus : std::uint8_t { ok, excluded, unsupported, error };
[[nodiscard]] const char* to_string(FidelityStatus status);

struct FidelityResult {
  FidelityCase spec;
  FidelityStatus status = FidelityStatus::ok;
  double predicted = 0.0;       // in the measured unit
  double relative_error = 0.0;  // (predicted - measured) / measured
  bool within_range = false;    // a published range holds the prediction
  double wall_s = 0.0;          // host seconds this case took
  std::string error_field;      // FILE: FIELD (status error)
  std::string error;            // reason (status error)
};

struct FidelityReport {
  std::vector<FidelityResult> results;
  std::optional<double> mape_percent;  // none when no case was compared
  std::int64_t compared = 0;
  std::int64_t excluded = 0;
  std::int64_t unsupported = 0;
  std::int64_t errors = 0;
  double wall_s = 0.0;
};

// Runs one case (never throws for bad input: the case gets status error).
[[nodiscard]] FidelityResult run_fidelity_case(const FidelityCase& spec);
[[nodiscard]] FidelityReport run_fidelity(const std::vector<FidelityCase>& cases);

[[nodiscard]] json to_json(const FidelityReport& report);
[[nodiscard]] std::string to_text(const FidelityReport& report);

}  // namespace switchsim::workloads
