#pragma once
// The registry of published measurements that `switchsim fidelity` holds the
// simulator against (data/measurements/*.json, format in docs/fidelity.md).
//
// One JSON file per source:
//   {"schema_version": 1,
//    "source": {"citation": "...", "url": "...", "accessed": "YYYY-MM-DD"},
//    "notes": "...",                      (optional)
//    "cases": [{"id": "...", "description": "...", "location": "table / figure / row",
//               "kind": "collective" | "collective_ratio" | "step",
//               "config": {...},             (what the simulator runs; per kind, docs/fidelity.md)
//               "measured": {"unit": "busbw_GBps", "value": 153}
//                        or {"unit": ..., "low": 460, "high": 480},
//               "as_published": "460–480 GB/s",
//               "unknowns": "...",           (optional: configuration details the source does not give)
//               "unsupported": "reason",     (optional: listed, not run, not in the MAPE)
//               "exclude_from_mape": "reason"}]}  (optional: run and shown, not in the MAPE)
//
// Loading never throws for a bad file or case: the problem becomes a case with
// `error` set ("FILE: FIELD: reason"), so the other cases still run.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json_io.hpp"

namespace switchsim::workloads {

// Units a measured figure may have, and the case kinds each applies to.
//   busbw_GBps, algbw_GBps, time_us        collective (nccl-tests definitions, GB = 1e9 bytes)
//   ratio                                  collective_ratio (numerator time / denominator time)
//   step_time_s, tokens_per_s, examples_per_s, model_tflops_per_device, mfu_percent   step
//   bottleneck_bw_GBps                     none yet (DeepEP's per-GPU bottleneck bandwidth): unsupported cases only
[[nodiscard]] const std::vector<std::string>& measurement_units();
[[nodiscard]] bool unit_applies(const std::string& unit, const std::string& kind);

struct Measurement {
  std::string unit;
  std::optional<double> value;  // as published (a single figure)
  std::optional<double> low;    // as published (a range)
  std::optional<double> high;
  // The figure compared with: `value`, or the middle of [low, high].
  [[nodiscard]] double reference() const;
};

struct FidelityCase {
  std::string file;  // the registry file, as given (or found in a folder)
  std::string id;
  std::string description;
  std::string location;  // where in the source
  std::string citation;  // the file's source.citation
  std::string url;       // the file's source.url
  std::string kind;      // collective | collective_ratio | step (may be empty when unsupported)
  json config;
  Measurement measured;
  std::string as_published;
  std::string unknowns;
  std::string unsupported;        // reason, or empty
  std::string exclude_from_mape;  // reason, or empty
  std::string error;              // "FIELD: reason" when the entry could not be read, or empty
  std::string error_field;        // "FILE: FIELD"
};

// Reads every *.json file of each folder (sorted by name) and every file given.
// A path that does not exist is itself an error case.
[[nodiscard]] std::vector<FidelityCase> load_registry(const std::vector<std::filesystem::path>& paths);

// The built-in registry folder (data/measurements, via SWITCHSIM_DATA_DIR or the source tree).
[[nodiscard]] std::filesystem::path default_registry_dir();

}  // namespace switchsim::workloads
