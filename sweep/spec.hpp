#pragma once
// The sweep specification (sweep.json, docs/sweep.md): a base request of one
// command (simulate, capacity or recommend: sweep/recommend_point.hpp), axes to vary (a Cartesian product, in file
// order, the last axis fastest), an optional explicit list of points (each
// crossed with the product) and hardware what-ifs (crossed with everything; the
// baseline comes first). Every point is a full request; its id is its position.
//
//   {"schema_version": 1, "command": "simulate",
//    "base": {"model": "switch-base-8", "mesh": "tpuv3-4x4", "batch_tokens": 65536},
//    "axes": {"capacity_factor": [1.0, 1.25], "seed": [0, 1]},
//    "points": [{"layout": "dp=32,ep=8"}, {"layout": "dp=16,ep=8,mp=2"}],
//    "what_ifs": [{"name": "ICI x2", "bandwidth": {"ici": 2}}]}

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/json_io.hpp"
#include "sweep/what_if.hpp"
#include "workloads/step_request.hpp"

namespace switchsim::sweep {

// More points than this are refused unless --force.
inline constexpr std::int64_t kMaxPointsWithoutForce = 10000;

enum class Command : std::uint8_t { simulate, capacity, recommend };
[[nodiscard]] const char* to_string(Command c);

struct Point {
  std::int64_t id = 0;
  json inputs;  // the request's keys (base, then axes, then the point's own) and "what_if": {...}
  WhatIf what_if;
};

struct Spec {
  Command command = Command::simulate;
  json base = json::object();
  std::vector<std::pair<std::string, std::vector<json>>> axes;  // file order
  std::vector<json> points;                                     // explicit partial requests ([{}] when none)
  std::vector<WhatIf> what_ifs;                                 // baseline first
};

// Parses and checks a spec document: strict keys, every request value of the
// right type (errors name "base.seed", "axes.seed[2]", "points[1].layout",
// "what_ifs[0].bandwidth.nic"), no empty axis, model and mesh given.
[[nodiscard]] Spec parse_spec(const json& doc);
[[nodiscard]] Spec read_spec(const std::string& path);  // errors name the spec's fields

// The points, ids 0..n-1: for each combination of the axes, each explicit point, each what-if.
[[nodiscard]] std::int64_t point_count(const Spec& spec);
[[nodiscard]] std::vector<Point> expand(const Spec& spec);

// Refuses more than kMaxPointsWithoutForce points without `force` (field "--force"),
// a what-if on a link kind a point's mesh lacks and an NVLink domain it cannot be
// rebuilt with (field "what_ifs[i]...");
// builds each distinct mesh once.
void check_points(const Spec& spec, const std::vector<Point>& points, bool force);

// A point's request (the keys of StepRequest, named as the simulate flags
// without dashes; capacity adds "factors" and "samples").
struct PointRequest {
  workloads::StepRequest step;
  std::string factors = "0.5,1.0,1.25,1.5,2.0";  // capacity only
  std::int64_t samples = 3;                        // capacity only
};
// Reads the request keys of a simulate or capacity point's `inputs` ("what_if" is
// skipped); errors name where.key.
[[nodiscard]] PointRequest request_from_json(const json& inputs, const std::string& where);

}  // namespace switchsim::sweep
