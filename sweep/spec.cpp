#include "sweep/spec.hpp"

#include <map>
#include <set>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "sweep/recommend_point.hpp"
#include "topology/mesh_catalog.hpp"

namespace switchsim::sweep {
namespace {

void check_request_keys(const json& obj, const std::string& where, Command command) {
  if (command == Command::recommend) {
    check_recommend_keys(obj, where);
    return;
  }
  require_known_keys(obj,
                     {"model", "mesh", "layout", "capacity_factor", "routing", "mode", "batch_tokens",
                      "micro_batches", "group_tokens", "moe_impl", "precision", "optimizer", "remat", "seed",
                      "profile", "network_tolerance", "load_model_above", "network_model", "grad_sync",
                      "comm_priority", "factors", "samples"},
                     where);
}

std::string str(const json& v, const std::string& where) {
  if (!v.is_string()) throw InputError(where, "must be a string");
  return v.get<std::string>();
}
double num(const json& v, const std::string& where) {
  if (!v.is_number()) throw InputError(where, "must be a number");
  return v.get<double>();
}
std::int64_t integer(const json& v, const std::string& where) {
  if (!v.is_number_integer()) throw InputError(where, "must be an integer");
  return v.get<std::int64_t>();
}

// Reads one request key into `r`; errors name `where`.
void read_key(PointRequest& r, const std::string& key, const json& v, const std::string& where) {
  workloads::StepRequest& q = r.step;
  if (key == "model") q.model = str(v, where);
  else if (key == "mesh") q.mesh = str(v, where);
  else if (key == "layout") q.layout = str(v, where);
  else if (key == "capacity_factor") q.capacity_factor = num(v, where);
  else if (key == "routing") q.routing = str(v, where);
  else if (key == "mode") q.mode = str(v, where);
  else if (key == "batch_tokens") q.batch_tokens = integer(v, where);
  else if (key == "micro_batches") q.micro_batches = integer(v, where);
  else if (key == "group_tokens") q.group_tokens = integer(v, where);
  else if (key == "moe_impl") q.moe_impl = str(v, where);
  else if (key == "precision") q.precision = str(v, where);
  else if (key == "optimizer") q.optimizer = str(v, where);
  else if (key == "remat") {
    if (!v.is_boolean()) throw InputError(where, "must be true or false");
    q.rematerialize = v.get<bool>();
  } else if (key == "seed") {
    const std::int64_t s = integer(v, where);
    if (s < 0) throw InputError(where, "must not be negative");
    q.seed = static_cast<std::uint64_t>(s);
  } else if (key == "profile") q.profile = str(v, where);
  else if (key == "network_tolerance") q.network_tolerance = num(v, where);
  else if (key == "load_model_above") q.load_model_above = static_cast<std::int32_t>(integer(v, where));
  else if (key == "network_model") q.network_model = str(v, where);
  else if (key == "grad_sync") q.grad_sync = str(v, where);
  else if (key == "comm_priority") q.comm_priority = str(v, where);
  else if (key == "factors") r.factors = str(v, where);
  else if (key == "samples") r.samples = integer(v, where);
}

// Checks one value's type (and simple range) for the command's key.
void check_value(Command command, const std::string& key, const json& value, const std::string& where) {
  if (command == Command::recommend) {
    check_recommend_value(key, value, where);
    return;
  }
  PointRequest scratch;
  read_key(scratch, key, value, where);
}

void check_request_object(const json& obj, const std::string& where, Command command) {
  if (!obj.is_object()) throw InputError(where, "must be an object of request keys");
  check_request_keys(obj, where, command);
  for (const auto& [key, value] : obj.items()) check_value(command, key, value, where + "." + key);
}

}  // namespace

const char* to_string(Command c) {
  switch (c) {
    case Command::capacity: return "capacity";
    case Command::recommend: return "recommend";
    case Command::simulate: break;
  }
  return "simulate";
}

PointRequest request_from_json(const json& inputs, const std::string& where) {
  PointRequest r;
  for (const auto& [key, value] : inputs.items()) {
    if (key == "what_if") continue;
    read_key(r, key, value, where + "." + key);
  }
  return r;
}

Spec parse_spec(const json& doc) {
  if (!doc.is_object()) throw InputError("spec", "must be a JSON object");
  require_known_keys(doc, {"schema_version", "command", "base", "axes", "points", "what_ifs"}, "spec");
  const long long version = require_integer(doc, "schema_version", "spec");
  if (version != kSchemaVersion) {
    throw InputError("spec.schema_version", fmt::format("must be {} (this switchsim's)", kSchemaVersion));
  }
  Spec s;
  const std::string command = doc.contains("command") ? require_string(doc, "command", "spec") : "simulate";
  if (command == "simulate") s.command = Command::simulate;
  else if (command == "capacity") s.command = Command::capacity;
  else if (command == "recommend") s.command = Command::recommend;
  else throw InputError("spec.command", "must be simulate, capacity or recommend");

  if (doc.contains("base")) {
    s.base = doc["base"];
    check_request_object(s.base, "base", s.command);
  }
  if (doc.contains("axes")) {
    const json& axes = doc["axes"];
    if (!axes.is_object()) throw InputError("axes", "must be an object {\"<request key>\": [values]}");
    check_request_keys(axes, "axes", s.command);
    for (const auto& [key, values] : axes.items()) {
      const std::string where = "axes." + key;
      if (!values.is_array()) throw InputError(where, "must be a list of values");
      if (values.empty()) throw InputError(where, "is empty: give at least one value, or leave the axis out");
      std::vector<json> list;
      for (std::size_t i = 0; i < values.size(); ++i) {
        check_value(s.command, key, values[i], fmt::format("{}[{}]", where, i));
        list.push_back(values[i]);
      }
      s.axes.emplace_back(key, std::move(list));
    }
  }
  if (doc.contains("points")) {
    const json& points = doc["points"];
    if (!points.is_array()) throw InputError("points", "must be a list of request objects");
    if (points.empty()) throw InputError("points", "is empty: give at least one point, or leave it out");
    for (std::size_t i = 0; i < points.size(); ++i) {
      check_request_object(points[i], fmt::format("points[{}]", i), s.command);
      s.points.push_back(points[i]);
    }
  } else {
    s.points.push_back(json::object());
  }
  s.what_ifs.emplace_back();  // the baseline
  if (doc.contains("what_ifs")) {
    const json& w = doc["what_ifs"];
    if (!w.is_array()) throw InputError("what_ifs", "must be a list of what-if objects");
    if (w.empty()) throw InputError("what_ifs", "is empty: give at least one what-if, or leave it out");
    std::set<std::string> names{"baseline"};
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::string where = fmt::format("what_ifs[{}]", i);
      WhatIf wi = parse_what_if(w[i], where);
      if (wi.identity()) throw InputError(where, "scales nothing (the baseline is always run)");
      if (s.command == Command::recommend && wi.hbm_bytes != 1.0) {
        // The planner sizes micro-batches and rejects layouts against the catalog's memory
        // size (planner/candidates.cpp), which a sweep does not change.
        throw InputError(where + ".hbm_bytes", "is not supported in a recommend sweep (the planner reads the "
                                               "device catalog's memory size)");
      }
      if (!names.insert(wi.name).second) throw InputError(where + ".name", "'" + wi.name + "' is used twice");
      s.what_ifs.push_back(std::move(wi));
    }
  }
  // Every point needs a model and a mesh, from the base, an axis or the point itself.
  for (const char* key : {"model", "mesh"}) {
    bool everywhere = s.base.contains(key);
    for (const auto& axis : s.axes) everywhere = everywhere || axis.first == key;
    if (!everywhere) {
      for (std::size_t i = 0; i < s.points.size(); ++i) {
        if (!s.points[i].contains(key)) {
          throw InputError(fmt::format("base.{}", key), "required (in base, an axis, or every point)");
        }
      }
    }
  }
  return s;
}

Spec read_spec(const std::string& path) { return parse_spec(read_json_file(path, "SPEC")); }

std::int64_t point_count(const Spec& spec) {
  std::int64_t n = static_cast<std::int64_t>(spec.points.size()) * static_cast<std::int64_t>(spec.what_ifs.size());
  for (const auto& axis : spec.axes) {
    n *= static_cast<std::int64_t>(axis.second.size());
    if (n > (std::int64_t{1} << 40)) return n;  // far above any limit: stop before overflow
  }
  return n;
}

std::vector<Point> expand(const Spec& spec) {
  std::vector<Point> out;
  const std::int64_t n = point_count(spec);
  out.reserve(static_cast<std::size_t>(n));
  std::vector<std::size_t> index(spec.axes.size(), 0);
  const std::int64_t combos = n / static_cast<std::int64_t>(spec.points.size() * spec.what_ifs.size());
  for (std::int64_t c = 0; c < combos; ++c) {
    // Mixed-radix digits of c, the last axis fastest.
    std::int64_t rest = c;
    for (std::size_t a = spec.axes.size(); a-- > 0;) {
      const auto size = static_cast<std::int64_t>(spec.axes[a].second.size());
      index[a] = static_cast<std::size_t>(rest % size);
      rest /= size;
    }
    for (const json& explicit_point : spec.points) {
      for (const WhatIf& w : spec.what_ifs) {
        Point p;
        p.id = static_cast<std::int64_t>(out.size());
        p.inputs = spec.base;
        for (std::size_t a = 0; a < spec.axes.size(); ++a) p.inputs[spec.axes[a].first] = spec.axes[a].second[index[a]];
        for (const auto& [key, value] : explicit_point.items()) p.inputs[key] = value;
        p.inputs["what_if"] = to_json(w);
        p.what_if = w;
        out.push_back(std::move(p));
      }
    }
  }
  return out;
}

void check_points(const Spec& spec, const std::vector<Point>& points, bool force) {
  const std::int64_t n = point_count(spec);
  if (n > kMaxPointsWithoutForce && !force) {
    throw InputError("--force", fmt::format("the spec has {} points, more than {}: check it, or pass --force", n,
                                            kMaxPointsWithoutForce));
  }
  // A what-if on a link kind a mesh lacks, or an NVLink domain it cannot be rebuilt with,
  // is a spec error, not a point error.
  bool any_mesh = false;
  for (const WhatIf& w : spec.what_ifs) any_mesh = any_mesh || w.changes_mesh();
  if (!any_mesh) return;
  std::map<std::string, std::set<std::size_t>> checked;  // mesh -> what-ifs checked on it
  for (const Point& p : points) {
    if (!p.what_if.changes_mesh()) continue;
    const std::string mesh_name = p.inputs.at("mesh").get<std::string>();
    std::size_t w = 0;
    while (spec.what_ifs[w].name != p.what_if.name) ++w;
    if (!checked[mesh_name].insert(w).second) continue;
    topology::Mesh mesh;
    try {
      mesh = topology::build_mesh(mesh_name);
    } catch (const InputError&) {
      continue;  // a bad mesh is that point's error (recorded when it runs), not the spec's
    }
    check_applicable(p.what_if, mesh, fmt::format("what_ifs[{}]", w - 1));
  }
}

}  // namespace switchsim::sweep
