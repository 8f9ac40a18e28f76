#include "sim/step_schedule.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::sim {

std::int64_t member_index(const OpGraph& graph, OpId op, topology::VertexId d) {
  const auto& m = graph.members(op);
  if (static_cast<std::int32_t>(m.size()) == graph.num_devices()) return d;
  auto it = std::lower_bound(m.begin(), m.end(), d);
  return (it != m.end() && *it == d) ? it - m.begin() : -1;
}

void init_schedule(const OpGraph& graph, StepSchedule& s) {
  const std::int32_t n_ops = graph.num_ops();
  s.offsets.assign(static_cast<std::size_t>(n_ops) + 1, 0);
  for (OpId o = 0; o < n_ops; ++o) {
    s.offsets[static_cast<std::size_t>(o) + 1] =
        s.offsets[static_cast<std::size_t>(o)] + static_cast<std::int64_t>(graph.members(o).size());
  }
  const auto total = static_cast<std::size_t>(s.offsets.back());
  s.start_s.assign(total, 0.0);
  s.end_s.assign(total, 0.0);
}

namespace {

struct Interval {
  double begin = 0.0;
  double end = 0.0;
};

// Sorted, merged union of intervals.
std::vector<Interval> merged(std::vector<Interval> xs) {
  std::sort(xs.begin(), xs.end(), [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  std::vector<Interval> out;
  for (const Interval& x : xs) {
    if (x.end <= x.begin) continue;
    if (!out.empty() && x.begin <= out.back().end) {
      out.back().end = std::max(out.back().end, x.end);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

// Length of the intersection of two merged unions (two pointers).
double intersection(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  double t = 0.0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    t += std::max(0.0, std::min(a[i].end, b[j].end) - std::max(a[i].begin, b[j].begin));
    if (a[i].end < b[j].end) {
      ++i;
    } else {
      ++j;
    }
  }
  return t;
}

void communication_overlap(const OpGraph& graph, StepSchedule& s) {
  // The device with the most communication time (sum over its comm slots).
  std::vector<double> comm(static_cast<std::size_t>(graph.num_devices()), 0.0);
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    if (graph.op(o).type == OpType::compute) continue;
    const auto& m = graph.members(o);
    const auto base = static_cast<std::size_t>(s.offsets[static_cast<std::size_t>(o)]);
    for (std::size_t i = 0; i < m.size(); ++i) comm[static_cast<std::size_t>(m[i])] += s.end_s[base + i] - s.start_s[base + i];
  }
  if (comm.empty()) return;
  const auto d = static_cast<topology::VertexId>(std::max_element(comm.begin(), comm.end()) - comm.begin());
  std::vector<Interval> compute, communication;
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const std::int64_t i = member_index(graph, o, d);
    if (i < 0) continue;
    const Interval x{s.start(o, i), s.end(o, i)};
    (graph.op(o).type == OpType::compute ? compute : communication).push_back(x);
  }
  const auto comm_union = merged(std::move(communication));
  s.overlapped_communication_s = intersection(comm_union, merged(std::move(compute)));
}

}  // namespace

void finish_schedule(const OpGraph& graph, StepSchedule& s, const std::vector<StartCause>& cause,
                     const std::vector<double>& max_end, const std::vector<topology::VertexId>& max_dev) {
  const std::int32_t n_ops = graph.num_ops();
  // Busiest compute stream.
  std::vector<double> busy(static_cast<std::size_t>(graph.num_devices()), 0.0);
  for (OpId o = 0; o < n_ops; ++o) {
    if (graph.op(o).type != OpType::compute) continue;
    const auto& m = graph.members(o);
    const auto base = static_cast<std::size_t>(s.offsets[static_cast<std::size_t>(o)]);
    for (std::size_t i = 0; i < m.size(); ++i) busy[static_cast<std::size_t>(m[i])] += s.end_s[base + i] - s.start_s[base + i];
  }
  s.compute_busy_max_s = busy.empty() ? 0.0 : *std::max_element(busy.begin(), busy.end());

  // Step time and critical path.
  OpId cur = -1;
  s.step_time_s = 0.0;
  for (OpId o = 0; o < n_ops; ++o) {
    if (cur < 0 || max_end[static_cast<std::size_t>(o)] > s.step_time_s) {
      s.step_time_s = max_end[static_cast<std::size_t>(o)];
      cur = o;
    }
  }
  topology::VertexId dev = cur >= 0 ? max_dev[static_cast<std::size_t>(cur)] : -1;
  while (cur >= 0) {
    const std::int64_t idx = member_index(graph, cur, dev);
    SWITCHSIM_ASSERT(idx >= 0, "critical path left the op's members");
    const auto k = static_cast<std::size_t>(s.offsets[static_cast<std::size_t>(cur)] + idx);
    const double dur = s.end_s[k] - s.start_s[k];
    switch (graph.op(cur).category()) {
      case OpCategory::compute: s.critical_path.compute_s += dur; break;
      case OpCategory::all_to_all: s.critical_path.all_to_all_s += dur; break;
      case OpCategory::all_reduce: s.critical_path.all_reduce_s += dur; break;
      case OpCategory::other_communication: s.critical_path.other_communication_s += dur; break;
    }
    s.critical_ops.push_back(cur);
    s.critical_seconds.push_back(dur);
    const StartCause p = cause[k];
    double pred_end = 0.0;
    if (p.op >= 0) {
      const std::int64_t pi = member_index(graph, p.op, p.device);
      pred_end = pi >= 0 ? s.end(p.op, pi) : max_end[static_cast<std::size_t>(p.op)];
    }
    s.critical_path.idle_s += std::max(0.0, s.start_s[k] - pred_end);
    cur = p.op;
    dev = p.device;
  }
  std::reverse(s.critical_ops.begin(), s.critical_ops.end());
  std::reverse(s.critical_seconds.begin(), s.critical_seconds.end());
  s.exposed_communication_s = s.critical_path.communication_s();
  communication_overlap(graph, s);
}

}  // namespace switchsim::sim

namespace switchsim::sim {

bool collectives_overlap(const OpGraph& graph, const StepSchedule& schedule) {
  // Every member of a group starts and ends with it (both executors), so its first member stands for it.
  std::vector<std::pair<double, double>> groups;
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const Op& op = graph.op(o);
    if (op.type != OpType::collective) continue;
    for (const auto& group : graph.partition(op.partition)) {
      if (group.size() < 2) continue;
      const std::int64_t k = member_index(graph, o, group.front());
      const double start = schedule.start(o, k);
      const double end = schedule.end(o, k);
      if (end > start) groups.emplace_back(start, end);
    }
  }
  std::sort(groups.begin(), groups.end());
  double latest_end = -std::numeric_limits<double>::infinity();
  for (const auto& [start, end] : groups) {
    if (start < latest_end) return true;
    latest_end = std::max(latest_end, end);
  }
  return false;
}

}  // namespace switchsim::sim
