#include "sim/step_executor.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>

#include "common/errors.hpp"

namespace switchsim::sim {
std::string collective_key(CollectiveOp op, CollectiveAlgorithm algorithm,
                           const std::vector<topology::VertexId>& participants, double bytes,
                           const ByteMatrix* matrix) {
  std::string key;
  key.reserve(40 + participants.size() * sizeof(topology::VertexId));
  key.push_back(static_cast<char>(op));
  key.push_back(static_cast<char>(algorithm));
  char buf[sizeof(double)];
  std::memcpy(buf, &bytes, sizeof(double));
  key.append(buf, sizeof(double));
  const std::uint64_t mh = matrix ? matrix->fingerprint() : 0;  // computed once, when the matrix was built
  char hb[sizeof(std::uint64_t)];
  std::memcpy(hb, &mh, sizeof(mh));
  key.append(hb, sizeof(mh));
  // The participant count first: keys of several collectives can be concatenated unambiguously.
  const auto n = static_cast<std::uint32_t>(participants.size());
  key.append(reinterpret_cast<const char*>(&n), sizeof n);
  key.append(reinterpret_cast<const char*>(participants.data()), participants.size() * sizeof(topology::VertexId));
  return key;
}

std::size_t OpShapeHash::operator()(const kernels::OpShape& s) const noexcept {
  // FNV-1a style mixing of the fields, each through a 64-bit multiplicative step.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0x100000001b3ULL;
  };
  mix(static_cast<std::uint64_t>(s.kind));
  mix(static_cast<std::uint64_t>(s.precision));
  mix(static_cast<std::uint64_t>(s.batch));
  mix(static_cast<std::uint64_t>(s.m));
  mix(static_cast<std::uint64_t>(s.n));
  mix(static_cast<std::uint64_t>(s.k));
  mix(static_cast<std::uint64_t>(s.bytes));
  mix(static_cast<std::uint64_t>(s.activation_elements));
  return static_cast<std::size_t>(h);
}

bool OpShapeEqual::operator()(const kernels::OpShape& a, const kernels::OpShape& b) const noexcept {
  return a.kind == b.kind && a.precision == b.precision && a.batch == b.batch && a.m == b.m && a.n == b.n &&
         a.k == b.k && a.bytes == b.bytes && a.activation_elements == b.activation_elements;
}

double member_seconds(const kernels::OpShape& sh, const kernels::CostModel& cost, ShapeSecondsMemo& memo) {
  auto it = memo.find(sh);
  if (it == memo.end()) it = memo.emplace(sh, cost.predict(sh).seconds).first;
  return it->second;
}

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
  const std::string key = collective_key(op, scalable ? CollectiveAlgorithm::direct : algorithm, group,
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

std::vector<double> CollectiveCache::batch_durations(const std::string& key,
                                                     const std::function<std::vector<double>()>& simulate) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = batches_.find(key);
    if (it != batches_.end()) {
      ++hits_;
      return it->second;
    }
  }
  std::vector<double> d = simulate();
  std::lock_guard<std::mutex> lock(mutex_);
  ++simulations_;
  batches_.emplace(key, d);
  return d;
}

std::shared_ptr<const CollectivePlan> CollectiveCache::plan(const std::string& key,
                                                           const std::function<CollectivePlan()>& make) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  CollectivePlan made = make();
  made.matrix = nullptr;
  made.uniform = ByteMatrix{};
  made.alone.reset();
  auto shared = std::make_shared<const CollectivePlan>(std::move(made));
  std::lock_guard<std::mutex> lock(mutex_);
  return plans_.emplace(key, std::move(shared)).first->second;
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

StepSchedule execute_step(const OpGraph& graph, const kernels::CostModel& cost, CollectiveCache& cache,
                          const StepProgressCallback& progress, double progress_interval_s) {
  const std::int32_t n_dev = graph.num_devices();
  const std::int32_t n_ops = graph.num_ops();
  StepProgressReporter reporter(progress, n_ops, progress_interval_s);
  StepSchedule s;
  init_schedule(graph, s);
  std::vector<StartCause> pred(s.start_s.size());
  std::vector<double> max_end(static_cast<std::size_t>(n_ops), 0.0);
  std::vector<topology::VertexId> max_dev(static_cast<std::size_t>(n_ops), -1);

  // Per device and stream (op_graph.hpp): when it is free and which op freed it.
  constexpr auto kS = static_cast<std::size_t>(kStreams);
  std::vector<double> free_at(kS * static_cast<std::size_t>(n_dev), 0.0);
  std::vector<OpId> last_op(kS * static_cast<std::size_t>(n_dev), -1);

  // Ready time of device d for op o, and what made it so.
  auto ready_of = [&](const Op& op, topology::VertexId d, int stream, StartCause& p) -> double {
    double ready = 0.0;
    p = StartCause{};
    const std::size_t slot = kS * static_cast<std::size_t>(d) + static_cast<std::size_t>(stream);
    if (last_op[slot] >= 0) {
      ready = free_at[slot];
      p = StartCause{last_op[slot], d};
    }
    for (OpId dep : op.deps) {
      const std::int64_t idx = member_index(graph, dep, d);
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
        p = StartCause{dep, dev};
      }
    }
    return ready;
  };

  ShapeSecondsMemo shape_seconds;  // per-member shapes only
  for (OpId o = 0; o < n_ops; ++o) {
    const Op& op = graph.op(o);
    const auto& members = graph.members(o);
    const std::int64_t base = s.offsets[static_cast<std::size_t>(o)];
    const int stream = op.stream();
    double op_max = -1.0;
    topology::VertexId op_max_dev = -1;
    if (op.type == OpType::compute) {
      SWITCHSIM_ASSERT(op.member_shapes.empty() || op.member_shapes.size() == members.size(),
                       "member_shapes must match the device set");
      const double uniform_s = op.member_shapes.empty() ? cost.predict(op.shape).seconds : 0.0;
      for (std::size_t i = 0; i < members.size(); ++i) {
        const topology::VertexId d = members[i];
        StartCause p;
        const double ready = ready_of(op, d, stream, p);
        const double dur = op.member_shapes.empty() ? uniform_s : member_seconds(op.member_shapes[i], cost, shape_seconds);
        const auto k = static_cast<std::size_t>(base) + i;
        s.start_s[k] = ready;
        s.end_s[k] = ready + dur;
        pred[k] = p;
        const std::size_t slot = kS * static_cast<std::size_t>(d);
        free_at[slot] = ready + dur;
        last_op[slot] = o;
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
        StartCause binding;
        for (topology::VertexId d : group) {
          StartCause p;
          const double ready = ready_of(op, d, stream, p);
          if (ready > start) {
            start = ready;
            binding = p;
          }
        }
        const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[g].get();
        const double dur = cache.duration_s(op.collective, op.algorithm, group, op.bytes_per_device, matrix);
        for (topology::VertexId d : group) {
          const std::int64_t idx = member_index(graph, o, d);
          const auto k = static_cast<std::size_t>(base + idx);
          s.start_s[k] = start;
          s.end_s[k] = start + dur;
          pred[k] = binding;
          const std::size_t slot = kS * static_cast<std::size_t>(d) + static_cast<std::size_t>(stream);
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
    reporter.op_done(max_end[static_cast<std::size_t>(o)]);
  }
  reporter.finish();
  finish_schedule(graph, s, pred, max_end, max_dev);
  return s;
}

}  // namespace switchsim::sim
