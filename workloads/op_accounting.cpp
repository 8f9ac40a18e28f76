#include "workloads/op_accounting.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "common/errors.hpp"
#include "kernels/calibrated_cost_model.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

namespace {

using sim::OpId;
using topology::VertexId;

std::int64_t member_index(const sim::OpGraph& graph, OpId o, VertexId d) {
  const auto& m = graph.members(o);
  auto it = std::lower_bound(m.begin(), m.end(), d);
  return (it != m.end() && *it == d) ? it - m.begin() : -1;
}

// The op's latest end and the device the step executor attributes it to
// (sim/step_executor.cpp: the first member, or the first group's front, reaching it).
std::pair<double, VertexId> latest_end(const sim::OpGraph& graph, const sim::StepSchedule& s, OpId o) {
  const sim::Op& op = graph.op(o);
  const auto& members = graph.members(o);
  double best = -1.0;
  VertexId dev = -1;
  if (op.type == sim::OpType::compute) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      const double e = s.end(o, static_cast<std::int64_t>(i));
      if (e > best) {
        best = e;
        dev = members[i];
      }
    }
  } else {
    for (const auto& group : graph.partition(op.partition)) {
      const std::int64_t idx = member_index(graph, o, group.front());
      const double e = s.end(o, idx);
      if (e > best) {
        best = e;
        dev = group.front();
      }
    }
  }
  return {std::max(0.0, best), dev};
}


}  // namespace

std::vector<CriticalOp> critical_op_durations(const sim::OpGraph& graph, const sim::StepSchedule& schedule) {
  std::vector<CriticalOp> out;
  const auto& path = schedule.critical_ops;
  if (path.empty()) return out;
  out.resize(path.size());
  // Walk back from the op that ends last, choosing at each step the member the
  // executor's critical path ran through (the same rules as sim::execute_step).
  VertexId dev = latest_end(graph, schedule, path.back()).second;
  for (std::size_t i = path.size(); i-- > 0;) {
    const OpId cur = path[i];
    std::int64_t idx = member_index(graph, cur, dev);
    if (idx < 0) {  // not expected; fall back to the member that ends last
      dev = latest_end(graph, schedule, cur).second;
      idx = member_index(graph, cur, dev);
    }
    SWITCHSIM_ASSERT(idx >= 0, "critical path: op without members");
    out[i] = CriticalOp{cur, schedule.end(cur, idx) - schedule.start(cur, idx)};
    if (i == 0) break;
    const OpId q = path[i - 1];
    const sim::Op& op = graph.op(cur);
    const std::pair<double, VertexId> q_latest = latest_end(graph, schedule, q);
    // When q made `cur` ready on device d: its end there, or its latest end (sim::execute_step's rule).
    const auto ready_from = [&](VertexId d) {
      const std::int64_t qi = member_index(graph, q, d);
      return qi >= 0 ? schedule.end(q, qi) : q_latest.first;
    };
    VertexId via = dev;
    if (op.type == sim::OpType::collective) {
      // The group waits for its latest member; the first one (in group order)
      // whose readiness q explains is the one the path goes through.
      const double start = schedule.start(cur, idx);
      for (const auto& group : graph.partition(op.partition)) {
        if (std::find(group.begin(), group.end(), dev) == group.end()) continue;
        for (VertexId d : group) {
          if (ready_from(d) == start) {
            via = d;
            break;
          }
        }
        break;
      }
    }
    dev = member_index(graph, q, via) >= 0 ? via : q_latest.second;
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

OpAccounting account_ops(const sim::OpGraph& graph, const sim::StepSchedule& schedule, const kernels::CostModel& cost) {
  const auto* calibrated = dynamic_cast<const kernels::CalibratedCostModel*>(&cost);
  // Keyed so that compute kinds come first in OpKind order, then collectives.
  std::map<std::pair<int, int>, OpKindRow> rows;
  std::vector<std::pair<int, int>> key_of(static_cast<std::size_t>(graph.num_ops()));
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const sim::Op& op = graph.op(o);
    const auto& members = graph.members(o);
    std::pair<int, int> key;
    if (op.type == sim::OpType::compute) {
      key = {0, static_cast<int>(op.shape.kind)};
      OpKindRow& r = rows[key];
      r.kind = kernels::to_string(op.shape.kind);
      ++r.count;
      const auto tally = [&](const kernels::OpShape& sh, std::int64_t copies) {
        r.flops += sh.flops() * static_cast<double>(copies);
        r.bytes += sh.min_bytes() * static_cast<double>(copies);
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
    } else {
      key = {1, static_cast<int>(op.collective)};
      OpKindRow& r = rows[key];
      r.kind = sim::to_string(op.collective);
      r.time_source = "network-model";
      ++r.count;
      if (op.matrices.empty()) {
        r.bytes += op.bytes_per_device * static_cast<double>(members.size());
      } else {
        for (const auto& m : op.matrices) {
          if (m == nullptr) continue;
          for (std::int32_t i = 0; i < m->n(); ++i) r.bytes += m->row_sum(i);
        }
      }
    }
    key_of[static_cast<std::size_t>(o)] = key;
  }
  for (const CriticalOp& c : critical_op_durations(graph, schedule)) {
    rows[key_of[static_cast<std::size_t>(c.op)]].critical_path_s += c.seconds;
  }
  OpAccounting a;
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
  m.peak_flops_per_device = bf16 ? spec.peak_bf16_flops : spec.peak_fp32_flops;
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
  return json{{"by_kind", std::move(rows)},
              {"idle_s", a.idle_s},
              {"flops", a.flops()},
              {"what",
               "per op kind: ops in the graph, FLOPs and bytes summed over every device's copy (collectives: "
               "buffer bytes per device x members, or the byte matrices' total), seconds on the critical path "
               "(rows + idle_s = step time), and where the time came from (profile: measured; model: roofline or "
               "the profile's roofline fallback; network-model: flow-level simulation)"}};
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
  return s;
}

}  // namespace switchsim::workloads
