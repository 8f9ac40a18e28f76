#pragma once
// One `recommend` request as its inputs, with the command's defaults: the flags
// of cli/cmd_recommend.cpp and the keys of a sweep's recommend points
// (sweep/recommend_point.cpp) fill the same struct, and one translation turns
// it into SearchOptions, so a sweep point searches exactly as the command does.

#include <cstdint>
#include <functional>
#include <string>

#include "planner/recommend.hpp"
#include "topology/mesh.hpp"

namespace switchsim::planner {

struct RecommendRequest {
  std::string model = "switch-base";
  std::string mesh = "tpuv3-4x4";  // the paper's 32 TPU v3 cores
  std::int64_t top = 5;
  std::string objective = "throughput";
  double max_drop = 0.01;
  std::string factors = "1.0,1.25,1.5,2.0";
  bool no_dropless = false;
  std::int64_t samples = 4;
  std::uint64_t seed = 0;
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
  double network_tolerance = kDefaultNetworkTolerance;
  std::int32_t load_model_above = kDefaultLoadModelAboveDevices;
  std::string network_model = "shared";
  std::int64_t rerank = 5;
  std::string grad_sync = "auto";
  std::string comm_priority = "none";
  std::string zero = "auto";
  std::string pp = "auto";
  std::string pp_schedule = "auto";
  std::string etp = "auto";
};

// The name an error gives a field, from its key ("max_drop"): "--max-drop" on the
// command line, "max_drop" in a sweep spec.
using FieldName = std::function<std::string(const std::string& key)>;
[[nodiscard]] std::string flag_name(const std::string& key);  // "--" + key with '_' -> '-'

// The search options of `r` (threads 0: all cores; no progress callback); InputError
// names the field. The mesh-dependent parts come from for_mesh.
[[nodiscard]] SearchOptions search_options(const RecommendRequest& r, const FieldName& field);

// The parts that depend on the mesh: the precision checked against its device (or the
// profile) and the platform's default gradient sync.
void for_mesh(SearchOptions& so, const RecommendRequest& r, const topology::Mesh& mesh, const FieldName& field);

}  // namespace switchsim::planner
