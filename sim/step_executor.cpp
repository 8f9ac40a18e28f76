#include "sim/step_executor.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>

#include "common/errors.hpp"

namespace switchsim::sim {
namespace {

std::string cache_key(CollectiveOp op, CollectiveAlgorithm algorithm, const std::vector<topology::VertexId>& participants,
                      double bytes, const ByteMatrix* matrix) {
  std::string key;
  key.reserve(32 + participants.size() * sizeof(topology::VertexId));
  key.push_back(static_cast<char>(op));
  key.push_back(static_cast<char>(algorithm));
  char buf[sizeof(double)];
  std::memcpy(buf, &bytes, sizeof(double));
  key.append(buf, sizeof(double));
  const std::uint64_t mh = matrix ? matrix->fingerprint() : 0;  // computed once, when the matrix was built
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

CollectiveCache::CollectiveCache(const topology::Mesh& mesh, const NetworkOptions& network)
    : mesh_(&mesh), network_(network) {
  check_completion_window(network);
  // Translations are symmetries of a torus built by topology::build_torus when every
  // dimension wraps (or has a single chip) and links of one kind are all alike.
  const topology::MeshStructure& st = mesh.structure;
  bool invariant = st.family == topology::MeshFamily::torus && st.cores_per_chip >= 1 && !st.dims.empty() &&
                   st.wraparound.size() == st.dims.size();
  for (std::size_t d = 0; invariant && d < st.dims.size(); ++d) invariant = st.wraparound[d] || st.dims[d] == 1;
  if (invariant) {
    std::array<const topology::Link*, kNumLinkKinds> first{};
    for (const topology::Link& l : mesh.topology.links()) {
      const auto k = static_cast<std::size_t>(l.kind);
      if (k >= kNumLinkKinds) {
        invariant = false;
        break;
      }
      if (first[k] == nullptr) first[k] = &l;
      const topology::Link& f = *first[k];
      if (l.bandwidth_Bps != f.bandwidth_Bps || l.latency_s != f.latency_s || l.efficiency != f.efficiency) {
        invariant = false;
        break;
      }
    }
  }
  translation_invariant_ = invariant;
}

std::vector<topology::VertexId> CollectiveCache::canonical_group(
    const std::vector<topology::VertexId>& participants) const {
  if (!translation_invariant_ || participants.empty()) return participants;
  const topology::MeshStructure& st = mesh_->structure;
  const int cores = st.cores_per_chip;
  const std::size_t nd = st.dims.size();
  // Shift per dimension: the first participant's coordinate, rounded down to even
  // in even-sized dimensions (route ties depend on coordinate parity).
  std::vector<int> shift(nd);
  int chip = participants.front() / cores;
  for (std::size_t d = 0; d < nd; ++d) {
    const int n = st.dims[d];
    const int x = chip % n;
    chip /= n;
    shift[d] = n % 2 == 0 ? x - x % 2 : x;
  }
  std::vector<topology::VertexId> out(participants.size());
  for (std::size_t i = 0; i < participants.size(); ++i) {
    const topology::VertexId v = participants[i];
    int c = v / cores;
    int moved = 0;
    int stride = 1;
    for (std::size_t d = 0; d < nd; ++d) {
      const int n = st.dims[d];
      const int x = c % n;
      c /= n;
      moved += ((x - shift[d]) % n + n) % n * stride;
      stride *= n;
    }
    out[i] = moved * cores + v % cores;
  }
  return out;
}

double CollectiveCache::Entry::at(double bytes_per_device) const {
  if (!scalable) return time_s;
  // At reference_bytes this is bit-identical to the simulation (per_byte was
  // divided by a power of two, and done = drain + latency in both).
  double t = floor_s;
  for (const DrainClass& c : per_byte) t = std::max(t, bytes_per_device * c.max_drain_s + c.latency_s);
  return t;
}

double CollectiveCache::duration_s(CollectiveOp op, CollectiveAlgorithm algorithm,
                                   const std::vector<topology::VertexId>& participants, double bytes_per_device,
                                   const ByteMatrix* matrix) {
  if (participants.size() <= 1) return 0.0;
  const bool scalable = op == CollectiveOp::all_to_all && matrix == nullptr &&
                        (algorithm == CollectiveAlgorithm::automatic || algorithm == CollectiveAlgorithm::direct) &&
                        bytes_per_device > 0.0 && std::isfinite(bytes_per_device);
  const std::vector<topology::VertexId> group = canonical_group(participants);
  const std::string key = cache_key(op, scalable ? CollectiveAlgorithm::direct : algorithm, group,
                                    scalable ? 0.0 : bytes_per_device, matrix);
  std::promise<Entry> promise;
  std::shared_future<Entry> future;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++hits_;
      future = it->second;
    } else {
      future = promise.get_future().share();
      entries_.emplace(key, future);
      owner = true;
    }
  }
  if (owner) {
    // Simulate outside the lock; other threads asking for this key wait on the future.
    try {
      CollectiveRequest request;
      request.op = op;
      request.algorithm = algorithm;
      request.participants = group;
      request.bytes_per_device = scalable ? kScalingReferenceBytes : bytes_per_device;
      request.network = network_;
      const auto t0 = std::chrono::steady_clock::now();
      const CollectiveResult result = simulate_collective(*mesh_, request, matrix);  // no copy of the matrix
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      Entry e;
      e.time_s = result.time_s;
      if (scalable) {
        e.scalable = true;
        e.reference_bytes = kScalingReferenceBytes;
        for (const DrainClass& c : result.drain_classes) {
          e.per_byte.push_back(DrainClass{c.latency_s, c.max_drain_s / kScalingReferenceBytes});
        }
        e.floor_s = result.posting_floor_s;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++simulations_;
        wall_s_ += wall;
        events_ += result.events;
      }
      promise.set_value(std::move(e));
    } catch (...) {
      // Waiters rethrow too; drop the entry so a later call may try again.
      promise.set_exception(std::current_exception());
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(key);
      throw;
    }
  }
  const Entry& e = future.get();
  if (e.scalable && bytes_per_device != e.reference_bytes && !owner) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++scaled_hits_;
  }
  return e.at(bytes_per_device);
}

std::int64_t CollectiveCache::simulations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return simulations_;
}
std::int64_t CollectiveCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
std::int64_t CollectiveCache::scaled_hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return scaled_hits_;
}
std::int64_t CollectiveCache::events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
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
