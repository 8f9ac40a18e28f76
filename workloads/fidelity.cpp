#include "workloads/fidelity.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "sim/collective.hpp"
#include "sim/participants.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

namespace switchsim::workloads {

const char* to_string(FidelityStatus status) {
  switch (status) {
    case FidelityStatus::ok: return "ok";
    case FidelityStatus::excluded: return "excluded";
    case FidelityStatus::unsupported: return "unsupported";
    case FidelityStatus::error: return "error";
  }
  return "?";
}

namespace {

std::string string_or(const json& obj, const std::string& key, const std::string& fallback, const std::string& where) {
  if (!obj.contains(key)) return fallback;
  return require_string(obj, key, where);
}

sim::CollectiveResult run_collective(const json& config, const std::string& where) {
  if (!config.is_object()) throw InputError(where, "must be a JSON object");
  require_known_keys(config, {"mesh", "op", "bytes", "algorithm", "protocol", "participants"}, where);
  const std::string mesh_name = require_string(config, "mesh", where);
  sim::CollectiveRequest request;
  try {
    request.op = sim::parse_collective_op(require_string(config, "op", where));
  } catch (const InputError& e) {
    throw InputError(where + ".op", e.reason());
  }
  try {
    request.algorithm = sim::parse_collective_algorithm(string_or(config, "algorithm", "auto", where));
  } catch (const InputError& e) {
    throw InputError(where + ".algorithm", e.reason());
  }
  try {
    request.network.protocol = sim::parse_protocol_choice(string_or(config, "protocol", "auto", where));
  } catch (const InputError& e) {
    throw InputError(where + ".protocol", e.reason());
  }
  request.bytes_per_device = require_positive(config, "bytes", where);
  if (config.contains("participants")) {
    try {
      request.participants = sim::parse_participants(require_string(config, "participants", where));
    } catch (const InputError& e) {
      throw InputError(where + ".participants", e.reason());
    }
  }
  const topology::Mesh mesh = [&] {
    try {
      return topology::build_mesh(mesh_name);
    } catch (const InputError& e) {
      throw InputError(where + ".mesh", e.reason());
    }
  }();
  try {
    return sim::simulate_collective(mesh, request);
  } catch (const InputError& e) {
    throw InputError(where + "." + e.field(), e.reason());
  }
}

double predict_collective(const FidelityCase& c) {
  const sim::CollectiveResult r = run_collective(c.config, "config");
  const std::string& unit = c.measured.unit;
  if (unit == "busbw_GBps") return r.busbw_Bps / 1e9;
  if (unit == "algbw_GBps") return r.algbw_Bps / 1e9;
  return r.time_s * 1e6;  // time_us
}

double predict_ratio(const FidelityCase& c) {
  require_known_keys(c.config, {"numerator", "denominator"}, "config");
  const double num = run_collective(require(c.config, "numerator", "config"), "config.numerator").time_s;
  const double den = run_collective(require(c.config, "denominator", "config"), "config.denominator").time_s;
  if (!(den > 0.0)) throw InputError("config.denominator", "simulated time is 0 (a group of one device?)");
  return num / den;
}

double predict_step(const FidelityCase& c) {
  const json& k = c.config;
  const std::string w = "config";
  require_known_keys(k,
                      {"model", "mesh", "layout", "capacity_factor", "routing", "mode", "batch_tokens", "micro_batches",
                       "group_tokens", "moe_impl", "precision", "fp8_dispatch", "optimizer", "remat", "seed", "profile"},
                      w);
  StepRequest q;
  q.model = require_string(k, "model", w);
  q.mesh = require_string(k, "mesh", w);
  q.layout = string_or(k, "layout", "", w);
  if (k.contains("capacity_factor")) q.capacity_factor = require_positive(k, "capacity_factor", w);
  q.routing = string_or(k, "routing", q.routing, w);
  q.mode = string_or(k, "mode", q.mode, w);
  if (k.contains("batch_tokens")) q.batch_tokens = require_integer(k, "batch_tokens", w);
  if (k.contains("micro_batches")) q.micro_batches = require_integer(k, "micro_batches", w);
  if (k.contains("group_tokens")) q.group_tokens = require_integer(k, "group_tokens", w);
  q.moe_impl = string_or(k, "moe_impl", q.moe_impl, w);
  q.precision = string_or(k, "precision", q.precision, w);
  q.optimizer = string_or(k, "optimizer", q.optimizer, w);
  if (k.contains("fp8_dispatch")) {
    if (!k.at("fp8_dispatch").is_boolean()) throw InputError(w + ".fp8_dispatch", "must be true or false");
    q.fp8_dispatch = k.at("fp8_dispatch").get<bool>();
  }
  if (k.contains("remat")) {
    if (!k.at("remat").is_boolean()) throw InputError(w + ".remat", "must be true or false");
    q.rematerialize = k.at("remat").get<bool>();
  }
  if (k.contains("seed")) q.seed = static_cast<std::uint64_t>(require_integer(k, "seed", w));
  q.profile = string_or(k, "profile", "", w);
  StepResult r;
  try {
    ResolvedStep step = resolve_step_request(q);
    r = simulate_step(step.model, *step.mesh, step.layout, step.options, *step.cost);
  } catch (const InputError& e) {
    // The step request names flags ("--mesh"); the registry names config keys.
    std::string field = e.field();
    if (field.rfind("--", 0) == 0) field = field.substr(2);
    for (char& ch : field) {
      if (ch == '-') ch = '_';
    }
    throw InputError(w + "." + field, e.reason());
  }
  const std::string& unit = c.measured.unit;
  if (unit == "step_time_s") return r.step_time_s;
  if (unit == "tokens_per_s") return r.tokens_per_s;
  if (unit == "examples_per_s") return r.examples_per_s;
  if (unit == "model_tflops_per_device") return r.model_flops.per_s_per_device / 1e12;
  return 100.0 * r.model_flops.mfu;  // mfu_percent
}

}  // namespace

FidelityResult run_fidelity_case(const FidelityCase& spec) {
  FidelityResult r;
  r.spec = spec;
  if (!spec.error.empty()) {
    r.status = FidelityStatus::error;
    r.error_field = spec.error_field;
    r.error = spec.error;
    return r;
  }
  if (!spec.unsupported.empty()) {
    r.status = FidelityStatus::unsupported;
    return r;
  }
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (spec.kind == "collective") {
      r.predicted = predict_collective(spec);
    } else if (spec.kind == "collective_ratio") {
      r.predicted = predict_ratio(spec);
    } else {
      r.predicted = predict_step(spec);
    }
    const double measured = spec.measured.reference();
    r.relative_error = (r.predicted - measured) / measured;
    r.within_range = spec.measured.low && spec.measured.high && r.predicted >= *spec.measured.low &&
                     r.predicted <= *spec.measured.high;
    r.status = spec.exclude_from_mape.empty() ? FidelityStatus::ok : FidelityStatus::excluded;
  } catch (const InputError& e) {
    r.status = FidelityStatus::error;
    r.error_field = spec.file + ": " + spec.id + ": " + e.field();
    r.error = e.reason();
  } catch (const UnavailableError& e) {
    r.status = FidelityStatus::error;
    r.error_field = spec.file + ": " + spec.id + ": config";
    r.error = e.what();
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

FidelityReport run_fidelity(const std::vector<FidelityCase>& cases) {
  const auto t0 = std::chrono::steady_clock::now();
  FidelityReport report;
  double sum = 0.0;
  for (const FidelityCase& c : cases) {
    FidelityResult r = run_fidelity_case(c);
    switch (r.status) {
      case FidelityStatus::ok:
        ++report.compared;
        sum += std::fabs(r.relative_error);
        break;
      case FidelityStatus::excluded: ++report.excluded; break;
      case FidelityStatus::unsupported: ++report.unsupported; break;
      case FidelityStatus::error: ++report.errors; break;
    }
    report.results.push_back(std::move(r));
  }
  if (report.compared > 0) report.mape_percent = 100.0 * sum / static_cast<double>(report.compared);
  report.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

json to_json(const FidelityReport& report) {
  json cases = json::array();
  for (const FidelityResult& r : report.results) {
    const FidelityCase& s = r.spec;
    json j = {{"id", s.id}, {"file", s.file}, {"status", to_string(r.status)}};
    if (r.status == FidelityStatus::error) {
      j["error_field"] = r.error_field;
      j["error"] = r.error;
      cases.push_back(std::move(j));
      continue;
    }
    j["description"] = s.description;
    j["citation"] = s.citation;
    j["url"] = s.url;
    j["location"] = s.location;
    j["kind"] = s.kind;
    j["config"] = s.config;
    j["unit"] = s.measured.unit;
    j["as_published"] = s.as_published;
    j["measured"] = s.measured.reference();
    if (s.measured.low) j["measured_range"] = {*s.measured.low, *s.measured.high};
    if (!s.unknowns.empty()) j["unknowns"] = s.unknowns;
    if (r.status == FidelityStatus::unsupported) {
      j["reason"] = s.unsupported;
    } else {
      j["predicted"] = r.predicted;
      j["relative_error"] = r.relative_error;
      if (s.measured.low) j["within_range"] = r.within_range;
      j["wall_s"] = r.wall_s;
      if (r.status == FidelityStatus::excluded) j["reason"] = s.exclude_from_mape;
    }
    cases.push_back(std::move(j));
  }
  json j;
  j["schema_version"] = kSchemaVersion;
  j["kind"] = "fidelity";
  j["cases"] = std::move(cases);
  j["mape_percent"] = report.mape_percent ? json(*report.mape_percent) : json(nullptr);
  j["compared"] = report.compared;
  j["excluded"] = report.excluded;
  j["unsupported"] = report.unsupported;
  j["errors"] = report.errors;
  j["wall_s"] = report.wall_s;
  j["what"] =
      "relative_error = (predicted - measured) / measured, measured = the published value or the middle of a "
      "published range; mape_percent = 100 x mean |relative_error| over status ok (excluded, unsupported and "
      "error cases do not count); never fitted to these figures (docs/fidelity.md)";
  j["provenance"] = provenance();
  return j;
}

std::string to_text(const FidelityReport& report) {
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-34s %-24s %12s %12s %9s\n", "case", "unit", "measured", "predicted", "error");
  s += buf;
  for (const FidelityResult& r : report.results) {
    if (r.status != FidelityStatus::ok && r.status != FidelityStatus::excluded) continue;
    std::snprintf(buf, sizeof buf, "%-34s %-24s %12.4g %12.4g %+8.1f%%%s\n", r.spec.id.c_str(),
                  r.spec.measured.unit.c_str(), r.spec.measured.reference(), r.predicted, 100.0 * r.relative_error,
                  r.status == FidelityStatus::excluded ? "  (excluded from MAPE)" : (r.within_range ? "  (in range)" : ""));
    s += buf;
  }
  for (const FidelityResult& r : report.results) {
    if (r.status != FidelityStatus::unsupported) continue;
    s += "unsupported  " + r.spec.id + ": " + r.spec.unsupported + "\n";
  }
  for (const FidelityResult& r : report.results) {
    if (r.status != FidelityStatus::error) continue;
    s += "error        " + r.error_field + ": " + r.error + "\n";
  }
  if (report.mape_percent) {
    std::snprintf(buf, sizeof buf, "MAPE %.1f%% over %lld case(s)", *report.mape_percent,
                  static_cast<long long>(report.compared));
  } else {
    std::snprintf(buf, sizeof buf, "MAPE: none (no case compared)");
  }
  s += buf;
  std::snprintf(buf, sizeof buf, "; %lld excluded, %lld unsupported, %lld error(s); %.3g s\n",
                static_cast<long long>(report.excluded), static_cast<long long>(report.unsupported),
                static_cast<long long>(report.errors), report.wall_s);
  s += buf;
  return s;
}

}  // namespace switchsim::workloads
