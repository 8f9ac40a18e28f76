#pragma once
// Reading switchsim result JSON for reports: which command wrote a file, and a
// typed view of the fields a report shows.
//
// A file is accepted when it is a JSON object with `schema_version` equal to
// kSchemaVersion and its kind is known: the top-level `"command"` field
// ("simulate", "capacity", "recommend", "collective", "validate", "fidelity") decides;
// without it, distinctive fields do (`recommendations` -> recommend; `cases`
// and `mape` -> validate; `busbw_Bps` -> collective; an array of rows with
// `capacity_factor` -> capacity; `step_time_s` and `breakdown` -> simulate).
// Everything else is bad input: InputError whose field is the file's path.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/json_io.hpp"

namespace switchsim::reports {

enum class ResultKind : std::uint8_t { simulate, capacity, recommend, collective, validate, fidelity };
[[nodiscard]] const char* to_string(ResultKind kind);

// A mean with its spread over routing seeds (one standard deviation, or half
// the min-max range when only that is given). Read from a plain number, from
// {"mean": x, "std": s} (also "stddev", "spread"; or "min"/"max"), or from a
// sibling field "<key>_std" / "<key>_spread".
struct Stat {
  double mean = 0.0;
  std::optional<double> spread;
};

// Seconds per part of a step, in the order the JSON lists them
// ("compute_s" -> name "compute").
struct BreakdownPart {
  std::string name;
  double seconds = 0.0;
};
using Breakdown = std::vector<BreakdownPart>;

// One evaluated (layout, capacity factor, mode): a recommendation, a Pareto
// point, or a simulated step.
struct LayoutResult {
  std::optional<long long> rank;
  std::string layout;  // "dp=32 ep=32 mp=1" plus the mapping when given
  std::optional<double> capacity_factor;
  std::string mode;
  double step_time_s = 0.0;
  // The compute-cost uncertainty band (`step_time_s_low` / `_high`), when the result has it.
  std::optional<double> step_time_low_s;
  std::optional<double> step_time_high_s;
  Stat tokens_per_s;
  Stat drop_fraction;
  std::optional<double> memory_per_device_bytes;
  Breakdown breakdown;
  std::string why;
};

struct RejectedLayout {
  std::string layout;                // the layout alone: "dp=32 ep=1 mp=1 (mp.ep.rep)"
  std::string capacity_factor_text;  // as the JSON writes it ("1.0"), empty when none
  std::string mode;                  // "capacity", "dropless", or empty
  std::string reason;
  std::string reason_kind;  // `reason_kind`/`category` when given, else the reason without its numbers
};

struct RecommendView {
  std::vector<LayoutResult> ranked;
  std::vector<LayoutResult> pareto;
  std::vector<RejectedLayout> rejected;
  std::optional<long long> evaluated;
  std::optional<long long> pruned;
  std::optional<double> wall_s;
  std::string objective;
};

struct CapacityRow {
  std::optional<double> capacity_factor;  // none for a dropless row
  std::string mode;
  Stat step_time_s;
  Stat tokens_per_s;
  Stat drop_fraction;
  std::optional<double> memory_per_device_bytes;
  Breakdown breakdown;
};

struct CapacityView {
  std::string layout;
  std::vector<CapacityRow> rows;  // ordered by capacity factor as given
};

// Bytes device i sends to device j during one step's all-to-alls, row-major.
struct TrafficMatrix {
  std::int64_t n = 0;
  std::vector<double> bytes;
  [[nodiscard]] double at(std::int64_t i, std::int64_t j) const { return bytes[static_cast<std::size_t>(i * n + j)]; }
};

struct SimulateView {
  LayoutResult step;
  std::optional<double> group_tokens;
  std::optional<double> expert_capacity;
  std::optional<bool> fits_memory;
  std::optional<TrafficMatrix> traffic;  // from `traffic_matrix` when present
};

struct CollectiveView {
  std::string op;
  std::string algorithm;
  long long devices = 0;
  double bytes = 0.0;
  double time_s = 0.0;
  double algbw_Bps = 0.0;
  double busbw_Bps = 0.0;
  std::optional<long long> flows;
  std::optional<long long> events;
  std::optional<double> wall_s;
};

struct ValidateCase {
  std::string kernel;
  std::string shape;
  double predicted_s = 0.0;
  double measured_s = 0.0;
  std::optional<double> error;                 // relative, as the JSON reports it
  std::optional<double> relative_uncertainty;  // of the prediction, when given
};

struct DropCheck {
  std::string name;
  double kernel_drops = 0.0;
  double simulator_drops = 0.0;
  std::optional<double> expected_drops;
  bool match = false;
};

struct ValidateView {
  std::vector<ValidateCase> cases;
  std::optional<double> mape;
  std::vector<DropCheck> drop_check;
};

// `switchsim fidelity` (workloads/fidelity.hpp): predicted against published measurements.
struct FidelityCaseView {
  std::string id;
  std::string status;  // ok | excluded | unsupported | error
  std::string unit;
  std::optional<double> measured;
  std::optional<double> predicted;
  std::optional<double> relative_error;
  std::string citation;
  std::string reason;  // unsupported / excluded reason, or the error
};

struct FidelityView {
  std::vector<FidelityCaseView> cases;
  std::optional<double> mape_percent;
};

using ResultView = std::variant<SimulateView, CapacityView, RecommendView, CollectiveView, ValidateView, FidelityView>;

struct LoadedResult {
  std::filesystem::path path;
  ResultKind kind = ResultKind::simulate;
  json data;
  ResultView view;
  // Inputs and provenance, flattened for a table: ("model", "switch-base"),
  // ("provenance.version", "0.1.0"), ...
  std::vector<std::pair<std::string, std::string>> inputs;
};

// Kind of a parsed result. Throws InputError(where, reason) when `j` is not a
// switchsim result, has another schema version, or is of a kind reports do
// not read.
[[nodiscard]] ResultKind classify_result(const json& j, const std::string& where);

// Typed view of a result of known kind. Throws InputError naming the field
// ("recommendations[2].tokens_per_s") when a required field is wrong.
[[nodiscard]] ResultView read_view(const json& j, ResultKind kind);

// The inputs and provenance of a result, flattened (see LoadedResult::inputs).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> read_inputs(const json& j);

// Reads, parses, classifies and views one file. Every error is an InputError
// whose field is the path and whose reason says what is wrong (cannot open,
// truncated, not JSON, not a switchsim result, unknown schema version, bad field).
[[nodiscard]] LoadedResult load_result(const std::filesystem::path& path);

}  // namespace switchsim::reports
