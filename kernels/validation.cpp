#include "kernels/validation.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "kernels/profile.hpp"

namespace switchsim::kernels {

json drop_check(SwitchLayerBackend& backend, const DropCounter& counter, std::uint64_t seed) {
  json out = json::array();
  struct Case {
    double capacity_factor;
    double zipf_exponent;  // 0 = uniform
  };
  const Case cases[] = {{1.0, 0.0}, {1.25, 0.0}, {1.0, 0.7}, {1.25, 0.7}};
  SwitchLayerConfig c;
  c.tokens = 8192;
  c.d_model = 64;
  c.d_ff = 64;
  c.experts = 16;
  c.top_k = 1;
  c.group_size = 512;
  for (const auto& cs : cases) {
    c.capacity_factor = cs.capacity_factor;
    backend.load(make_random_problem(c, seed));
    const auto p = zipf_probabilities(c.experts, cs.zipf_exponent);
    const RouterOutput routing = synthetic_routing(c, p, seed + 17);
    backend.set_routing(routing);
    backend.run(SwitchKernel::assign_capacity);
    backend.run(SwitchKernel::dispatch);
    const CapacityAssignment a = backend.assignment();
    const auto filled = std::count_if(a.row_source.begin(), a.row_source.end(), [](std::int32_t t) { return t >= 0; });
    const std::int64_t kernel_drops = c.tokens * c.top_k - filled;
    const std::int64_t simulator_drops = counter(routing.expert, c);
    json e;
    e["distribution"] = cs.zipf_exponent == 0.0 ? "uniform" : "zipf";
    e["zipf_exponent"] = cs.zipf_exponent;
    e["config"] = to_json(c);
    e["capacity"] = c.capacity();
    e["kernel_drops"] = kernel_drops;
    e["simulator_drops"] = simulator_drops;
    e["expected_drops"] = expected_drops(c, p);
    e["match"] = kernel_drops == simulator_drops;
    out.push_back(e);
  }
  return out;
}

json validate(SwitchLayerBackend& backend, const CostModel& model, const json& profile_json,
              const ValidationOptions& options) {
  const auto shapes = validation_shapes(backend.name(), options.timing.quick);
  if (profile_json.contains("samples") && profile_json["samples"].is_array()) {
    for (const auto& s : profile_json["samples"]) {
      if (!s.contains("config")) continue;
      for (const auto& c : shapes) {
        if (s["config"] == to_json(c)) {
          throw InputError("--profile", "contains a validation shape; the held-out shapes must not be in it");
        }
      }
    }
  }
  const auto* calibrated = dynamic_cast<const CalibratedCostModel*>(&model);
  json cases = json::array();
  std::vector<double> abs_errors;
  const auto timings = time_switch_layers(backend, shapes, options.timing);
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const auto& c = shapes[i];
    for (const auto& t : timings[i]) {
      const Prediction p = model.predict(t.op);
      const double error = (p.seconds - t.seconds.median) / t.seconds.median;
      json e;
      e["kernel"] = t.kernel;
      e["op"] = to_string(t.op.kind);
      e["shape"] = to_json(c);
      e["op_shape"] = op_shape_to_json(t.op);
      e["predicted_s"] = p.seconds;
      e["relative_uncertainty"] = p.relative_uncertainty;
      e["measured_s"] = t.seconds.median;
      e["measured_p10_s"] = t.seconds.p10;
      e["measured_p90_s"] = t.seconds.p90;
      e["repeats"] = t.repeats;
      e["error"] = error;
      if (calibrated != nullptr) e["in_measured_range"] = calibrated->in_measured_range(t.op);
      cases.push_back(e);
      abs_errors.push_back(std::abs(error));
    }
  }
  json result;
  result["schema_version"] = kSchemaVersion;
  result["backend"] = backend.name();
  result["device"] = backend.identity();
  result["model"] = model.name();
  result["measured_at"] = utc_timestamp();
  result["cases"] = cases;
  double sum = 0.0;
  for (double e : abs_errors) sum += e;
  result["mape"] = abs_errors.empty() ? 0.0 : sum / static_cast<double>(abs_errors.size());
  result["median_abs_error"] = abs_errors.empty() ? 0.0 : percentiles(abs_errors).median;
  result["drop_check"] = drop_check(backend, options.drop_counter, options.timing.seed);
  result["drop_model"] = "kernels::sequential_drop_count (plain sequential count of the paper's pseudo-code)";
  result["provenance"] = provenance();
  return result;
}

}  // namespace switchsim::kernels
