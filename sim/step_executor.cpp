#include "sim/step_executor.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/errors.hpp"

namespace switchsim::sim {
namespace {

std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::string cache_key(CollectiveOp op, CollectiveAlgorithm algorithm, const std::vector<topology::VertexId>& participants,
                      double bytes, const ByteMatrix* matrix) {
  std::string key;
  key.reserve(32 + participants.size() * sizeof(topology::VertexId));
  key.push_back(static_cast<char>(op));
  key.push_back(static_cast<char>(algorithm));
  char buf[sizeof(double)];
  std::memcpy(buf, &bytes, sizeof(double));
  key.append(buf, sizeof(double));
  const std::uint64_t mh = matrix ? fnv1a(matrix->bytes.data(), matrix->bytes.size() * sizeof(double)) : 0;
  char hb[sizeof(std::uint64_t)];
  std::memcpy(hb, &mh, sizeof(mh));
  key.append(hb, sizeof(mh));
  key.append(reinterpret_cast<const char*>(participants.data()), participants.size() * sizeof(topology::VertexId));
  return key;
}

struct Pred {
  OpId op = -1;
  topology::VertexId device = -1;
};

}  // namespace

double CollectiveCache::duration_s(CollectiveOp op, CollectiveAlgorithm algorithm,
                                   const std::vector<topology::VertexId>& participants, double bytes_per_device,
                                   const ByteMatrix* matrix) {
  if (participants.size() <= 1) return 0.0;
  const std::string key = cache_key(op, algorithm, participants, bytes_per_device, matrix);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = seconds_.find(key);
    if (it != seconds_.end()) {
      ++hits_;
      return it->second;
    }
  }
  CollectiveRequest request;
  request.op = op;
  request.algorithm = algorithm;
  request.participants = participants;
  request.bytes_per_device = bytes_per_device;
  if (matrix != nullptr) request.matrix = *matrix;
  const auto t0 = std::chrono::steady_clock::now();
  const CollectiveResult result = simulate_collective(*mesh_, request);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(mutex_);
  seconds_.emplace(key, result.time_s);
  ++simulations_;
  wall_s_ += wall;
  return result.time_s;
}

std::int64_t CollectiveCache::simulations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return simulations_;
}
std::int64_t CollectiveCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
double CollectiveCache::simulated_wall_s() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wall_s_;
}

StepSchedule execute_step(const OpGraph& graph, const kernels::CostModel& cost, CollectiveCache& cache) {
  const std::int32_t n_dev = graph.num_devices();
  const std::int32_t n_ops = graph.num_ops();
  StepSchedule s;
  s.offsets.resize(static_cast<std::size_t>(n_ops) + 1, 0);
  for (OpId o = 0; o < n_ops; ++o) {
    s.offsets[static_cast<std::size_t>(o) + 1] =
        s.offsets[static_cast<std::size_t>(o)] + static_cast<std::int64_t>(graph.members(o).size());
  }
  const auto total = static_cast<std::size_t>(s.offsets.back());
  s.start_s.assign(total, 0.0);
  s.end_s.assign(total, 0.0);
  std::vector<Pred> pred(total);
  std::vector<double> max_end(static_cast<std::size_t>(n_ops), 0.0);
  std::vector<topology::VertexId> max_dev(static_cast<std::size_t>(n_ops), -1);

  // Per device and stream (0 compute, 1 communication): when it is free and which op freed it.
  std::vector<double> free_at(2 * static_cast<std::size_t>(n_dev), 0.0);
  std::vector<OpId> last_op(2 * static_cast<std::size_t>(n_dev), -1);
  std::vector<double> compute_busy(static_cast<std::size_t>(n_dev), 0.0);

  auto member_index = [&](OpId o, topology::VertexId d) -> std::int64_t {
    const auto& m = graph.members(o);
    if (static_cast<std::int32_t>(m.size()) == n_dev) return d;
    auto it = std::lower_bound(m.begin(), m.end(), d);
    return (it != m.end() && *it == d) ? it - m.begin() : -1;
  };
  // Ready time of device d for op o, and what made it so.
  auto ready_of = [&](const Op& op, topology::VertexId d, int stream, Pred& p) -> double {
    double ready = 0.0;
    p = Pred{};
    const std::size_t slot = 2 * static_cast<std::size_t>(d) + static_cast<std::size_t>(stream);
    if (last_op[slot] >= 0) {
      ready = free_at[slot];
      p = Pred{last_op[slot], d};
    }
    for (OpId dep : op.deps) {
      const std::int64_t idx = member_index(dep, d);
      double t = 0.0;
      topology::VertexId dev = d;
      if (idx >= 0) {
        t = s.end(dep, idx);
      } else {
        t = max_end[static_cast<std::size_t>(dep)];
        dev = max_dev[static_cast<std::size_t>(dep)];
      }
      if (p.op < 0 ? t >= ready : t > ready) {
        ready = t;
        p = Pred{dep, dev};
      }
    }
    return ready;
  };

  std::unordered_map<std::string, double> shape_seconds;  // per-member shapes only
  for (OpId o = 0; o < n_ops; ++o) {
    const Op& op = graph.op(o);
    const auto& members = graph.members(o);
    const std::int64_t base = s.offsets[static_cast<std::size_t>(o)];
    const int stream = op.type == OpType::compute ? 0 : 1;
    double op_max = -1.0;
    topology::VertexId op_max_dev = -1;
    if (op.type == OpType::compute) {
      SWITCHSIM_ASSERT(op.member_shapes.empty() || op.member_shapes.size() == members.size(),
                       "member_shapes must match the device set");
      const double uniform_s = op.member_shapes.empty() ? cost.predict(op.shape).seconds : 0.0;
      for (std::size_t i = 0; i < members.size(); ++i) {
        const topology::VertexId d = members[i];
        Pred p;
        const double ready = ready_of(op, d, stream, p);
        double dur = uniform_s;
        if (!op.member_shapes.empty()) {
          const kernels::OpShape& sh = op.member_shapes[i];
          std::string key(reinterpret_cast<const char*>(&sh.batch), 4 * sizeof(std::int64_t));
          key.push_back(static_cast<char>(sh.kind));
          key.append(reinterpret_cast<const char*>(&sh.bytes), sizeof(sh.bytes));
          key.push_back(static_cast<char>(sh.precision));
          auto it = shape_seconds.find(key);
          if (it == shape_seconds.end()) it = shape_seconds.emplace(key, cost.predict(sh).seconds).first;
          dur = it->second;
        }
        const auto k = static_cast<std::size_t>(base) + i;
        s.start_s[k] = ready;
        s.end_s[k] = ready + dur;
        pred[k] = p;
        const std::size_t slot = 2 * static_cast<std::size_t>(d);
        free_at[slot] = ready + dur;
        last_op[slot] = o;
        compute_busy[static_cast<std::size_t>(d)] += dur;
        if (ready + dur > op_max) {
          op_max = ready + dur;
          op_max_dev = d;
        }
      }
    } else {
      const auto& groups = graph.partition(op.partition);
      SWITCHSIM_ASSERT(op.matrices.empty() || op.matrices.size() == groups.size(), "one matrix per group");
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto& group = groups[g];
        double start = -1.0;
        Pred binding;
        for (topology::VertexId d : group) {
          Pred p;
          const double ready = ready_of(op, d, stream, p);
          if (ready > start) {
            start = ready;
            binding = p;
          }
        }
        const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[g].get();
        const double dur = cache.duration_s(op.collective, op.algorithm, group, op.bytes_per_device, matrix);
        for (topology::VertexId d : group) {
          const std::int64_t idx = member_index(o, d);
          const auto k = static_cast<std::size_t>(base + idx);
          s.start_s[k] = start;
          s.end_s[k] = start + dur;
          pred[k] = binding;
          const std::size_t slot = 2 * static_cast<std::size_t>(d) + 1;
          free_at[slot] = start + dur;
          last_op[slot] = o;
        }
        if (start + dur > op_max) {
          op_max = start + dur;
          op_max_dev = group.front();
        }
      }
    }
    max_end[static_cast<std::size_t>(o)] = std::max(0.0, op_max);
    max_dev[static_cast<std::size_t>(o)] = op_max_dev;
  }

  // Step time and critical path.
  OpId cur = -1;
  for (OpId o = 0; o < n_ops; ++o) {
    if (cur < 0 || max_end[static_cast<std::size_t>(o)] > s.step_time_s) {
      s.step_time_s = max_end[static_cast<std::size_t>(o)];
      cur = o;
    }
  }
  s.compute_busy_max_s = compute_busy.empty() ? 0.0 : *std::max_element(compute_busy.begin(), compute_busy.end());
  topology::VertexId dev = cur >= 0 ? max_dev[static_cast<std::size_t>(cur)] : -1;
  while (cur >= 0) {
    const std::int64_t idx = member_index(cur, dev);
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
    const Pred p = pred[k];
    double pred_end = 0.0;
    if (p.op >= 0) {
      const std::int64_t pi = member_index(p.op, p.device);
      pred_end = pi >= 0 ? s.end(p.op, pi) : max_end[static_cast<std::size_t>(p.op)];
    }
    s.critical_path.idle_s += std::max(0.0, s.start_s[k] - pred_end);
    cur = p.op;
    dev = p.device;
  }
  std::reverse(s.critical_ops.begin(), s.critical_ops.end());
  return s;
}

void add_step_to_trace(const OpGraph& graph, const StepSchedule& schedule, TraceWriter& trace,
                       std::int32_t max_devices) {
  const std::int32_t n = std::min(graph.num_devices(), max_devices);
  std::vector<TrackId> tracks(2 * static_cast<std::size_t>(n));
  for (std::int32_t d = 0; d < n; ++d) {
    const std::string group = "device " + std::to_string(d);
    tracks[2 * static_cast<std::size_t>(d)] = trace.add_track("compute", group);
    tracks[2 * static_cast<std::size_t>(d) + 1] = trace.add_track("communication", group);
  }
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const Op& op = graph.op(o);
    const auto& members = graph.members(o);
    const int stream = op.type == OpType::compute ? 0 : 1;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (members[i] >= n) break;  // members are sorted
      const double start = schedule.start(o, static_cast<std::int64_t>(i));
      const double end = schedule.end(o, static_cast<std::int64_t>(i));
      trace.add_complete(tracks[2 * static_cast<std::size_t>(members[i]) + static_cast<std::size_t>(stream)],
                         to_string(op.category()), op.name, start, end - start);
    }
  }
}

}  // namespace switchsim::sim
