#include "workloads/op_accounting.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <utility>

#include "common/errors.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

using sim::OpId;

std::vector<CriticalOp> critical_op_durations(const sim::OpGraph& /*graph*/, const sim::StepSchedule& schedule) {
  // The executors record the seconds of each op on the critical path as they walk it
  // (sim/step_schedule.hpp), so every network model is accounted by its own path.
  std::vector<CriticalOp> out;
  SWITCHSIM_ASSERT(schedule.critical_seconds.size() == schedule.critical_ops.size(), "critical path durations missing");
  out.reserve(schedule.critical_ops.size());
  for (std::size_t i = 0; i < schedule.critical_ops.size(); ++i) {
    out.push_back(CriticalOp{schedule.critical_ops[i], schedule.critical_seconds[i]});
  }
  return out;
}

double OpAccounting::flops() const {
  double f = 0.0;
  for (const auto& r : rows) f += r.flops;
  return f;
}

double OpAccounting::critical_path_s() const {
  double t = 0.0;
  for (const auto& r : rows) t += r.critical_path_s;
  return t;
}

namespace {

// The op's name without its layer and pass ("enc1.switch.dispatch.fwd" in layer "enc1" ->
// "switch.dispatch"), or "" when it is not a Switch layer's op. A view into op.name: no copy
// per op (this runs for every op of every step the planner simulates).
std::string_view moe_op_name(const sim::Op& op) {
  std::string_view n = op.name;
  const std::string_view layer = op.layer;
  if (!layer.empty() && n.size() > layer.size() && n.substr(0, layer.size()) == layer && n[layer.size()] == '.') {
    n.remove_prefix(layer.size() + 1);
  }
  if (n.rfind("switch.", 0) != 0) return {};
  const std::size_t dot = n.rfind('.');
  return dot > std::string_view("switch").size() ? n.substr(0, dot) : n;
}

}  // namespace

OpAccounting account_ops(const sim::OpGraph& graph, const sim::StepSchedule& schedule, const kernels::CostModel& cost) {
  const auto* calibrated = dynamic_cast<const kernels::CalibratedCostModel*>(&cost);
  // Keyed so that compute kinds come first in OpKind order, then collectives.
  std::map<std::pair<int, int>, OpKindRow> rows;
  std::vector<std::pair<int, int>> key_of(static_cast<std::size_t>(graph.num_ops()));
  OpAccounting a;
  std::map<std::string, std::size_t, std::less<>> moe_index;
  std::vector<std::int64_t> moe_of(static_cast<std::size_t>(graph.num_ops()), -1);
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const sim::Op& op = graph.op(o);
    const auto& members = graph.members(o);
    std::pair<int, int> key;
    double flops = 0.0, bytes = 0.0;
    if (op.type == sim::OpType::compute) {
      key = {0, static_cast<int>(op.shape.kind)};
      OpKindRow& r = rows[key];
      r.kind = kernels::to_string(op.shape.kind);
      ++r.count;
      const auto tally = [&](const kernels::OpShape& sh, std::int64_t copies) {
        flops += sh.flops() * static_cast<double>(copies);
        bytes += sh.min_bytes() * static_cast<double>(copies);
        if (calibrated != nullptr && calibrated->in_measured_range(sh)) {
          r.measured_members += copies;
        } else {
          r.modelled_members += copies;
        }
      };
      if (op.member_shapes.empty()) {
        tally(op.shape, static_cast<std::int64_t>(members.size()));
      } else {
        for (const auto& sh : op.member_shapes) tally(sh, 1);
      }
      r.flops += flops;
      r.bytes += bytes;
    } else {
      // Point-to-point sends (pipeline stages) are a row of their own, after the collectives.
      key = {1, op.point_to_point ? 64 : static_cast<int>(op.collective)};
      OpKindRow& r = rows[key];
      r.kind = op.point_to_point ? "p2p" : sim::to_string(op.collective);
      r.time_source = "network-model";
      ++r.count;
      if (op.matrices.empty()) {
        bytes = op.bytes_per_device * static_cast<double>(members.size());
      } else {
        for (const auto& m : op.matrices) {
          if (m == nullptr) continue;
          for (std::int32_t i = 0; i < m->n(); ++i) bytes += m->row_sum(i);
        }
      }
      r.bytes += bytes;
    }
    key_of[static_cast<std::size_t>(o)] = key;
    if (const std::string_view name = moe_op_name(op); !name.empty()) {
      auto it = moe_index.find(name);
      if (it == moe_index.end()) {
        it = moe_index.emplace(std::string(name), a.moe.size()).first;
        MoeOpRow row;
        row.name = std::string(name);
        row.kind = rows[key].kind;
        a.moe.push_back(row);
      }
      MoeOpRow& row = a.moe[it->second];
      ++row.count;
      row.flops += flops;
      row.bytes += bytes;
      moe_of[static_cast<std::size_t>(o)] = static_cast<std::int64_t>(it->second);
    }
  }
  for (const CriticalOp& c : critical_op_durations(graph, schedule)) {
    rows[key_of[static_cast<std::size_t>(c.op)]].critical_path_s += c.seconds;
    const std::int64_t m = moe_of[static_cast<std::size_t>(c.op)];
    if (m >= 0) a.moe[static_cast<std::size_t>(m)].critical_path_s += c.seconds;
    const sim::Op& op = graph.op(c.op);
    if (op.type != sim::OpType::compute) continue;
    const kernels::OpShape* shape = &op.shape;
    for (const auto& sh : op.member_shapes) {
      if (shape == &op.shape || sh.flops() + sh.min_bytes() > shape->flops() + shape->min_bytes()) shape = &sh;
    }
    a.uncertainty_s += cost.predict(*shape).relative_uncertainty * c.seconds;
  }
  a.idle_s = schedule.critical_path.idle_s;
  for (auto& [key, r] : rows) {
    if (key.first == 0) {
      r.time_source = r.measured_members == 0 ? "model" : (r.modelled_members == 0 ? "profile" : "mixed");
    }
    a.rows.push_back(std::move(r));
  }
  return a;
}

ModelFlops model_flops(const Model& model, std::int64_t sequences, double step_time_s, std::int32_t devices,
                       const std::string& device_kind, bool bf16) {
  ModelFlops m;
  m.per_step = 3.0 * count_forward_flops(model).executed_flops_per_sequence() * static_cast<double>(sequences);
  if (step_time_s > 0.0 && devices > 0) m.per_s_per_device = m.per_step / step_time_s / static_cast<double>(devices);
  const topology::DeviceSpec& spec = topology::device_spec(device_kind);
  // A profile-only device (the host CPU) has placeholder peaks in the catalog: no MFU against them.
  m.peak_flops_per_device = spec.profile_only() ? 0.0 : (bf16 ? spec.peak_bf16_flops : spec.peak_fp32_flops);
  m.precision = bf16 ? "bf16" : "fp32";
  if (m.peak_flops_per_device > 0.0) m.mfu = m.per_s_per_device / m.peak_flops_per_device;
  return m;
}

json to_json(const OpAccounting& a) {
  json rows = json::array();
  for (const OpKindRow& r : a.rows) {
    json j = {{"kind", r.kind},   {"count", r.count}, {"flops", r.flops}, {"bytes", r.bytes},
              {"critical_path_s", r.critical_path_s}, {"time_source", r.time_source}};
    if (r.time_source != "network-model") {
      j["measured_members"] = r.measured_members;
      j["modelled_members"] = r.modelled_members;
    }
    rows.push_back(std::move(j));
  }
  json moe = json::array();
  for (const MoeOpRow& r : a.moe) {
    moe.push_back({{"name", r.name},   {"kind", r.kind},   {"count", r.count},
                   {"flops", r.flops}, {"bytes", r.bytes}, {"critical_path_s", r.critical_path_s}});
  }
  return json{{"by_kind", std::move(rows)},
              {"moe", std::move(moe)},
              {"idle_s", a.idle_s},
              {"uncertainty_s", a.uncertainty_s},
              {"flops", a.flops()},
              {"what",
               "per op kind: ops in the graph, FLOPs and bytes summed over every device's copy (collectives: "
               "buffer bytes per device x members, or the byte matrices' total), seconds on the critical path "
               "(rows + idle_s = step time), and where the time came from (profile: measured; model: the shape-aware "
               "or roofline model, or the profile's fallback outside its measured shapes; network-model: flow-level "
               "simulation); moe: the Switch layers' ops by name (without layer and pass) with the kind each is "
               "priced as, for the step's --moe-impl"}};
}

std::string to_text(const OpAccounting& a) {
  if (a.rows.empty()) return "";
  std::string s = "ops            kind              count      TFLOP       GB   critical s  source\n";
  for (const OpKindRow& r : a.rows) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "               %-15s %7lld %10.4g %8.4g %12.4g  %s\n", r.kind.c_str(),
                  static_cast<long long>(r.count), r.flops / 1e12, r.bytes / 1e9, r.critical_path_s,
                  r.time_source.c_str());
    s += buf;
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "               %-15s %7s %10s %8s %12.4g\n", "idle", "", "", "", a.idle_s);
  s += buf;
  if (!a.moe.empty()) {
    s += "MoE layer ops  name                     kind             count      TFLOP       GB   critical s\n";
    for (const MoeOpRow& r : a.moe) {
      char line[256];
      std::snprintf(line, sizeof line, "               %-24s %-15s %7lld %10.4g %8.4g %12.4g\n", r.name.c_str(),
                    r.kind.c_str(), static_cast<long long>(r.count), r.flops / 1e12, r.bytes / 1e9, r.critical_path_s);
      s += line;
    }
  }
  return s;
}

}  // namespace switchsim::workloads
