#include "sim/step_schedule_trace.hpp"

#include <algorithm>
#include <bit>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace switchsim::sim {

namespace {

// Where each device sits in a partition: (group index, position in the group), or (-1, -1).
struct GroupPosition {
  std::int32_t group = -1;
  std::int32_t position = -1;
};

class PartitionIndex {
 public:
  explicit PartitionIndex(const OpGraph& graph) : graph_(graph) {}
  const GroupPosition& at(PartitionId p, topology::VertexId d) {
    auto [it, inserted] = index_.try_emplace(p);
    if (inserted) {
      it->second.assign(static_cast<std::size_t>(graph_.num_devices()), GroupPosition{});
      const auto& groups = graph_.partition(p);
      for (std::size_t g = 0; g < groups.size(); ++g) {
        for (std::size_t i = 0; i < groups[g].size(); ++i) {
          it->second[static_cast<std::size_t>(groups[g][i])] = {static_cast<std::int32_t>(g), static_cast<std::int32_t>(i)};
        }
      }
    }
    return it->second[static_cast<std::size_t>(d)];
  }

 private:
  const OpGraph& graph_;
  std::unordered_map<PartitionId, std::vector<GroupPosition>> index_;
};

// The work of one (op, member) slot as the args show it.
struct SlotWork {
  double flops = 0.0;
  double bytes = 0.0;
  bool operator==(const SlotWork&) const = default;
};

SlotWork slot_work(const OpGraph& graph, OpId o, std::size_t member, topology::VertexId d, PartitionIndex& index) {
  const Op& op = graph.op(o);
  if (op.type == OpType::compute) {
    const kernels::OpShape& s = op.member_shapes.empty() ? op.shape : op.member_shapes[member];
    return {s.flops(), s.min_bytes()};
  }
  if (op.matrices.empty()) return {0.0, op.bytes_per_device};
  const GroupPosition& gp = index.at(op.partition, d);
  SWITCHSIM_ASSERT(gp.group >= 0, "collective member outside its partition");
  return {0.0, op.matrices[static_cast<std::size_t>(gp.group)]->row_sum(gp.position)};
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
void mix(std::uint64_t& h, std::uint64_t x) { h = splitmix64(h ^ splitmix64(x)); }
void mix(std::uint64_t& h, double x) { mix(h, std::bit_cast<std::uint64_t>(x)); }

// The step builder's names (workloads/step_builder.cpp): "mb1.enc3.switch.expert_in.fwd".
std::string_view pass_of(std::string_view name) {
  if (name.starts_with("grads.")) return "gradient sync";
  if (name.starts_with("optimizer.")) return "optimizer";
  if (name.ends_with(".fwd")) return "forward";
  if (name.ends_with(".bwd") || name.ends_with(".dgrad") || name.ends_with(".wgrad")) return "backward";
  return {};
}
int micro_batch_of(std::string_view name) {
  if (!name.starts_with("mb")) return -1;
  int mb = 0;
  std::size_t i = 2;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) mb = mb * 10 + (name[i] - '0');
  return (i > 2 && i < name.size() && name[i] == '.') ? mb : -1;
}

// The args every slice of `op` shares.
json op_args(const Op& op) {
  json a = {{"op", op.name}, {"kind", to_string(op.category())}, {"layer", op.layer}};
  if (const int mb = micro_batch_of(op.name); mb >= 0) a["micro_batch"] = mb;
  if (const std::string_view pass = pass_of(op.name); !pass.empty()) a["pass"] = std::string(pass);
  if (op.type == OpType::compute) {
    a["op_kind"] = kernels::to_string(op.shape.kind);
  } else {
    a["collective"] = to_string(op.collective);
    if (op.algorithm != CollectiveAlgorithm::automatic) a["algorithm"] = to_string(op.algorithm);
    a["partition"] = op.partition;
  }
  return a;
}

}  // namespace

std::string format_device_list(const std::vector<topology::VertexId>& devices) {
  std::string out;
  for (std::size_t i = 0; i < devices.size();) {
    std::size_t j = i;
    while (j + 1 < devices.size() && devices[j + 1] == devices[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j > i ? fmt::format("{}-{}", devices[i], devices[j]) : fmt::format("{}", devices[i]);
    i = j + 1;
  }
  return out;
}

std::vector<std::vector<topology::VertexId>> identical_timeline_classes(const OpGraph& graph, const StepSchedule& s,
                                                                        std::int32_t n) {
  n = std::clamp(n, 0, graph.num_devices());
  const auto nn = static_cast<std::size_t>(n);
  PartitionIndex index(graph);
  // 1. A hash per device over its slots in op order: (op, start, end, flops, bytes).
  std::vector<std::uint64_t> hash(nn, 0);
  std::vector<std::int64_t> slots(nn, 0);
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const auto& members = graph.members(o);
    for (std::size_t i = 0; i < members.size() && members[i] < n; ++i) {  // members are sorted
      const auto d = static_cast<std::size_t>(members[i]);
      const SlotWork w = slot_work(graph, o, i, members[i], index);
      std::uint64_t& h = hash[d];
      mix(h, static_cast<std::uint64_t>(o));
      mix(h, s.start(o, static_cast<std::int64_t>(i)));
      mix(h, s.end(o, static_cast<std::int64_t>(i)));
      mix(h, w.flops);
      mix(h, w.bytes);
      ++slots[d];
    }
  }
  // 2. Each device's candidate: the first device with its hash.
  std::vector<topology::VertexId> rep(nn);
  std::unordered_map<std::uint64_t, topology::VertexId> first;
  for (topology::VertexId d = 0; d < n; ++d) rep[static_cast<std::size_t>(d)] = first.try_emplace(hash[static_cast<std::size_t>(d)], d).first->second;
  // 3. Verify slot by slot against the candidate; a device that differs (a hash
  //    collision) stays alone.
  std::vector<char> alone(nn, 0);
  for (std::size_t d = 0; d < nn; ++d) alone[d] = slots[d] != slots[static_cast<std::size_t>(rep[d])];
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const auto& members = graph.members(o);
    for (std::size_t i = 0; i < members.size() && members[i] < n; ++i) {
      const auto d = static_cast<std::size_t>(members[i]);
      const topology::VertexId r = rep[d];
      if (r == members[i] || alone[d]) continue;
      const std::int64_t ri = member_index(graph, o, r);
      const auto ii = static_cast<std::int64_t>(i);
      alone[d] = ri < 0 || s.start(o, ri) != s.start(o, ii) || s.end(o, ri) != s.end(o, ii) ||
                 !(slot_work(graph, o, static_cast<std::size_t>(ri), r, index) == slot_work(graph, o, i, members[i], index));
    }
  }
  std::vector<std::vector<topology::VertexId>> classes;
  std::vector<std::int32_t> class_of(nn, -1);
  for (topology::VertexId d = 0; d < n; ++d) {
    const auto du = static_cast<std::size_t>(d);
    const topology::VertexId r = alone[du] ? d : rep[du];
    auto& c = class_of[static_cast<std::size_t>(r)];
    if (c < 0) {
      c = static_cast<std::int32_t>(classes.size());
      classes.emplace_back();
    }
    classes[static_cast<std::size_t>(c)].push_back(d);
  }
  return classes;  // devices ascend within a class; classes ordered by their first device
}

std::vector<std::vector<topology::VertexId>> add_step_to_trace(const OpGraph& graph, const StepSchedule& schedule,
                                                               TraceWriter& trace, const StepTraceOptions& options) {
  const std::int32_t n = std::clamp(options.max_devices, 0, graph.num_devices());
  std::vector<std::vector<topology::VertexId>> classes;
  if (options.all_devices) {
    for (topology::VertexId d = 0; d < n; ++d) classes.push_back({d});
  } else {
    classes = identical_timeline_classes(graph, schedule, n);
  }
  // Tracks: compute and communication always; a further communication stream only when an op uses
  // it ("communication 2" for the gradient stream, "communication N" for pipeline sends' streams).
  std::vector<bool> used(static_cast<std::size_t>(kStreams), false);
  used[0] = used[1] = true;
  for (OpId o = 0; o < graph.num_ops(); ++o) used[static_cast<std::size_t>(graph.op(o).stream())] = true;
  const std::size_t per = static_cast<std::size_t>(kStreams);
  // tracks[per * d + stream] for each written device d (a class's first), -1 for the others.
  std::vector<TrackId> tracks(per * static_cast<std::size_t>(n), -1);
  for (const auto& c : classes) {
    const std::string group = c.size() == 1 ? fmt::format("device {}", c.front())
                                            : fmt::format("devices {} (identical timelines)", format_device_list(c));
    const std::size_t base = per * static_cast<std::size_t>(c.front());
    tracks[base] = trace.add_track("compute", group);
    tracks[base + 1] = trace.add_track("communication", group);
    for (std::size_t k = 2; k < per; ++k) {
      if (used[k]) tracks[base + k] = trace.add_track(fmt::format("communication {}", k), group);
    }
  }
  PartitionIndex index(graph);
  for (OpId o = 0; o < graph.num_ops(); ++o) {
    const Op& op = graph.op(o);
    const auto& members = graph.members(o);
    const auto stream = static_cast<std::size_t>(op.stream());
    json shared;  // built on first use: most ops have a written member
    for (std::size_t i = 0; i < members.size() && members[i] < n; ++i) {
      const TrackId track = tracks[per * static_cast<std::size_t>(members[i]) + stream];
      if (track < 0) continue;
      if (shared.is_null()) shared = op_args(op);
      json args = shared;
      const SlotWork w = slot_work(graph, o, i, members[i], index);
      if (op.type == OpType::compute) {
        args["flops"] = w.flops;
      } else {
        const GroupPosition& gp = index.at(op.partition, members[i]);
        const auto& group = graph.partition(op.partition)[static_cast<std::size_t>(gp.group)];
        args["group"] = gp.group;
        args["group_size"] = group.size();
        args["members"] = format_device_list(group);
        if (group.size() == 2) args["peer"] = group[gp.position == 0 ? 1 : 0];
      }
      args["bytes"] = w.bytes;
      const double start = schedule.start(o, static_cast<std::int64_t>(i));
      const double end = schedule.end(o, static_cast<std::int64_t>(i));
      trace.add_complete(track, to_string(op.category()), op.name, start, end - start, std::move(args));
    }
  }
  return classes;
}

}  // namespace switchsim::sim
