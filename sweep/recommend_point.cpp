#include "sweep/recommend_point.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "common/resource_limits.hpp"
#include "planner/recommend.hpp"
#include "planner/recommend_output.hpp"
#include "planner/recommend_request.hpp"
#include "sweep/device_what_ifs.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
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
      {"zero", Type::string},           {"pp", Type::string},            {"pp_schedule", Type::string},
      {"etp", Type::string}};
  return types;
}

planner::RecommendRequest read_request(const json& inputs) {
  planner::RecommendRequest r;
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
    else if (key == "seed") {
      if (v.get<std::int64_t>() < 0) throw InputError("seed", "must not be negative");
      r.seed = v.get<std::uint64_t>();
    }
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
    else if (key == "load_model_above") r.load_model_above = v.get<std::int32_t>();
    else if (key == "network_model") r.network_model = v.get<std::string>();
    else if (key == "rerank") r.rerank = v.get<std::int64_t>();
    else if (key == "grad_sync") r.grad_sync = v.get<std::string>();
    else if (key == "comm_priority") r.comm_priority = v.get<std::string>();
    else if (key == "zero") r.zero = v.get<std::string>();
    else if (key == "pp") r.pp = v.get<std::string>();
    else if (key == "pp_schedule") r.pp_schedule = v.get<std::string>();
    else if (key == "etp") r.etp = v.get<std::string>();
  }
  return r;
}

// A sweep names a field by its key.
std::string key_name(const std::string& key) { return key; }

}  // namespace

void check_recommend_keys(const json& obj, const std::string& where) {
  // The keys of key_types() (test_spec.cpp runs a spec with every one of them).
  require_known_keys(obj,
                     {"model", "mesh", "top", "objective", "max_drop", "factors", "no_dropless", "samples", "seed",
                      "routing", "memory_headroom", "max_micro_batches", "batch_tokens", "group_tokens", "moe_impl",
                      "precision", "fp8_dispatch", "optimizer", "remat", "profile", "exhaustive", "network_tolerance",
                      "load_model_above", "network_model", "rerank", "grad_sync", "comm_priority", "zero", "pp",
                      "pp_schedule", "etp"},
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
  const planner::RecommendRequest r = read_request(inputs);
  planner::SearchOptions so = planner::search_options(r, key_name);
  so.threads = 1;  // one planner thread per point: the sweep runs the points in parallel
  const workloads::Model model = workloads::load_model(r.model, "model");
  topology::Mesh mesh = topology::build_mesh(r.mesh);
  apply_to_mesh(w, mesh);
  planner::for_mesh(so, r, mesh, key_name);
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
