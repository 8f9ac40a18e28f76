#include "sim/shared_step_executor.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/errors.hpp"
#include "sim/collective.hpp"

namespace switchsim::sim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class GroupState : std::uint8_t { waiting, pending, alone, shared, fixed, done };

class SharedStepRun {
 public:
  SharedStepRun(const OpGraph& graph, const kernels::CostModel& cost, CollectiveCache& cache,
                const SharedStepOptions& options)
      : g_(graph),
        cost_(cost),
        cache_(cache),
        mesh_(cache.mesh()),
        options_(options),
        net_(mesh_.topology.links(), *mesh_.router, cache.network(), mesh_.topology.num_devices()),
        reporter_(options_.progress, graph.num_ops(), options.progress_interval_s) {
    net_.record_link_loads(options.record_link_loads);
    net_.set_strict_priority(options.strict_priority);
    if (options.record_link_loads) options_.replay_alone = false;  // a trace needs every flow
  }

  StepSchedule run(SharedStepStats* stats) {
    prepare();
    // Slots with nothing to wait for start at 0.
    for (OpId o = 0; o < g_.num_ops(); ++o) {
      const auto base = static_cast<std::size_t>(s_.offsets[static_cast<std::size_t>(o)]);
      for (std::size_t i = 0; i < g_.members(o).size(); ++i) {
        if (waiting_[base + i] == 0) ready_.push_back(static_cast<std::int64_t>(base + i));
      }
    }
    now_ = 0.0;
    release_ready();
    while (true) {
      double tn = net_.idle() ? kInf : net_.next_event_s();
      double tc = events_.empty() ? kInf : events_.top().time_s;
      if (!batch_.sealed && !batch_.groups.empty() && std::min(tn, tc) > batch_.start) {
        seal_batch();  // nothing else starts at the batch's instant: it runs alone
        tc = events_.empty() ? kInf : events_.top().time_s;
      }
      if (tn == kInf && tc == kInf) break;
      if (tn <= tc) {
        now_ = tn;
        net_.advance_to(tn);
        finish_network_jobs();
      } else {
        now_ = tc;
        while (!events_.empty() && events_.top().time_s == tc) {
          const QueuedEvent e = events_.pop();
          if (e.payload >= 0) {
            end_slot(e.payload, tc);
          } else {
            const std::int64_t group = -e.payload - 1;
            const auto gs = static_cast<std::size_t>(group);
            if (state_[gs] == GroupState::alone || state_[gs] == GroupState::fixed) {
              if (state_[gs] == GroupState::alone && --batch_.running == 0) batch_ = Batch{};
              end_group(group, tc);
            }
          }
        }
      }
      release_ready();
    }
    for (std::size_t o = 0; o < op_left_.size(); ++o) {
      SWITCHSIM_ASSERT(op_left_[o] == 0, "an op never ran: the step graph has a cycle or a lost event");
    }
    reporter_.finish();
    finish_schedule(g_, s_, cause_, max_end_, max_dev_);
    if (stats != nullptr) {
      stats->collectives = collectives_;
      stats->memo_alone = memo_alone_;
      stats->replayed = replayed_;
      stats->load_modelled = load_modelled_;
      stats->flows = net_.flows();
      stats->network_events = net_.events();
      if (options_.record_link_loads) {
        stats->link_loads = net_.link_loads();
        stats->link_capacity_Bps.resize(mesh_.topology.links().size());
        for (std::size_t l = 0; l < stats->link_capacity_Bps.size(); ++l) {
          stats->link_capacity_Bps[l] = net_.link_capacity_Bps(static_cast<topology::LinkId>(l));
        }
      }
    }
    return std::move(s_);
  }

 private:
  // Slot bookkeeping: waiting counts, stream successors, dependents, groups.
  void prepare() {
    const std::int32_t n_ops = g_.num_ops();
    const auto n_dev = static_cast<std::size_t>(g_.num_devices());
    init_schedule(g_, s_);
    const std::size_t slots = s_.start_s.size();
    cause_.assign(slots, StartCause{});
    waiting_.assign(slots, 0);
    stream_next_.assign(slots, -1);
    max_end_.assign(static_cast<std::size_t>(n_ops), 0.0);
    max_dev_.assign(static_cast<std::size_t>(n_ops), -1);
    op_left_.assign(static_cast<std::size_t>(n_ops), 0);
    dependents_.assign(static_cast<std::size_t>(n_ops), {});
    group_base_.assign(static_cast<std::size_t>(n_ops), -1);
    constexpr auto kS = static_cast<std::size_t>(kStreams);
    std::vector<std::int64_t> last(kS * n_dev, -1);
    for (OpId o = 0; o < n_ops; ++o) {
      const Op& op = g_.op(o);
      const auto& members = g_.members(o);
      const auto base = static_cast<std::size_t>(s_.offsets[static_cast<std::size_t>(o)]);
      op_left_[static_cast<std::size_t>(o)] = static_cast<std::int64_t>(members.size());
      std::vector<OpId> deps = op.deps;
      std::sort(deps.begin(), deps.end());
      deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
      for (const OpId d : deps) dependents_[static_cast<std::size_t>(d)].push_back(o);
      const auto stream = static_cast<std::size_t>(op.stream());
      for (std::size_t i = 0; i < members.size(); ++i) {
        const std::size_t k = base + i;
        waiting_[k] = static_cast<std::int32_t>(deps.size());
        std::int64_t& prev = last[kS * static_cast<std::size_t>(members[i]) + stream];
        if (prev >= 0) {
          stream_next_[static_cast<std::size_t>(prev)] = static_cast<std::int64_t>(k);
          ++waiting_[k];
        }
        prev = static_cast<std::int64_t>(k);
        slot_op_.push_back(o);
      }
      if (op.type == OpType::collective) {
        const auto& groups = g_.partition(op.partition);
        SWITCHSIM_ASSERT(op.matrices.empty() || op.matrices.size() == groups.size(), "one matrix per group");
        group_base_[static_cast<std::size_t>(o)] = static_cast<std::int64_t>(group_op_.size());
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
          group_op_.push_back(o);
          group_index_.push_back(static_cast<std::int32_t>(gi));
          group_wait_.push_back(static_cast<std::int32_t>(groups[gi].size()));
          group_cause_.push_back(StartCause{});
          state_.push_back(GroupState::waiting);
        }
        group_of_device(op.partition);  // built once per partition
      }
    }
  }

  // Group index within the partition of each device (-1 outside it).
  const std::vector<std::int32_t>& group_of_device(PartitionId p) {
    auto it = partition_groups_.find(p);
    if (it != partition_groups_.end()) return it->second;
    std::vector<std::int32_t> of(static_cast<std::size_t>(g_.num_devices()), -1);
    const auto& groups = g_.partition(p);
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      for (const auto d : groups[gi]) of[static_cast<std::size_t>(d)] = static_cast<std::int32_t>(gi);
    }
    return partition_groups_.emplace(p, std::move(of)).first->second;
  }

  topology::VertexId slot_device(std::int64_t k) const {
    const OpId o = slot_op_[static_cast<std::size_t>(k)];
    return g_.members(o)[static_cast<std::size_t>(k - s_.offsets[static_cast<std::size_t>(o)])];
  }

  void notify(std::int64_t k, StartCause why) {
    const auto ki = static_cast<std::size_t>(k);
    cause_[ki] = why;  // the last notification is the one that made it ready
    if (--waiting_[ki] == 0) ready_.push_back(k);
  }

  // Starts every ready slot at now_ (compute: schedules its end; collective: joins its group).
  void release_ready() {
    while (!ready_.empty()) {
      const std::int64_t k = ready_.back();
      ready_.pop_back();
      const auto ki = static_cast<std::size_t>(k);
      const OpId o = slot_op_[ki];
      const Op& op = g_.op(o);
      s_.start_s[ki] = now_;
      if (op.type == OpType::compute) {
        const auto i = static_cast<std::size_t>(k - s_.offsets[static_cast<std::size_t>(o)]);
        double dur = 0.0;
        if (op.member_shapes.empty()) {
          auto it = uniform_s_.find(o);
          if (it == uniform_s_.end()) it = uniform_s_.emplace(o, cost_.predict(op.shape).seconds).first;
          dur = it->second;
        } else {
          SWITCHSIM_ASSERT(op.member_shapes.size() == g_.members(o).size(), "member_shapes must match the device set");
          dur = member_seconds(op.member_shapes[i], cost_, shape_seconds_);
        }
        events_.push(now_ + dur, k);
      } else {
        const std::int32_t gi = group_of_device(op.partition)[static_cast<std::size_t>(slot_device(k))];
        SWITCHSIM_ASSERT(gi >= 0, "collective member outside its partition");
        const std::int64_t group = group_base_[static_cast<std::size_t>(o)] + gi;
        const auto gs = static_cast<std::size_t>(group);
        group_cause_[gs] = cause_[ki];
        if (--group_wait_[gs] == 0) start_group(group);
      }
    }
  }

  std::shared_ptr<const CollectivePlan> plan_for(const Op& op, std::size_t gi) {
    const auto& group = g_.partition(op.partition)[gi];
    const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[gi].get();
    return cache_.plan(plan_key(op, gi), [&] {
      CollectiveRequest request;
      request.op = op.collective;
      request.algorithm = op.algorithm;
      request.participants = group;
      request.bytes_per_device = op.bytes_per_device;
      request.network = cache_.network();
      return plan_collective(mesh_, request, matrix);
    });
  }

  // Contention-aware load model: every group of the op, their link loads summed.
  double load_model_duration(OpId o) {
    auto it = op_load_time_.find(o);
    if (it != op_load_time_.end()) return it->second;
    const Op& op = g_.op(o);
    const auto& groups = g_.partition(op.partition);
    double t = 0.0;
    if (groups.size() == 1) {
      // One group: the isolated memo prices it by the same load model (and scales it with the bytes).
      const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices.front().get();
      t = cache_.duration_s(op.collective, op.algorithm, groups.front(), op.bytes_per_device, matrix);
    } else {
      std::string key = "load-model";
      for (std::size_t gi = 0; gi < groups.size(); ++gi) key += plan_key(op, gi);
      t = cache_.batch_durations(key, [&] {
        AllToAllLinkLoad load;
        for (std::size_t gi = 0; gi < groups.size(); ++gi) {
          const auto& members = groups[gi];
          if (op.matrices.empty()) {
            const auto n = static_cast<std::int32_t>(members.size());
            accumulate_all_to_all_load(mesh_, ByteMatrix::filled(n, op.bytes_per_device / n), members,
                                       cache_.network(), load);
          } else {
            accumulate_all_to_all_load(mesh_, *op.matrices[gi], members, cache_.network(), load);
          }
        }
        return std::vector<double>{load_model_time_s(mesh_, load)};
      }).front();
    }
    op_load_time_.emplace(o, t);
    return t;
  }

  void start_group(std::int64_t group) {
    const auto gs = static_cast<std::size_t>(group);
    const OpId o = group_op_[gs];
    const Op& op = g_.op(o);
    const auto gi = static_cast<std::size_t>(group_index_[gs]);
    const auto& members = g_.partition(op.partition)[gi];
    ++collectives_;
    // Every member starts when the last one is ready (as the isolated executor has it).
    for (const auto d : members) {
      s_.start_s[static_cast<std::size_t>(s_.offsets[static_cast<std::size_t>(o)] + member_index(g_, o, d))] = now_;
    }
    if (members.size() <= 1) {
      state_[gs] = GroupState::fixed;
      events_.push(now_, -(group + 1));
      return;
    }
    const auto plan = plan_for(op, gi);
    if (plan->load_model) {
      ++load_modelled_;
      state_[gs] = GroupState::fixed;
      events_.push(now_ + load_model_duration(o), -(group + 1));
      return;
    }
    if (options_.replay_alone) {
      if (batch_.sealed) {
        replay_batch();  // the batch running alone is overtaken: from now on it shares
      } else if (net_.idle() && (batch_.groups.empty() || batch_.start == now_)) {
        // Nothing in flight: collect every collective that starts at this instant.
        if (batch_.groups.empty()) batch_.start = now_;
        batch_.groups.push_back(group);
        state_[gs] = GroupState::pending;
        return;
      }
    }
    submit(group, *plan);
  }

  std::string plan_key(const Op& op, std::size_t gi) const {
    const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[gi].get();
    return collective_key(op.collective, op.algorithm, g_.partition(op.partition)[gi], op.bytes_per_device, matrix);
  }

  // The collectives that started together on an idle network run alone together
  // until another one starts: their durations come from a memo (one collective:
  // the isolated memo; several: a simulation of just them, memoized by their keys).
  void seal_batch() {
    batch_.sealed = true;
    batch_.running = static_cast<std::int64_t>(batch_.groups.size());
    std::vector<double> durations;
    if (batch_.groups.size() == 1) {
      const auto gs = static_cast<std::size_t>(batch_.groups.front());
      const Op& op = g_.op(group_op_[gs]);
      const auto gi = static_cast<std::size_t>(group_index_[gs]);
      const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[gi].get();
      durations.push_back(
          cache_.duration_s(op.collective, op.algorithm, g_.partition(op.partition)[gi], op.bytes_per_device, matrix));
    } else {
      std::string key(1, options_.strict_priority ? 'P' : 'M');  // priority changes how a batch shares
      std::vector<std::shared_ptr<const CollectivePlan>> plans;
      for (const std::int64_t group : batch_.groups) {
        const auto gs = static_cast<std::size_t>(group);
        const Op& op = g_.op(group_op_[gs]);
        const auto gi = static_cast<std::size_t>(group_index_[gs]);
        key += plan_key(op, gi);
        plans.push_back(plan_for(op, gi));
      }
      durations = cache_.batch_durations(key, [&] {
        SharedNetwork alone(mesh_.topology.links(), *mesh_.router, cache_.network(), mesh_.topology.num_devices());
        alone.set_strict_priority(options_.strict_priority);
        std::vector<JobId> jobs;
        for (std::size_t i = 0; i < plans.size(); ++i) {
          const Op& op = g_.op(group_op_[static_cast<std::size_t>(batch_.groups[i])]);
          alone.reserve_for(plans[i]->transfers);
          jobs.push_back(alone.submit(plans[i]->transfers, traffic_class(op)));
        }
        for (double t = alone.next_event_s(); t < kInf; t = alone.next_event_s()) alone.advance_to(t);
        std::vector<double> d;
        for (const JobId j : jobs) d.push_back(alone.job(j).done_s);
        return d;
      });
    }
    for (std::size_t i = 0; i < batch_.groups.size(); ++i) {
      const std::int64_t group = batch_.groups[i];
      state_[static_cast<std::size_t>(group)] = GroupState::alone;
      ++memo_alone_;
      events_.push(batch_.start + durations[i], -(group + 1));
    }
  }

  std::uint8_t traffic_class(const Op& op) const {
    return options_.strict_priority && op.collective != CollectiveOp::all_to_all ? std::uint8_t{1} : std::uint8_t{0};
  }

  void submit(std::int64_t group, const CollectivePlan& plan) {
    const auto gs = static_cast<std::size_t>(group);
    const Op& op = g_.op(group_op_[gs]);
    net_.advance_to(now_);
    net_.reserve_for(plan.transfers);
    const JobId job = net_.submit(plan.transfers, traffic_class(op));
    if (static_cast<std::size_t>(job) >= job_group_.size()) job_group_.resize(static_cast<std::size_t>(job) + 1, -1);
    job_group_[static_cast<std::size_t>(job)] = group;
    if (state_[gs] != GroupState::done) state_[gs] = GroupState::shared;
    finish_network_jobs();  // a job without transfers ends at once
  }

  // The batch running alone is overtaken by another collective: run it in the
  // shared network from its start up to now, exactly as it ran alone (members
  // that already ended are simulated too, as they took bandwidth, but not ended
  // again), then go on shared.
  void replay_batch() {
    Batch batch = std::move(batch_);
    batch_ = Batch{};
    ++replayed_;
    const double resume = now_;
    now_ = batch.start;
    for (const std::int64_t group : batch.groups) {
      const auto gs = static_cast<std::size_t>(group);
      submit(group, *plan_for(g_.op(group_op_[gs]), static_cast<std::size_t>(group_index_[gs])));
    }
    while (!net_.idle()) {
      const double t = net_.next_event_s();
      if (t > resume) break;
      now_ = t;
      net_.advance_to(t);
      finish_network_jobs();
    }
    now_ = resume;
  }

  void finish_network_jobs() {
    for (const JobId job : net_.take_finished()) {
      const std::int64_t group = job_group_[static_cast<std::size_t>(job)];
      if (state_[static_cast<std::size_t>(group)] == GroupState::done) continue;  // ended alone before a replay
      end_group(group, std::max(net_.job(job).done_s, now_));
    }
  }

  void end_group(std::int64_t group, double t) {
    const auto gs = static_cast<std::size_t>(group);
    state_[gs] = GroupState::done;
    const OpId o = group_op_[gs];
    const Op& op = g_.op(o);
    const auto& members = g_.partition(op.partition)[static_cast<std::size_t>(group_index_[gs])];
    const StartCause why = group_cause_[gs];
    for (const auto d : members) {
      const std::int64_t k = s_.offsets[static_cast<std::size_t>(o)] + member_index(g_, o, d);
      cause_[static_cast<std::size_t>(k)] = why;  // a collective starts when its last member is ready
      end_slot(k, t);
    }
  }

  void end_slot(std::int64_t k, double t) {
    const auto ki = static_cast<std::size_t>(k);
    s_.end_s[ki] = t;
    const OpId o = slot_op_[ki];
    const auto oi = static_cast<std::size_t>(o);
    const topology::VertexId d = slot_device(k);
    if (t > max_end_[oi] || max_dev_[oi] < 0) {
      max_end_[oi] = t;
      max_dev_[oi] = d;
    }
    const StartCause here{o, d};
    if (stream_next_[ki] >= 0) notify(stream_next_[ki], here);
    for (const OpId dep : dependents_[oi]) {
      const std::int64_t i = member_index(g_, dep, d);
      if (i >= 0) notify(s_.offsets[static_cast<std::size_t>(dep)] + i, here);
    }
    if (--op_left_[oi] == 0) {
      reporter_.op_done(t);
      // Members of dependents that did not run this op wait for all of it.
      const StartCause whole{o, max_dev_[oi]};
      for (const OpId dep : dependents_[oi]) {
        const auto& members = g_.members(dep);
        const auto base = s_.offsets[static_cast<std::size_t>(dep)];
        for (std::size_t i = 0; i < members.size(); ++i) {
          if (member_index(g_, o, members[i]) < 0) notify(base + static_cast<std::int64_t>(i), whole);
        }
      }
    }
  }

  const OpGraph& g_;
  const kernels::CostModel& cost_;
  CollectiveCache& cache_;
  const topology::Mesh& mesh_;
  SharedStepOptions options_;
  SharedNetwork net_;
  StepSchedule s_;
  std::vector<StartCause> cause_;
  std::vector<std::int32_t> waiting_;
  std::vector<std::int64_t> stream_next_;
  std::vector<OpId> slot_op_;
  std::vector<double> max_end_;
  std::vector<topology::VertexId> max_dev_;
  std::vector<std::int64_t> op_left_;
  std::vector<std::vector<OpId>> dependents_;
  // Collective groups (one per group of each collective op's partition).
  std::vector<std::int64_t> group_base_;  // per op
  std::vector<OpId> group_op_;
  std::vector<std::int32_t> group_index_;
  std::vector<std::int32_t> group_wait_;
  std::vector<StartCause> group_cause_;
  std::vector<GroupState> state_;
  std::vector<std::int64_t> job_group_;
  std::unordered_map<PartitionId, std::vector<std::int32_t>> partition_groups_;
  std::unordered_map<OpId, double> op_load_time_;
  std::unordered_map<OpId, double> uniform_s_;
  std::unordered_map<std::string, double> shape_seconds_;
  EventQueue events_;  // payload >= 0: a compute slot ends; < 0: group -(payload + 1) ends
  std::vector<std::int64_t> ready_;
  double now_ = 0.0;
  struct Batch {
    std::vector<std::int64_t> groups;  // in the order they started
    double start = 0.0;
    bool sealed = false;
    std::int64_t running = 0;  // sealed: groups not ended yet
  };
  Batch batch_;
  std::int64_t collectives_ = 0;
  std::int64_t memo_alone_ = 0;
  std::int64_t replayed_ = 0;
  std::int64_t load_modelled_ = 0;
  StepProgressReporter reporter_;
};

}  // namespace

StepSchedule execute_step_shared(const OpGraph& graph, const kernels::CostModel& cost, CollectiveCache& cache,
                                 const SharedStepOptions& options, SharedStepStats* stats) {
  return SharedStepRun(graph, cost, cache, options).run(stats);
}

}  // namespace switchsim::sim
