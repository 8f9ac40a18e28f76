#include "planner/recommend_output.hpp"

#include <algorithm>
#include <cstdio>

#include "workloads/moe_impl.hpp"

namespace switchsim::planner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

json spread_json(const workloads::Spread& s) {
  return json{{"mean", s.mean}, {"min", s.min}, {"max", s.max}, {"stddev", s.stddev}};
}

json layout_json(const workloads::Layout& l) {
  Candidate c;
  c.layout = l;
  // etp: the expert layers' tensor-parallel degree (= mp unless the layout is folded).
  return json{{"dp", l.dp}, {"ep", l.ep}, {"mp", l.mp}, {"etp", l.expert_tp()}, {"pp", l.pp}, {"vpp", l.vpp},
              {"mapping", c.mapping()}, {"text", l.to_string()}};
}

json factor_json(double factor, workloads::ExecutionMode mode) {
  return mode == workloads::ExecutionMode::dropless ? json(nullptr) : json(factor);
}

json entry_json(const Evaluation& e, bool tpu) {
  json j;
  j["layout"] = layout_json(e.candidate.layout);
  j["capacity_factor"] = factor_json(e.candidate.capacity_factor, e.candidate.mode);
  j["mode"] = workloads::to_string(e.candidate.mode);
  j["moe_impl"] = workloads::to_string(e.candidate.moe_impl);
  if (const char* caveat = workloads::platform_caveat(e.candidate.moe_impl, tpu)) j["platform_caveat"] = caveat;
  j["micro_batches"] = e.candidate.micro_batches;
  j["zero"] = e.candidate.zero;
  j["pp_schedule"] = e.candidate.layout.pp > 1 ? json(workloads::to_string(e.candidate.schedule)) : json(nullptr);
  j["expert_capacity"] = e.expert_capacity;
  j["step_time_s"] = e.step_time_s.mean;
  j["step_time_s_low"] = std::max(0.0, e.step_time_s.mean - e.uncertainty_s);
  j["step_time_s_high"] = e.step_time_s.mean + e.uncertainty_s;
  j["tokens_per_s"] = e.tokens_per_s.mean;
  j["drop_fraction"] = e.drop_fraction.mean;
  j["effective_tokens_per_s"] = e.effective_tokens_per_s;
  j["memory_per_device_bytes"] = e.memory_per_device_bytes();
  j["memory"] = workloads::to_json(e.memory);
  j["breakdown"] = {{"compute_s", e.breakdown.compute_s},
                    {"all_to_all_s", e.breakdown.all_to_all_s},
                    {"all_reduce_s", e.breakdown.all_reduce_s},
                    {"other_communication_s", e.breakdown.other_communication_s},
                    {"idle_s", e.breakdown.idle_s}};
  j["spread"] = {{"step_time_s", spread_json(e.step_time_s)},
                 {"tokens_per_s", spread_json(e.tokens_per_s)},
                 {"drop_fraction", spread_json(e.drop_fraction)}};
  j["network_model"] = e.reranked ? "shared" : "isolated";
  if (e.reranked) j["isolated_step_time_s"] = e.isolated_step_time_s;
  j["lower_bound"] = {{"step_time_s", e.bound.step_time_s()},
                      {"compute_s", e.bound.compute_s},
                      {"communication_s", e.bound.communication_s},
                      {"chain_s", e.bound.chain_s}};
  return j;
}

std::string mode_text(double factor, workloads::ExecutionMode mode) {
  if (mode == workloads::ExecutionMode::dropless) return "dropless";
  char buf[32];
  std::snprintf(buf, sizeof buf, "cf=%g", factor);
  return buf;
}

}  // namespace

json to_json(const RecommendResult& r) {
  const SearchOptions& o = r.options;
  json j;
  j["schema_version"] = kSchemaVersion;
  j["kind"] = "recommend";
  j["command"] = "recommend";
  json in;
  in["model"] = r.model;
  in["mesh"] = r.mesh;
  if (!r.mesh_file.empty()) in["mesh_file"] = r.mesh_file;
  in["device_kind"] = r.device_kind;
  in["devices"] = r.devices;
  in["objective"] = to_string(o.objective);
  in["max_drop"] = o.max_drop;
  in["factors"] = o.enumeration.factors;
  in["dropless"] = o.enumeration.dropless;
  in["samples"] = o.samples;
  in["seed"] = o.seed;
  in["routing"] = o.routing.text;
  in["batch_tokens"] = o.enumeration.training.batch_tokens;
  in["group_tokens"] = o.enumeration.training.group_tokens;
  in["moe_impl"] = workloads::to_string(o.enumeration.training.moe_impl);
  in["precision"] = workloads::to_string(o.enumeration.training.precision);
  in["fp8_dispatch"] = o.enumeration.training.fp8_dispatch;
  in["optimizer"] = workloads::to_string(o.enumeration.training.optimizer);
  in["rematerialize"] = o.enumeration.training.rematerialize;
  in["memory_headroom"] = o.enumeration.memory_headroom;
  in["max_micro_batches"] = o.enumeration.max_micro_batches;
  in["top"] = o.top;
  in["prune"] = o.prune;
  in["network_tolerance"] = o.network_tolerance;
  in["load_model_above_devices"] = o.load_model_above_devices;
  in["network_model"] = workloads::to_string(o.network_model);
  in["grad_sync"] = workloads::to_string(o.enumeration.training.grad_sync);
  in["comm_priority"] = o.strict_priority ? "all-to-all" : "none";
  in["pp"] = pp_search_to_string(o.enumeration.pp);
  in["pp_schedule"] = schedule_search_to_string(o.enumeration.pp_schedule);
  in["pipelines_searched"] = r.pipelines;
  in["rerank"] = o.rerank;
  in["zero"] = zero_search_to_string(o.enumeration.zero);
  in["etp"] = etp_search_to_string(o.enumeration.etp);
  j["inputs"] = std::move(in);
  json recs = json::array();
  for (const Recommendation& rec : r.recommendations) {
    json e;
    e["rank"] = rec.rank;
    const json entry = entry_json(r.evaluated[rec.evaluation], r.tpu);
    e.update(entry);
    e["why"] = rec.why;
    recs.push_back(std::move(e));
  }
  j["recommendations"] = std::move(recs);
  json pareto = json::array();
  for (std::size_t i : r.pareto) pareto.push_back(entry_json(r.evaluated[i], r.tpu));
  j["pareto"] = std::move(pareto);
  json rej = json::array();
  for (const Rejection& x : r.rejected) {
    rej.push_back({{"layout", layout_json(x.layout)},
                   {"capacity_factor", factor_json(x.capacity_factor, x.mode)},
                   {"mode", workloads::to_string(x.mode)},
                   {"micro_batches", x.micro_batches},
                   {"zero", x.zero},
                   {"pp_schedule", x.layout.pp > 1 ? json(workloads::to_string(x.schedule)) : json(nullptr)},
                   {"memory_per_device_bytes", x.memory_per_device_bytes},
                   {"memory_limit_bytes", x.memory_limit_bytes},
                   {"reason", x.reason},
                   {"reason_kind", x.reason_kind}});
  }
  j["rejected"] = std::move(rej);
  std::int64_t over = 0;
  for (const Evaluation& e : r.evaluated) over += e.meets_drop_limit ? 0 : 1;
  j["layouts"] = r.layouts;
  j["mappings"] = r.mappings;
  j["candidates"] = r.candidates;
  j["evaluated"] = static_cast<std::int64_t>(r.evaluated.size());
  j["pruned"] = r.pruned;
  j["pruned_after_first_seed"] = r.pruned_after_first_seed;
  j["reranked"] = r.reranked;
  if (r.reranked > 0) {
    j["rerank"] = {{"isolated_top", r.isolated_top}, {"top_changed", r.rerank_changed_top},
                   {"reused_from_search", r.rerank_reused}};
  }
  j["over_drop_limit"] = over;
  j["wall_s"] = r.wall_s;
  json prov = provenance();
  prov["cost_model"] = r.cost_model;
  {
    // The implementation each evaluated mode ran (resolved per mode from inputs.moe_impl).
    json impls = json::object();
    for (const Evaluation& e : r.evaluated) {
      const std::string mode = workloads::to_string(e.candidate.mode);
      impls[mode] = workloads::to_string(e.candidate.moe_impl);
    }
    prov["moe_impl"] = std::move(impls);
  }
  prov["collectives"] =
      o.network_model == workloads::NetworkModel::shared
          ? "search: flow-level, each collective simulated alone (isolated); the best " + std::to_string(r.reranked) +
                " re-simulated on one shared network for the whole step (contention between collectives) and "
                "ranked by that (a candidate whose search steps never had two collectives in flight at once keeps "
                "them: the shared network gives the same steps)"
          : "flow-level, each collective simulated alone (isolated: no contention between concurrent collectives)";
  prov["network_tolerance"] = o.network_tolerance;
  prov["load_model_above_devices"] = o.load_model_above_devices;
  const sim::NetworkOptions network = network_options(o);
  if (const std::string a2a = sim::describe_all_to_all_model(network, r.devices); !a2a.empty()) {
    prov["all_to_all_model"] = a2a;
  }
  prov["network_model"] = sim::describe_network_model(network);
  prov["collective_protocol"] = sim::describe_collective_protocol(network);
  j["provenance"] = std::move(prov);
  return j;
}

std::string to_text(const RecommendResult& r) {
  const SearchOptions& o = r.options;
  std::string s;
  char buf[1024];
  std::snprintf(buf, sizeof buf, "%s on %s (%d %s devices): objective %s", r.model.c_str(), r.mesh.c_str(), r.devices,
                r.device_kind.c_str(), to_string(o.objective));
  s += buf;
  if (o.objective != Objective::effective_throughput) {
    std::snprintf(buf, sizeof buf, ", drop fraction <= %g%%", 100.0 * o.max_drop);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, ", %lld seed(s) from %llu, %s\n", static_cast<long long>(o.samples),
                static_cast<unsigned long long>(o.seed), r.cost_model.c_str());
  s += buf;
  if (r.recommendations.empty()) {
    s += "no layout fits and meets the constraints\n";
  } else {
    s += "rank  layout                        mode      mb  step_s     tokens/s    drop%    GiB/dev\n";
    for (const Recommendation& rec : r.recommendations) {
      const Evaluation& e = r.evaluated[rec.evaluation];
      const std::string layout = "dp=" + std::to_string(e.candidate.layout.dp) +
                                 ",ep=" + std::to_string(e.candidate.layout.ep) +
                                 ",mp=" + std::to_string(e.candidate.layout.mp) +
                                 (e.candidate.layout.pp > 1 ? ",pp=" + std::to_string(e.candidate.layout.pp) : "") +
                                 (e.candidate.layout.vpp > 1 ? ",vpp=" + std::to_string(e.candidate.layout.vpp) : "") +
                                 " " + e.candidate.mapping() +
                                 (e.candidate.zero > 0 ? " zero=" + std::to_string(e.candidate.zero) : "");
      std::snprintf(buf, sizeof buf, "%4lld  %-28s  %-8s  %2lld  %-9.4g  %-10.4g  %-7.3g  %.2f\n      %s\n",
                    static_cast<long long>(rec.rank), layout.c_str(),
                    mode_text(e.candidate.capacity_factor, e.candidate.mode).c_str(),
                    static_cast<long long>(e.candidate.micro_batches), e.step_time_s.mean, e.tokens_per_s.mean,
                    100.0 * e.drop_fraction.mean, e.memory_per_device_bytes() / kGiB, rec.why.c_str());
      s += buf;
    }
  }
  // Say once which ranked layouts the platform may not run as priced (workloads/moe_impl.hpp).
  std::string caveated;
  const char* caveat = nullptr;
  for (const Recommendation& rec : r.recommendations) {
    if (const char* c = workloads::platform_caveat(r.evaluated[rec.evaluation].candidate.moe_impl, r.tpu)) {
      caveat = c;
      caveated += (caveated.empty() ? "#" : ", #") + std::to_string(rec.rank);
    }
  }
  if (caveat != nullptr) s += "NOTE (" + caveated + "): " + caveat + "\n";
  std::snprintf(buf, sizeof buf,
                "search: %lld layouts, %lld mappings, %lld feasible candidates: %zu evaluated, %lld pruned "
                "(%lld after their first seed); %zu rejected; Pareto front %zu; %.2f s\n",
                static_cast<long long>(r.layouts), static_cast<long long>(r.mappings),
                static_cast<long long>(r.candidates), r.evaluated.size(),
                static_cast<long long>(r.pruned),
                static_cast<long long>(r.pruned_after_first_seed), r.rejected.size(), r.pareto.size(), r.wall_s);
  s += buf;
  if (r.reranked > 0) {
    s += "network: searched with collectives alone (isolated), best " + std::to_string(r.reranked) +
         " re-ranked on the shared network" +
         (r.rerank_changed_top ? " (this changed the top layout; isolated best was " + r.isolated_top + ")\n"
                               : " (top layout unchanged)\n");
  }
  const std::size_t shown = std::min<std::size_t>(r.rejected.size(), 3);
  for (std::size_t i = 0; i < shown; ++i) {
    const Rejection& x = r.rejected[i];
    s += "  rejected " + x.layout.to_string() + " " + mode_text(x.capacity_factor, x.mode) + ": " + x.reason + "\n";
  }
  if (r.rejected.size() > shown) s += "  ... (" + std::to_string(r.rejected.size() - shown) + " more rejections in --json)\n";
  return s;
}

}  // namespace switchsim::planner
