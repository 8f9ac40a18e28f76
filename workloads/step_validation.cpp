#include "workloads/step_validation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>
#include <thread>

#include <time.h>
#include <vector>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "kernels/host_info.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/layout.hpp"
#include "workloads/moe_impl.hpp"
#include "workloads/routing.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_builder.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {
namespace {

using kernels::cpu::StepOpTime;
using kernels::cpu::StepPhase;
using kernels::cpu::SwitchModelConfig;

constexpr const char* kPhases[] = {"forward", "backward", "optimizer"};

// The simulated op's pass: "fwd" -> forward; "bwd", "dgrad", "wgrad" -> backward.
std::string phase_of(const std::string& name) {
  if (name.rfind("optimizer.", 0) == 0) return "optimizer";
  const auto dot = name.rfind('.');
  const std::string pass = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (pass == "fwd") return "forward";
  if (pass == "bwd" || pass == "dgrad" || pass == "wgrad") return "backward";
  return "other";
}

json percentiles_json(const std::vector<double>& v) {
  const kernels::Percentiles p = kernels::percentiles(v);
  return json{{"median_s", p.median}, {"p10_s", p.p10}, {"p90_s", p.p90}};
}

// CPU time of this process (all its threads), seconds.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double relative_error(double predicted, double measured) {
  return measured > 0.0 ? (predicted - measured) / measured : 0.0;
}

}  // namespace

Model model_of(const SwitchModelConfig& c, const std::string& name) {
  Model m;
  m.name = name;
  m.family = "switch";
  m.source = "switchsim validate --step: the CPU step's model (kernels/cpu/switch_model_step_cpu.hpp)";
  m.d_model = c.d_model;
  m.d_ff = c.d_ff;
  m.d_kv = c.d_kv;
  m.heads = c.heads;
  m.encoder_layers = c.encoder_layers;
  m.decoder_layers = c.decoder_layers;
  m.ffn = FfnKind::relu;
  m.experts = c.experts;
  m.expert_every = 1;
  m.top_k = 1;
  m.vocab = c.vocab;
  m.input_length = c.input_length;
  m.target_length = c.target_length;
  validate_model(m, "--model");
  return m;
}

std::string step_op_category(const std::string& op_name) {
  if (op_name.rfind("optimizer.", 0) == 0) return "optimizer";
  // <layer>.<item...>.<pass>: the item's last component names the op.
  const auto pass_dot = op_name.rfind('.');
  if (pass_dot == std::string::npos || pass_dot == 0) return "other";
  const auto item_dot = op_name.rfind('.', pass_dot - 1);
  const std::string op = op_name.substr(item_dot == std::string::npos ? 0 : item_dot + 1,
                                        pass_dot - (item_dot == std::string::npos ? 0 : item_dot + 1));
  static const std::map<std::string, std::string> kCategory = {
      {"norm", "elementwise"},       {"residual", "elementwise"},  {"lookup", "elementwise"},
      {"loss", "elementwise"},       {"qkv", "matmul"},            {"q", "matmul"},
      {"kv", "matmul"},              {"out", "matmul"},            {"logits", "matmul"},
      {"attention", "attention"},    {"router", "router"},         {"dispatch", "dispatch"},
      {"expert_wi", "expert_ffn"},   {"expert_act", "expert_ffn"}, {"expert_wo", "expert_ffn"},
      {"combine", "combine"}};
  const auto it = kCategory.find(op);
  return it == kCategory.end() ? "other" : it->second;
}

json predict_step(const SwitchModelConfig& config, const kernels::CostModel& cost) {
  const Model model = model_of(config);
  const Layout layout = parse_layout("dp=1,ep=1,mp=1");
  validate_layout(layout, model, 1);
  TrainingSetup setup;
  setup.batch_tokens = config.encoder_tokens();
  setup.micro_batches = 1;
  setup.moe_impl = MoeImpl::gather;
  setup.precision = Precision::fp32;
  setup.optimizer = Optimizer::adam;
  const StepShape shape = derive_step_shape(setup, model, layout);
  RoutingOptions ro;
  ro.capacity_factor = config.capacity_factor;
  ro.mode = ExecutionMode::capacity;
  const BuiltStep built = build_step(model, layout, setup, shape, ro, 1);

  const auto* calibrated = dynamic_cast<const kernels::CalibratedCostModel*>(&cost);
  double step_s = 0.0;
  std::map<std::string, double> phases, categories;
  std::map<std::string, std::int64_t> measured_ops, modelled_ops;
  std::map<std::string, double> kinds_needed;
  std::int64_t compute_ops = 0;
  json by_name = json::object();
  for (std::int32_t id = 0; id < built.graph.num_ops(); ++id) {
    const sim::Op& op = built.graph.op(id);
    SWITCHSIM_ASSERT(op.type == sim::OpType::compute, "a one-device step has no collectives");
    SWITCHSIM_ASSERT(op.member_shapes.empty(), "capacity mode: one shape per op");
    if (calibrated != nullptr && !calibrated->measures(op.shape.kind)) {
      throw InputError("--profile", fmt::format("has no samples of op kind '{}', which the step needs (run `switchsim "
                                                "calibrate --backend cpu` for a profile that covers it)",
                                                kernels::to_string(op.shape.kind)));
    }
    const double s = cost.predict(op.shape).seconds;
    const std::string category = step_op_category(op.name);
    step_s += s;
    by_name[op.name] = s;
    phases[phase_of(op.name)] += s;
    categories[category] += s;
    ++compute_ops;
    const bool in_range = calibrated != nullptr && calibrated->in_measured_range(op.shape);
    ++(in_range ? measured_ops : modelled_ops)[category];
  }
  // The same step through `simulate` on the one-device mesh of the profile's device kind (cpu-1:
  // no links, so no collectives): its executor's step time must be the sum of the ops' times
  // above, which is what the per-phase and per-category comparison splits up.
  const topology::Mesh mesh = topology::build_mesh("cpu-1");
  StepOptions so;
  so.training = setup;
  so.capacity_factor = config.capacity_factor;
  so.mode = ExecutionMode::capacity;
  const StepResult simulated = simulate_step(model, mesh, layout, so, cost);
  SWITCHSIM_ASSERT(std::abs(simulated.step_time_s - step_s) <= 1e-9 * step_s + 1e-15,
                   "one device, one stream: simulate's step time is the sum of its ops' times");
  json r;
  r["step_s"] = simulated.step_time_s;
  r["ops_sum_s"] = step_s;
  r["mesh"] = mesh.name;
  r["device_kind"] = mesh.device_kind;
  json ph = json::object();
  for (const char* p : kPhases) ph[p] = phases[p];
  r["phases"] = ph;
  json cat = json::object();
  for (const auto& [name, s] : categories) {
    const std::int64_t in = measured_ops[name], out = modelled_ops[name];
    cat[name] = json{{"seconds", s},
                     {"time_source", out == 0 ? "profile" : (in == 0 ? "model" : "mixed")},
                     {"measured_ops", in},
                     {"modelled_ops", out}};
  }
  r["categories"] = cat;
  r["ops"] = compute_ops;
  r["op_seconds"] = by_name;
  r["collectives"] = 0;
  r["parameters"] = count_params(model).total();
  r["drop_fraction"] = built.drops.assignments > 0.0 ? built.drops.dropped / built.drops.assignments : 0.0;
  // The `simulate` command line that gives this step (with the same profile).
  r["simulated_as"] = fmt::format(
      "switchsim simulate --model data/examples/{}.json --mesh cpu-1 --layout dp=1,ep=1,mp=1 --batch-tokens {} "
      "--micro-batches 1 --moe-impl gather --precision fp32 --optimizer adam --capacity-factor {:g} --profile PROFILE "
      "(capacity mode, uniform routing, seed 0)",
      kTinyCpuModelName, config.encoder_tokens(), config.capacity_factor);
  return r;
}

json validate_step_cpu(const kernels::CostModel& cost, const StepValidationOptions& o) {
  if (o.timed_steps < 1) throw InputError("--steps", "must be at least 1");
  if (o.warmup_steps < 0) throw InputError("--warmup", "must not be negative");
  const json predicted = predict_step(o.config, cost);  // refuses an incomplete profile before running

  kernels::cpu::SwitchModelStepCpu step(o.config, o.seed);
  for (int i = 0; i < o.warmup_steps; ++i) (void)step.step(nullptr);
  std::vector<double> step_s, step_cpu_s;
  std::map<std::string, std::vector<double>> phase_s, category_s, op_s;
  std::vector<StepOpTime> op_list;  // the first timed step's ops, in order
  std::vector<std::string> unpriced_ops;
  double loss = 0.0;
  std::int64_t dropped = 0;
  std::int64_t real_ops = 0;
  for (int i = 0; i < o.timed_steps; ++i) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.pause_s));
    (void)step.step(nullptr);  // untimed, as calibrate runs each kernel once before timing it
    std::vector<StepOpTime> ops;
    const double cpu0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    loss = step.step(&ops);
    step_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    step_cpu_s.push_back(process_cpu_seconds() - cpu0);
    dropped = step.dropped_last_step();
    std::map<std::string, double> ph, cat;
    for (const char* p : kPhases) ph[p] = 0.0;
    for (const StepOpTime& op : ops) {
      ph[kernels::cpu::to_string(op.phase)] += op.seconds;
      cat[op.category] += op.seconds;
      if (i == 0 && op.category == "unpriced") unpriced_ops.push_back(op.name);
      op_s[op.name].push_back(op.seconds);
    }
    real_ops = static_cast<std::int64_t>(ops.size());
    if (i == 0) op_list = ops;
    for (const auto& [k, v] : ph) phase_s[k].push_back(v);
    for (const auto& [k, v] : cat) category_s[k].push_back(v);
  }

  const SwitchModelConfig& c = o.config;
  json r;
  r["schema_version"] = kSchemaVersion;
  r["kind"] = "validate_step";
  r["backend"] = "cpu";
  r["model"] = json{{"name", kTinyCpuModelName},
                    {"family", "switch"},
                    {"sequences", c.sequences},
                    {"input_length", c.input_length},
                    {"target_length", c.target_length},
                    {"d_model", c.d_model},
                    {"heads", c.heads},
                    {"d_kv", c.d_kv},
                    {"d_ff", c.d_ff},
                    {"ffn", "relu"},
                    {"experts", c.experts},
                    {"top_k", 1},
                    {"capacity_factor", c.capacity_factor},
                    {"vocab", c.vocab},
                    {"encoder_layers", c.encoder_layers},
                    {"decoder_layers", c.decoder_layers},
                    {"encoder_tokens", c.encoder_tokens()},
                    {"decoder_tokens", c.decoder_tokens()},
                    {"parameters", step.parameters()},
                    {"optimizer_calls", step.optimizer_calls()}};
  r["protocol"] = json{{"warmup_steps", o.warmup_steps},
                       {"timed_steps", o.timed_steps},
                       {"pause_s", o.pause_s},
                       {"untimed_step_before_each", true},
                       {"seed", o.seed}};
  r["cost_model"] = cost.name();
  json measured;
  measured["step"] = percentiles_json(step_s);
  // The process's CPU time per step: on a shared machine the wall time includes the time other
  // processes held the cores; the CPU time does not (the step runs on one BLAS thread, and the
  // kernels' own threads split only loops above their thresholds, which few of this model's reach: then
  // the CPU time exceeds the wall time). A diagnostic, not the
  // figure the error is taken of.
  measured["step_cpu_time"] = percentiles_json(step_cpu_s);
  // The sum over the step's ops of each op's median over the timed steps: a preemption lands in
  // one op of one step and moves that op's median only when it hits the same op in most steps, so
  // this is the step's own time on a shared machine (a diagnostic beside the CPU time; the error
  // and --max-error use the wall time). One figure, no spread.
  double op_median_sum = 0.0;
  for (const StepOpTime& op : op_list) op_median_sum += kernels::percentiles(op_s[op.name]).median;
  measured["step_op_medians_s"] = op_median_sum;
  json mp = json::object();
  for (const char* p : kPhases) mp[p] = percentiles_json(phase_s[p]);
  measured["phases"] = mp;
  json mc = json::object();
  for (const auto& [k, v] : category_s) mc[k] = percentiles_json(v);
  measured["categories"] = mc;
  measured["ops"] = real_ops;
  measured["loss"] = loss;
  measured["drop_fraction"] =
      static_cast<double>(dropped) / static_cast<double>(std::max<std::int64_t>(1, step.assignments_last_step()));
  r["measured"] = measured;
  // Per op, in the real step's order: its median, and the simulated op of the same name where
  // there is one (the expert FFN and the per-head copies have none; see not_priced).
  // The simulated ops under the real step's names: the expert FFN's three ops are one real kernel
  // ("expert_ffn"), and a real ".bwd" op covers the simulator's ".dgrad" and ".wgrad" of it when
  // the real step does not split them (the router's and the expert FFN's backward kernels).
  std::map<std::string, double> joined;
  for (const auto& [name, v] : predicted["op_seconds"].items()) {
    std::string key = name;
    for (const char* part : {".expert_wi.", ".expert_act.", ".expert_wo."}) {
      if (const auto at = key.find(part); at != std::string::npos) key.replace(at, std::string(part).size(), ".expert_ffn.");
    }
    joined[key] += v.get<double>();
    for (const char* pass : {".dgrad", ".wgrad"}) {
      const std::string suffix = pass;
      if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
        joined[key.substr(0, key.size() - suffix.size()) + ".bwd"] += v.get<double>();
      }
    }
  }
  json per_op = json::array();
  for (const StepOpTime& op : op_list) {
    json row{{"name", op.name},
             {"category", op.category},
             {"phase", kernels::cpu::to_string(op.phase)},
             {"measured_median_s", kernels::percentiles(op_s[op.name]).median}};
    if (const auto it = joined.find(op.name); it != joined.end()) row["predicted_s"] = it->second;
    per_op.push_back(row);
  }
  r["op_times"] = per_op;
  json pred = predicted;
  pred.erase("op_seconds");
  r["predicted"] = pred;

  json errors;
  errors["step"] = relative_error(predicted["step_s"].get<double>(), measured["step"]["median_s"].get<double>());
  errors["step_cpu_time"] =
      relative_error(predicted["step_s"].get<double>(), measured["step_cpu_time"]["median_s"].get<double>());
  errors["step_op_medians"] = relative_error(predicted["step_s"].get<double>(), op_median_sum);
  json ep = json::object();
  for (const char* p : kPhases) {
    ep[p] = relative_error(predicted["phases"][p].get<double>(), mp[p]["median_s"].get<double>());
  }
  errors["phases"] = ep;
  json ec = json::object();
  for (const auto& [k, v] : predicted["categories"].items()) {
    if (mc.contains(k)) ec[k] = relative_error(v["seconds"].get<double>(), mc[k]["median_s"].get<double>());
  }
  errors["categories"] = ec;
  r["errors"] = errors;
  // What one side runs and the other does not price.
  r["not_priced"] = json{{"ops", unpriced_ops},
                         {"why", "real ops of category 'unpriced' (none since attention reads and writes the heads "
                                 "in place in the fused projections)"}};
  r["not_run"] = json{{"ops", json::array()},
                      {"note", "the two final layer norms are counted as parameters (and updated by Adam) but "
                               "neither side applies them"}};
  r["provenance"] = provenance();
  if (std::abs(predicted["parameters"].get<double>() - static_cast<double>(step.parameters())) > 0.5) {
    throw std::logic_error("validate --step: the real and the simulated model have different parameter counts");
  }
  return r;
}

}  // namespace switchsim::workloads
