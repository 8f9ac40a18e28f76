#include "workloads/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "sim/step_executor.hpp"
#include "sim/step_schedule_trace.hpp"
#include "sim/traffic.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/micro_batches.hpp"
#include "workloads/pipeline_memory.hpp"
#include "workloads/step_builder.hpp"

namespace switchsim::workloads {

const char* to_string(NetworkModel m) { return m == NetworkModel::shared ? "shared" : "isolated"; }

NetworkModel parse_network_model(const std::string& text, const std::string& field) {
  if (text == "shared") return NetworkModel::shared;
  if (text == "isolated") return NetworkModel::isolated;
  throw InputError(field, "must be 'shared' or 'isolated' (got '" + text + "')");
}

bool parse_comm_priority(const std::string& text, const std::string& field) {
  if (text == "none") return false;
  if (text == "all-to-all") return true;
  throw InputError(field, "must be 'none' or 'all-to-all' (got '" + text + "')");
}

namespace {

// Counter tracks of the busiest links' utilisation (load / capacity) over time.
void add_link_loads_to_trace(const topology::Mesh& mesh, const sim::SharedStepStats& stats, sim::TraceWriter& trace) {
  constexpr std::size_t kBusiestLinks = 16;
  const auto links = mesh.topology.links();
  // Bytes carried per link: the integral of its load.
  std::vector<double> carried(links.size(), 0.0), last_t(links.size(), 0.0), last_load(links.size(), 0.0);
  for (const sim::LinkLoadSample& x : stats.link_loads) {
    const auto l = static_cast<std::size_t>(x.link);
    carried[l] += last_load[l] * (x.time_s - last_t[l]);
    last_t[l] = x.time_s;
    last_load[l] = x.load_Bps;
  }
  std::vector<std::size_t> order(links.size());
  for (std::size_t l = 0; l < order.size(); ++l) order[l] = l;
  const std::size_t top = std::min(kBusiestLinks, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                    [&](std::size_t a, std::size_t b) { return carried[a] != carried[b] ? carried[a] > carried[b] : a < b; });
  std::vector<sim::TrackId> track(links.size(), -1);
  for (std::size_t i = 0; i < top; ++i) {
    const std::size_t l = order[i];
    if (carried[l] <= 0.0) break;
    const topology::Link& link = links[l];
    track[l] = trace.add_counter_track("link " + std::to_string(l) + " " + std::to_string(link.src) + "->" +
                                           std::to_string(link.dst) + " utilisation",
                                       "busiest links");
  }
  for (const sim::LinkLoadSample& x : stats.link_loads) {
    const auto l = static_cast<std::size_t>(x.link);
    if (track[l] < 0) continue;
    trace.add_counter(track[l], x.time_s, x.load_Bps / stats.link_capacity_Bps[l]);
  }
}

}  // namespace

StepResult simulate_step(const Model& model, const topology::Mesh& mesh, const Layout& layout,
                         const StepOptions& options, const kernels::CostModel& cost) {
  const std::int32_t devices = mesh.topology.num_devices();
  validate_layout(layout, model, devices);
  if (!(options.capacity_factor > 0.0) || !std::isfinite(options.capacity_factor)) {
    throw InputError("--capacity-factor", "must be a positive number");
  }
  if (model.is_moe()) check_routing_for_model(options.routing, model.experts);
  TrainingSetup training = options.training;
  training.moe_impl = resolve_moe_impl(training.moe_impl, mesh.is_tpu(), options.mode == ExecutionMode::dropless);
  const StepShape shape = derive_step_shape(training, model, layout);
  if (layout.pp > 1) validate_pipeline_schedule(training.pp_schedule, layout.pp, layout.vpp, training.micro_batches);

  RoutingOptions ro;
  ro.capacity_factor = options.capacity_factor;
  ro.spec = options.routing;
  ro.mode = options.mode;
  ro.seed = options.seed;
  ro.memo = options.routing_memo;
  ro.plan = resolve_routing_plan(options.routing_limit, options.dispatch, mesh, layout, model, training.moe_impl,
                                 options.routing);
  const BuiltStep built = build_step(model, layout, training, shape, ro, devices);

  std::unique_ptr<sim::CollectiveCache> own_cache;
  sim::CollectiveCache* cache = options.cache;
  if (cache == nullptr) {
    own_cache = std::make_unique<sim::CollectiveCache>(mesh, options.network);
    cache = own_cache.get();
  }
  SWITCHSIM_ASSERT(&cache->mesh() == &mesh, "collective cache belongs to another mesh");
  const std::int64_t sims_before = cache->simulations();
  sim::SharedStepStats shared;
  sim::StepSchedule schedule;
  bool collectives_overlap = true;  // unknown under the shared model (it simulates the overlap)
  if (options.network_model == NetworkModel::shared) {
    sim::SharedStepOptions so;
    so.strict_priority = options.strict_priority;
    so.record_link_loads = options.trace != nullptr;
    so.progress = options.progress;
    schedule = sim::execute_step_shared(built.graph, cost, *cache, so, &shared);
  } else {
    schedule = sim::execute_step(built.graph, cost, *cache, options.progress);
    collectives_overlap = sim::collectives_overlap(built.graph, schedule);
  }
  if (options.trace != nullptr) {
    (void)sim::add_step_to_trace(built.graph, schedule, *options.trace,
                                 {.max_devices = options.trace_max_devices, .all_devices = options.trace_all_devices});
    if (options.network_model == NetworkModel::shared) add_link_loads_to_trace(mesh, shared, *options.trace);
  }
  shared.link_loads.clear();
  shared.link_capacity_Bps.clear();

  StepResult r;
  r.model = model.name;
  r.decoder_only = model.decoder_only();
  r.mesh = mesh.name;
  r.mesh_file = mesh.file;
  r.device_kind = mesh.device_kind;
  r.devices = devices;
  r.layout = layout.to_string();
  r.capacity_factor = options.capacity_factor;
  r.mode = to_string(options.mode);
  r.routing = options.routing.text;
  r.seed = options.seed;
  r.routing_plan = ro.plan;
  r.training = training;
  if (const char* caveat = platform_caveat(training.moe_impl, mesh.is_tpu())) r.platform_caveat = caveat;
  r.shape = shape;
  r.expert_capacity = built.encoder_capacity;
  r.decoder_expert_capacity = built.decoder_capacity;
  r.step_time_s = schedule.step_time_s;
  r.collectives_overlap = collectives_overlap;
  r.tokens_per_s = static_cast<double>(options.training.batch_tokens) / schedule.step_time_s;
  r.examples_per_s = static_cast<double>(shape.sequences) / schedule.step_time_s;
  r.drop_fraction = built.drops.fraction();
  r.encoder_drop_fraction = built.encoder_drops.fraction();
  r.decoder_drop_fraction = built.decoder_drops.fraction();
  r.max_expert_load_ratio = built.max_expert_load_ratio;
  r.encoder_received_slots = built.encoder_received_slots;
  r.decoder_received_slots = built.decoder_received_slots;
  r.pp = layout.pp;
  if (layout.folded()) {
    r.etp = layout.expert_tp();
    r.expert_ep = layout.ep;
    r.edp = layout.replicas();
  }
  const PipelineMemory pm = estimate_pipeline_memory(model, layout, training, shape, built.encoder_received_slots,
                                                     built.decoder_received_slots,
                                                     topology::device_spec(mesh.device_kind).memory_bytes);
  r.memory = pm.memory;
  r.memory_stage = pm.stage;
  r.breakdown = schedule.critical_path;
  r.network_model = options.network_model;
  r.strict_priority = options.strict_priority;
  r.exposed_communication_s = schedule.exposed_communication_s;
  r.overlapped_communication_s = schedule.overlapped_communication_s;
  r.shared = shared;
  r.compute_lower_bound_s = schedule.compute_busy_max_s;
  r.network = cache->network();
  r.ops = built.graph.num_ops();
  r.collective_simulations = cache->simulations() - sims_before;
  r.cost_model = cost.name();
  r.params = count_params(model).total();
  r.op_accounting = account_ops(built.graph, schedule, cost);
  r.model_flops = model_flops(model, shape.sequences, schedule.step_time_s, devices, mesh.device_kind,
                              options.training.precision != Precision::fp32);
  if (options.traffic) {
    if (devices <= kMaxTrafficDevices) {
      r.traffic = sim::all_to_all_traffic(built.graph);
    } else {
      r.traffic_omitted = "more than " + std::to_string(kMaxTrafficDevices) + " devices";
    }
  }
  return r;
}

Spread spread_of(const std::vector<double>& xs) {
  Spread s;
  if (xs.empty()) return s;
  s.min = *std::min_element(xs.begin(), xs.end());
  s.max = *std::max_element(xs.begin(), xs.end());
  double sum = 0.0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(xs.size());
  if (xs.size() > 1) {
    double ss = 0.0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  }
  return s;
}

namespace {

json spread_json(const Spread& s) { return json{{"mean", s.mean}, {"min", s.min}, {"max", s.max}, {"stddev", s.stddev}}; }
}  // namespace

std::vector<CapacityRow> capacity_sweep(const Model& model, const topology::Mesh& mesh, const Layout& layout,
                                        const StepOptions& options, const std::vector<double>& factors,
                                        std::int64_t samples, const kernels::CostModel& cost) {
  if (samples <= 0) throw InputError("--samples", "must be positive");
  if (factors.empty()) throw InputError("--factors", "needs at least one capacity factor");
  sim::CollectiveCache local(mesh, options.network);
  StepOptions o = options;
  o.trace = nullptr;
  if (o.cache == nullptr) o.cache = &local;
  std::vector<CapacityRow> rows;
  // Dropless mode has no capacity factor: the sweep collapses to one row (the factor is not used).
  const std::vector<double> used = options.mode == ExecutionMode::dropless ? std::vector<double>{factors.front()} : factors;
  for (double f : used) {
    CapacityRow row;
    row.capacity_factor = f;
    row.samples = samples;
    std::vector<double> t, tps, eps, drop;
    for (std::int64_t s = 0; s < samples; ++s) {
      o.capacity_factor = f;
      o.seed = options.seed + static_cast<std::uint64_t>(s);
      StepResult r = simulate_step(model, mesh, layout, o, cost);
      t.push_back(r.step_time_s);
      tps.push_back(r.tokens_per_s);
      eps.push_back(r.examples_per_s);
      drop.push_back(r.drop_fraction);
      if (s == 0) row.first = std::move(r);
    }
    row.step_time_s = spread_of(t);
    row.tokens_per_s = spread_of(tps);
    row.examples_per_s = spread_of(eps);
    row.drop_fraction = spread_of(drop);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<double> parse_factors(const std::string& text, const std::string& field) {
  std::vector<double> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    std::size_t used = 0;
    double x = 0.0;
    try {
      x = std::stod(item, &used);
    } catch (const std::exception&) {
      throw InputError(field, "'" + item + "' is not a number");
    }
    if (used != item.size() || !std::isfinite(x)) throw InputError(field, "'" + item + "' is not a number");
    if (!(x > 0.0)) throw InputError(field, "capacity factors must be positive (got " + item + ")");
    out.push_back(x);
    if (comma == text.size()) break;
    pos = comma + 1;
  }
  return out;
}

json to_json(const StepResult& r) {
  json j;
  j["schema_version"] = kSchemaVersion;
  j["kind"] = "step";
  j["model"] = r.model;
  j["mesh"] = r.mesh;
  if (!r.mesh_file.empty()) j["mesh_file"] = r.mesh_file;
  j["device_kind"] = r.device_kind;
  j["devices"] = r.devices;
  j["layout"] = r.layout;
  if (r.etp > 0) j["expert_layout"] = json{{"etp", r.etp}, {"ep", r.expert_ep}, {"edp", r.edp}};  // folded only
  // Dropless mode has no capacity: no factor and no expert capacity are written, only what it has
  // (the busiest device's load below).
  const bool dropless = r.mode == "dropless";
  if (!dropless) j["capacity_factor"] = r.capacity_factor;
  j["mode"] = r.mode;
  j["routing"] = r.routing;
  j["seed"] = r.seed;
  if (r.routing_plan.recorded()) {  // written only when asked for: the default JSON is unchanged
    const RoutingLimit& lim = r.routing_plan.limit;
    j["max_nodes_per_token"] = lim.max_nodes > 0 ? json(lim.max_nodes) : json(nullptr);
    j["max_devices_per_token"] = lim.max_devices > 0 ? json(lim.max_devices) : json(nullptr);
    j["dispatch"] = to_string(r.routing_plan.dispatch);
  }
  j["batch_tokens"] = r.training.batch_tokens;
  j["sequences"] = r.shape.sequences;
  j["micro_batches"] = r.training.micro_batches;
  j["micro_batches_chosen"] = r.training.micro_batches_chosen;
  if (r.pp > 1) {
    j["pp_schedule"] = to_string(r.training.pp_schedule);
    j["memory_stage"] = r.memory_stage;  // the pipeline stage of the most loaded device
  }
  j["precision"] = to_string(r.training.precision);
  j["fp8_dispatch"] = r.training.fp8_dispatch;
  j["optimizer"] = to_string(r.training.optimizer);
  j["rematerialize"] = r.training.rematerialize;
  j["group_tokens"] = r.shape.group_tokens;
  j["decoder_group_tokens"] = r.shape.decoder_group_tokens;
  j["groups_per_device"] = r.shape.groups_per_device;
  j["decoder_groups_per_device"] = r.shape.decoder_groups_per_device;
  j["moe_impl"] = to_string(r.training.moe_impl);
  if (!r.platform_caveat.empty()) j["platform_caveat"] = r.platform_caveat;
  if (!dropless) {
    j["expert_capacity"] = r.expert_capacity;
    j["decoder_expert_capacity"] = r.decoder_expert_capacity;
  }
  j["step_time_s"] = r.step_time_s;
  // The compute-cost band (workloads/op_accounting.hpp): first order, network not included.
  j["step_time_s_low"] = std::max(0.0, r.step_time_s - r.op_accounting.uncertainty_s);
  j["step_time_s_high"] = r.step_time_s + r.op_accounting.uncertainty_s;
  j["uncertainty"] = {{"compute_s", r.op_accounting.uncertainty_s},
                      {"covers", kStepUncertaintyCovers}};
  j["tokens_per_s"] = r.tokens_per_s;
  j["examples_per_s"] = r.examples_per_s;
  j["drop_fraction"] = r.drop_fraction;
  j["encoder_drop_fraction"] = r.encoder_drop_fraction;
  j["decoder_drop_fraction"] = r.decoder_drop_fraction;
  j["max_expert_load_ratio"] = r.max_expert_load_ratio;
  j["busiest_device_slots"] = r.encoder_received_slots;
  j["decoder_busiest_device_slots"] = r.decoder_received_slots;
  j["memory_per_device_bytes"] = r.memory.total_bytes();
  j["fits_memory"] = r.memory.fits();
  j["memory"] = to_json(r.memory);
  if (!r.memory.fits()) j["rejected"] = r.memory.explain(r.device_kind);
  j["breakdown"] = {{"compute_s", r.breakdown.compute_s},
                    {"all_to_all_s", r.breakdown.all_to_all_s},
                    {"all_reduce_s", r.breakdown.all_reduce_s},
                    {"other_communication_s", r.breakdown.other_communication_s},
                    {"idle_s", r.breakdown.idle_s},
                    {"exposed_communication_s", r.exposed_communication_s},
                    {"overlapped_communication_s", r.overlapped_communication_s}};
  j["exposed_communication_s"] = r.exposed_communication_s;
  j["overlapped_communication_s"] = r.overlapped_communication_s;
  j["compute_lower_bound_s"] = r.compute_lower_bound_s;
  j["network_model"] = to_string(r.network_model);
  j["grad_sync"] = to_string(r.training.grad_sync);
  j["comm_streams"] = r.training.grad_sync.separate_stream || r.training.zero_stage >= 3 ? 2 : 1;
  j["comm_priority"] = r.strict_priority ? "all-to-all" : "none";
  // --zero: written only when sharding is on, so an unsharded step's JSON is what it was before the flag.
  if (r.training.zero_stage != 0) j["zero"] = r.training.zero_stage;
  if (r.network_model == NetworkModel::shared) {
    j["shared_network"] = {{"collectives", r.shared.collectives},
                           {"timed_alone_from_memo", r.shared.memo_alone},
                           {"replayed_into_shared", r.shared.replayed},
                           {"load_modelled", r.shared.load_modelled},
                           {"flows", r.shared.flows},
                           {"network_events", r.shared.network_events}};
  }
  j["network_tolerance"] = r.network.completion_window;
  j["load_model_above_devices"] = r.network.load_model_above_devices;
  j["params"] = r.params;
  j["op_count"] = r.ops;
  j["ops"] = to_json(r.op_accounting);
  j["model_flops_per_step"] = r.model_flops.per_step;
  j["model_flops_per_s_per_device"] = r.model_flops.per_s_per_device;
  j["peak_flops_per_device"] = r.model_flops.peak_flops_per_device;
  j["mfu"] = r.model_flops.mfu;
  j["mfu_convention"] = kModelFlopsConvention;
  if (r.traffic) {
    j["traffic_matrix"] = {{"n", r.traffic->n()},
                           {"what", "bytes device i sends device j in one step's all-to-alls (dispatch + combine, "
                                    "forward + backward, all micro-batches); diagonal 0 (a device's own share stays local)"},
                           {"bytes", r.traffic->dense()}};
  } else if (!r.traffic_omitted.empty()) {
    j["traffic_matrix_omitted"] = r.traffic_omitted;
  }
  json prov = provenance();
  prov["cost_model"] = r.cost_model;
  prov["moe_impl"] = to_string(r.training.moe_impl);
  prov["moe_layer"] = describe_moe_impl(r.training.moe_impl);
  if (r.pp > 1) {
    prov["pipeline"] = std::string(to_string(r.training.pp_schedule)) +
                       " schedule (workloads/pipeline_schedule.hpp): each stage issues its micro-batches in that "
                       "order; activation and gradient sends between stages are point-to-point network transfers; "
                       "the bubble is simulated, not a formula";
  }
  prov["collectives"] =
      r.network_model == NetworkModel::shared
          ? "flow-level, one shared network for the whole step: concurrent collectives share links max-min fairly" +
                std::string(r.strict_priority ? ", all-to-all with strict priority" : "") +
                " (a collective sharing no link and no sender with those in flight is timed from the isolated memo: "
                "the same result)"
          : "flow-level, each collective simulated alone (isolated: no contention between concurrent collectives)";
  prov["network_model"] = sim::describe_network_model(r.network);
  prov["collective_protocol"] = sim::describe_collective_protocol(r.network);
  if (const std::string a2a = sim::describe_all_to_all_model(r.network, r.devices); !a2a.empty()) {
    prov["all_to_all_model"] = a2a;
  }
  j["provenance"] = prov;
  return j;
}

json to_json(const std::vector<CapacityRow>& rows) {
  json j;
  j["schema_version"] = kSchemaVersion;
  j["kind"] = "capacity";
  if (!rows.empty()) {
    const StepResult& f = rows.front().first;
    j["model"] = f.model;
    j["mesh"] = f.mesh;
    if (!f.mesh_file.empty()) j["mesh_file"] = f.mesh_file;
    j["layout"] = f.layout;
    j["mode"] = f.mode;
    j["routing"] = f.routing;
    j["seed"] = f.seed;
    j["samples"] = rows.front().samples;
    j["micro_batches"] = f.training.micro_batches;
    j["micro_batches_chosen"] = f.training.micro_batches_chosen;
    if (f.pp > 1) j["pp_schedule"] = to_string(f.training.pp_schedule);
    j["network_tolerance"] = f.network.completion_window;
    j["load_model_above_devices"] = f.network.load_model_above_devices;
    j["network_model"] = to_string(f.network_model);
    j["grad_sync"] = to_string(f.training.grad_sync);
    if (f.training.zero_stage != 0) j["zero"] = f.training.zero_stage;
    j["moe_impl"] = to_string(f.training.moe_impl);
    j["precision"] = to_string(f.training.precision);
    j["fp8_dispatch"] = f.training.fp8_dispatch;
  }
  json arr = json::array();
  for (const CapacityRow& row : rows) {
    json r = to_json(row.first);
    r.erase("schema_version");
    r.erase("provenance");
    r.erase("traffic_matrix");  // per step, not per row
    r.erase("traffic_matrix_omitted");
    r["samples"] = row.samples;
    r["step_time_s"] = row.step_time_s.mean;
    r["tokens_per_s"] = row.tokens_per_s.mean;
    r["examples_per_s"] = row.examples_per_s.mean;
    r["drop_fraction"] = row.drop_fraction.mean;
    r["spread"] = {{"step_time_s", spread_json(row.step_time_s)},
                   {"tokens_per_s", spread_json(row.tokens_per_s)},
                   {"examples_per_s", spread_json(row.examples_per_s)},
                   {"drop_fraction", spread_json(row.drop_fraction)}};
    arr.push_back(std::move(r));
  }
  j["rows"] = std::move(arr);
  json prov = provenance();
  if (!rows.empty()) {
    prov["cost_model"] = rows.front().first.cost_model;
    prov["moe_impl"] = to_string(rows.front().first.training.moe_impl);
    prov["moe_layer"] = describe_moe_impl(rows.front().first.training.moe_impl);
  }
  j["provenance"] = prov;
  return j;
}

std::string to_text(const StepResult& r) {
  constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
  // A step that does not fit is said first, before any figure a reader might take for a plan.
  std::string s = r.memory.fits() ? std::string() : "DOES NOT FIT: " + r.memory.explain(r.device_kind) + "\n";
  s += fmt::format("{} on {} ({} devices), layout {}\n", r.model, r.mesh, r.devices, r.layout);
  if (!r.platform_caveat.empty()) s += "NOTE: " + r.platform_caveat + "\n";
  if (r.mode == "dropless") {
    // Dropless has no capacity factor and no expert capacity: what it has is the busiest device's load.
    // A decoder-only model has one stack: its figures are the "encoder" fields; T5-family models show both stacks.
    const std::string second_stack =
        r.decoder_only ? std::string() : fmt::format(" (decoder {:.6g})", r.decoder_received_slots);
    s += fmt::format("dropless mode (routing {}, seed {}, MoE layer {}): group {} tokens; the busiest device's experts "
                     "receive {:.6g} slots per MoE layer{}, {:.4g} x the mean; nothing is dropped\n",
                     r.routing, r.seed, to_string(r.training.moe_impl), r.shape.group_tokens, r.encoder_received_slots,
                     second_stack, r.max_expert_load_ratio);
  } else {
    const std::string second_stack = r.decoder_only ? std::string() : fmt::format(" (decoder {})", r.decoder_expert_capacity);
    s += fmt::format("capacity factor {:g} ({} mode, routing {}, seed {}, MoE layer {}): group {} tokens, expert "
                     "capacity {}{}\n",
                     r.capacity_factor, r.mode, r.routing, r.seed, to_string(r.training.moe_impl), r.shape.group_tokens,
                     r.expert_capacity, second_stack);
  }
  if (r.routing_plan.recorded()) {  // limited_routing.hpp
    const RoutingLimit& lim = r.routing_plan.limit;
    s += fmt::format("routing limit  {} node(s), {} device(s) per token; dispatch {}\n",
                     lim.max_nodes > 0 ? std::to_string(lim.max_nodes) : "any",
                     lim.max_devices > 0 ? std::to_string(lim.max_devices) : "any", to_string(r.routing_plan.dispatch));
  }
  s += fmt::format("step time      {:.6g} s   tokens/s {:.6g}   examples/s {:.6g}\n", r.step_time_s, r.tokens_per_s,
                   r.examples_per_s);
  s += fmt::format("uncertainty    +-{:.4g} s ({:.3g}%) from the compute costs along the critical path: {:.6g}..{:.6g} s "
                   "(network not included)\n",
                   r.op_accounting.uncertainty_s, 100.0 * r.op_accounting.uncertainty_s / r.step_time_s,
                   std::max(0.0, r.step_time_s - r.op_accounting.uncertainty_s),
                   r.step_time_s + r.op_accounting.uncertainty_s);
  if (r.mode != "dropless") {
    if (r.decoder_only) {
      s += fmt::format("drop fraction  {:.4g}%\n", 100.0 * r.drop_fraction);
    } else {
      s += fmt::format("drop fraction  {:.4g}% (encoder {:.4g}%, decoder {:.4g}%)\n", 100.0 * r.drop_fraction,
                       100.0 * r.encoder_drop_fraction, 100.0 * r.decoder_drop_fraction);
    }
  }
  s += fmt::format("critical path  compute {:.4g} s, all-to-all {:.4g} s, all-reduce {:.4g} s, idle {:.4g} s\n",
                   r.breakdown.compute_s, r.breakdown.all_to_all_s, r.breakdown.all_reduce_s, r.breakdown.idle_s);
  s += fmt::format("communication  exposed {:.4g} s, overlapped with compute {:.4g} s ({} network, gradients {})\n",
                   r.exposed_communication_s, r.overlapped_communication_s, to_string(r.network_model),
                   to_string(r.training.grad_sync));
  s += fmt::format("memory         {:.2f} GiB of {:.2f} GiB per device{}{}\n", r.memory.total_bytes() / GiB,
                   r.memory.device_memory_bytes / GiB,
                   r.pp > 1 ? fmt::format(" (the busiest, pipeline stage {} of {})", r.memory_stage, r.pp) : "",
                   r.memory.fits() ? "" : "  DOES NOT FIT");
  if (r.pp > 1) s += fmt::format("pipeline       {} stages, {} schedule\n", r.pp, to_string(r.training.pp_schedule));
  if (r.training.zero_stage != 0) {
    static constexpr const char* kSharded[] = {"", "optimizer state", "optimizer state and gradients",
                                               "optimizer state, gradients and parameters"};
    s += fmt::format(
        "zero           stage {}: {} sharded over each parameter's data-parallel group (dense: dp, "
        "experts: dp/ep)\n",
        r.training.zero_stage, kSharded[r.training.zero_stage]);
  }
  if (r.training.micro_batches_chosen) {
    s += fmt::format("micro-batches  {} (chosen: the smallest of 1, 2, 4, ... whose estimate fits {:.0f}% of device "
                     "memory; --micro-batches sets it)\n",
                     r.training.micro_batches, 100.0 * kDefaultMemoryHeadroom);
  } else {
    s += fmt::format("micro-batches  {} (as given)\n", r.training.micro_batches);
  }
  s += fmt::format("cost model     {}; {} ops; precision {}{}\n", r.cost_model, r.ops, to_string(r.training.precision),
                   r.training.fp8_dispatch ? " (fp8 dispatch)" : "");
  s += fmt::format("model FLOP/s   {:.4g} per device (3 x forward, PaLM/Megatron convention), MFU {:.2f}% of {:.4g} "
                   "({} peak)\n",
                   r.model_flops.per_s_per_device, 100.0 * r.model_flops.mfu, r.model_flops.peak_flops_per_device,
                   r.model_flops.precision);
  s += to_text(r.op_accounting);
  return s;
}

std::string to_text(const std::vector<CapacityRow>& rows) {
  std::string s;
  if (rows.empty()) return s;
  const StepResult& f = rows.front().first;
  s += f.model + " on " + f.mesh + ", layout " + f.layout + ", " + f.mode + " mode, routing " + f.routing + ", " +
       std::to_string(rows.front().samples) + " seed(s), " + std::to_string(f.training.micro_batches) +
       (!f.training.micro_batches_chosen ? " micro-batch(es)\n"
        : f.mode == "dropless"           ? " micro-batch(es) (chosen: the smallest count that fits)\n"
                                         : " micro-batch(es) (chosen: the smallest count that fits at the largest factor)\n");
  if (f.mode == "dropless") {
    // One row: dropless has no factor to sweep; its figure of merit is the busiest device's load.
    s += "  mode      step_time_s (min..max)          tokens/s      busiest device / mean  fits\n";
    for (const CapacityRow& row : rows) {
      s += fmt::format("  dropless  {:.6g} ({:.6g}..{:.6g})  {:.6g}  {:.4g}  {}\n", row.step_time_s.mean, row.step_time_s.min,
                       row.step_time_s.max, row.tokens_per_s.mean, row.first.max_expert_load_ratio,
                       row.first.memory.fits() ? "yes" : "no");
    }
    return s;
  }
  s += "  factor  capacity  step_time_s (min..max)          tokens/s      drop %  (min..max)        fits\n";
  for (const CapacityRow& row : rows) {
    s += fmt::format("  {:6.3g}  {:8d}  {:.6g} ({:.6g}..{:.6g})  {:.6g}  {:.4g} ({:.4g}..{:.4g})  {}\n", row.capacity_factor,
                     row.first.expert_capacity, row.step_time_s.mean, row.step_time_s.min, row.step_time_s.max,
                     row.tokens_per_s.mean, 100.0 * row.drop_fraction.mean, 100.0 * row.drop_fraction.min,
                     100.0 * row.drop_fraction.max, row.first.memory.fits() ? "yes" : "no");
  }
  return s;
}

}  // namespace switchsim::workloads
