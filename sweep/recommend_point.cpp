#include "sweep/recommend_point.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "common/resource_limits.hpp"
#include "planner/recommend.hpp"
#include "planner/recommend_output.hpp"
#include "sweep/device_what_ifs.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/fp8.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/op_accounting.hpp"
#include "workloads/resource_estimate.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::sweep {
namespace {

enum class Type : std::uint8_t { string, number, integer, boolean };

// Every key with its JSON type: the flags of cli/cmd_recommend.cpp except --threads
// (one planner thread per point), --progress, --out-dir and the output flags.
const std::map<std::string, Type>& key_types() {
  static const std::map<std::string, Type> types{
      {"model", Type::string},          {"mesh", Type::string},          {"top", Type::integer},
      {"objective", Type::string},      {"max_drop", Type::number},      {"factors", Type::string},
      {"no_dropless", Type::boolean},   {"samples", Type::integer},      {"seed", Type::integer},
      {"routing", Type::string},        {"memory_headroom", Type::number}, {"max_micro_batches", Type::integer},
      {"batch_tokens", Type::integer},  {"group_tokens", Type::integer}, {"moe_impl", Type::string},
      {"precision", Type::string},      {"fp8_dispatch", Type::boolean}, {"optimizer", Type::string},
      {"remat", Type::boolean},         {"profile", Type::string},       {"exhaustive", Type::boolean},
      {"network_tolerance", Type::number}, {"load_model_above", Type::integer}, {"network_model", Type::string},
      {"rerank", Type::integer},        {"grad_sync", Type::string},     {"comm_priority", Type::string},
      {"zero", Type::string},           {"pp_schedule", Type::string}};
  return types;
}

// The request with cmd_recommend's defaults.
struct Request {
  std::string model = "switch-base";
  std::string mesh = "tpuv3-4x4";
  std::int64_t top = 5;
  std::string objective = "throughput";
  double max_drop = 0.01;
  std::string factors = "1.0,1.25,1.5,2.0";
  bool no_dropless = false;
  std::int64_t samples = 4;
  std::int64_t seed = 0;
  std::string routing = "uniform";
  double memory_headroom = 0.9;
  std::int64_t max_micro_batches = 64;
  std::int64_t batch_tokens = std::int64_t{1} << 20;
  std::int64_t group_tokens = 0;
  std::string moe_impl = "auto";
  std::string precision = "bf16";
  bool fp8_dispatch = false;
  std::string optimizer = "adafactor";
  bool remat = false;
  std::string profile;
  bool exhaustive = false;
  double network_tolerance = planner::kDefaultNetworkTolerance;
  std::int64_t load_model_above = planner::kDefaultLoadModelAboveDevices;
  std::string network_model = "shared";
  std::int64_t rerank = 5;
  std::string grad_sync = "auto";
  std::string comm_priority = "none";
  std::string zero = "auto";
  std::string pp_schedule = "1f1b";
};

Request read_request(const json& inputs) {
  Request r;
  for (const auto& [key, v] : inputs.items()) {
    if (key == "what_if") continue;
    check_recommend_value(key, v, "inputs." + key);
    if (key == "model") r.model = v.get<std::string>();
    else if (key == "mesh") r.mesh = v.get<std::string>();
    else if (key == "top") r.top = v.get<std::int64_t>();
    else if (key == "objective") r.objective = v.get<std::string>();
    else if (key == "max_drop") r.max_drop = v.get<double>();
    else if (key == "factors") r.factors = v.get<std::string>();
    else if (key == "no_dropless") r.no_dropless = v.get<bool>();
    else if (key == "samples") r.samples = v.get<std::int64_t>();
    else if (key == "seed") r.seed = v.get<std::int64_t>();
    else if (key == "routing") r.routing = v.get<std::string>();
    else if (key == "memory_headroom") r.memory_headroom = v.get<double>();
    else if (key == "max_micro_batches") r.max_micro_batches = v.get<std::int64_t>();
    else if (key == "batch_tokens") r.batch_tokens = v.get<std::int64_t>();
    else if (key == "group_tokens") r.group_tokens = v.get<std::int64_t>();
    else if (key == "moe_impl") r.moe_impl = v.get<std::string>();
    else if (key == "precision") r.precision = v.get<std::string>();
    else if (key == "fp8_dispatch") r.fp8_dispatch = v.get<bool>();
    else if (key == "optimizer") r.optimizer = v.get<std::string>();
    else if (key == "remat") r.remat = v.get<bool>();
    else if (key == "profile") r.profile = v.get<std::string>();
    else if (key == "exhaustive") r.exhaustive = v.get<bool>();
    else if (key == "network_tolerance") r.network_tolerance = v.get<double>();
    else if (key == "load_model_above") r.load_model_above = v.get<std::int64_t>();
    else if (key == "network_model") r.network_model = v.get<std::string>();
    else if (key == "rerank") r.rerank = v.get<std::int64_t>();
    else if (key == "grad_sync") r.grad_sync = v.get<std::string>();
    else if (key == "comm_priority") r.comm_priority = v.get<std::string>();
    else if (key == "zero") r.zero = v.get<std::string>();
    else if (key == "pp_schedule") r.pp_schedule = v.get<std::string>();
  }
  return r;
}

// SearchOptions from the request, as cmd_recommend builds them (errors name the key).
planner::SearchOptions search_options(const Request& r) {
  if (r.samples <= 0) throw InputError("samples", "must be positive");
  if (r.top <= 0) throw InputError("top", "must be positive");
  if (r.batch_tokens <= 0) throw InputError("batch_tokens", "must be positive");
  if (r.group_tokens < 0) throw InputError("group_tokens", "must be positive (or 0 for the local batch)");
  if (r.rerank <= 0) throw InputError("rerank", "must be positive");
  if (r.seed < 0) throw InputError("seed", "must not be negative");
  planner::SearchOptions so;
  so.objective = planner::parse_objective(r.objective, "objective");
  so.enumeration.factors = workloads::parse_factors(r.factors, "factors");
  so.enumeration.dropless = !r.no_dropless;
  so.enumeration.memory_headroom = r.memory_headroom;
  so.enumeration.max_micro_batches = r.max_micro_batches;
  workloads::TrainingSetup& t = so.enumeration.training;
  t.batch_tokens = r.batch_tokens;
  t.group_tokens = r.group_tokens;
  t.moe_impl = workloads::parse_moe_impl(r.moe_impl, "moe_impl");
  t.precision = workloads::parse_precision(r.precision, "precision");
  t.fp8_dispatch = r.fp8_dispatch;
  t.optimizer = workloads::parse_optimizer(r.optimizer, "optimizer");
  t.rematerialize = r.remat;
  t.pp_schedule = workloads::parse_pipeline_schedule(r.pp_schedule, "pp_schedule");
  so.enumeration.zero = planner::parse_zero_search(r.zero, "zero");
  so.routing = workloads::parse_routing(r.routing, "routing");
  so.samples = r.samples;
  so.seed = static_cast<std::uint64_t>(r.seed);
  so.max_drop = r.max_drop;
  so.top = r.top;
  so.threads = 1;  // one planner thread per point: the sweep runs the points in parallel
  so.prune = !r.exhaustive;
  so.network_tolerance = r.network_tolerance;
  so.load_model_above_devices = static_cast<std::int32_t>(r.load_model_above);
  so.network_model = workloads::parse_network_model(r.network_model, "network_model");
  so.strict_priority = workloads::parse_comm_priority(r.comm_priority, "comm_priority");
  so.rerank = r.rerank;
  return so;
}

}  // namespace

void check_recommend_keys(const json& obj, const std::string& where) {
  // The keys of key_types() (test_spec.cpp runs a spec with every one of them).
  require_known_keys(obj,
                     {"model", "mesh", "top", "objective", "max_drop", "factors", "no_dropless", "samples", "seed",
                      "routing", "memory_headroom", "max_micro_batches", "batch_tokens", "group_tokens", "moe_impl",
                      "precision", "fp8_dispatch", "optimizer", "remat", "profile", "exhaustive", "network_tolerance",
                      "load_model_above", "network_model", "rerank", "grad_sync", "comm_priority", "zero",
                      "pp_schedule"},
                     where);
}

void check_recommend_value(const std::string& key, const json& v, const std::string& where) {
  const auto it = key_types().find(key);
  SWITCHSIM_ASSERT(it != key_types().end(), "check_recommend_value: unknown key (checked before)");
  switch (it->second) {
    case Type::string:
      if (!v.is_string()) throw InputError(where, "must be a string");
      break;
    case Type::number:
      if (!v.is_number()) throw InputError(where, "must be a number");
      break;
    case Type::integer:
      if (!v.is_number_integer()) throw InputError(where, "must be an integer");
      break;
    case Type::boolean:
      if (!v.is_boolean()) throw InputError(where, "must be true or false");
      break;
  }
}

json run_recommend_point(const json& inputs, const WhatIf& w, bool force) {
  const Request r = read_request(inputs);
  planner::SearchOptions so = search_options(r);
  const workloads::Model model = workloads::load_model(r.model, "model");
  topology::Mesh mesh = topology::build_mesh(r.mesh);
  if (mesh.topology.num_devices() <= 0) throw InputError("mesh", "has no devices");
  apply_to_mesh(w, mesh);
  workloads::validate_precision(so.enumeration.training, mesh.device_kind, !r.profile.empty());
  so.enumeration.training.grad_sync = workloads::parse_grad_sync(r.grad_sync, mesh.is_tpu(), "grad_sync");
  check_resources("--force",
                  workloads::estimate_search_resources(model, so.enumeration.training, mesh.topology.num_devices(),
                                                       !r.no_dropless, 1),
                  force);
  std::unique_ptr<kernels::CostModel> cost = scaled_cost_model(w, mesh.device_kind, r.profile);
  if (!cost) cost = workloads::make_cost_model(mesh.device_kind, r.profile);
  const planner::RecommendResult result = planner::recommend(model, mesh, so, *cost);
  json j = planner::to_json(result);
  j.erase("wall_s");  // timing: differs between runs, and a line depends only on its point
  // Each recommendation's MFU (op_accounting.hpp): model FLOPs per step over the step time,
  // per device, against the device's peak for the precision, x the peak_flops what-if.
  const bool bf16 = so.enumeration.training.precision != workloads::Precision::fp32;
  for (std::size_t i = 0; i < result.recommendations.size(); ++i) {
    const planner::Evaluation& e = result.evaluated[result.recommendations[i].evaluation];
    workloads::TrainingSetup t = so.enumeration.training;
    t.micro_batches = e.candidate.micro_batches;
    const workloads::StepShape shape = workloads::derive_step_shape(t, model, e.candidate.layout);
    const workloads::ModelFlops f = workloads::model_flops(model, shape.sequences, e.step_time_s.mean,
                                                           mesh.topology.num_devices(), mesh.device_kind, bf16);
    j["recommendations"][i]["mfu"] = f.mfu / w.peak_flops;
  }
  return j;
}

}  // namespace switchsim::sweep
