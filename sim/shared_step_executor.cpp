#include "sim/shared_step_executor.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/errors.hpp"
#include "sim/collective.hpp"
#include "sim/collective_footprint.hpp"

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
        reporter_(options_.progress, graph.num_ops(), options.progress_interval_s) {
    if (options.record_link_loads) options_.replay_alone = false;  // a trace needs every flow in one network
    link_owner_.assign(mesh_.topology.links().size(), -1);
    poster_owner_.assign(static_cast<std::size_t>(mesh_.topology.num_devices()), -1);
    link_refs_.assign(link_owner_.size(), 0);
    poster_refs_.assign(poster_owner_.size(), 0);
    if (!options_.replay_alone) {
      const std::int64_t u = new_unit(true);
      SWITCHSIM_ASSERT(u == kEveryFlowUnit, "the every-flow unit comes first");
    }
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
      double tn = next_network_event();
      double tc = events_.empty() ? kInf : events_.top().time_s;
      if (!unsealed_.empty() && std::min(tn, tc) > now_) {
        seal_units();  // nothing else starts at this instant: the open units run alone
        tc = events_.empty() ? kInf : events_.top().time_s;
      }
      if (tn == kInf && tc == kInf) break;
      if (tn <= tc) {
        now_ = tn;
        advance_networks(tn);
      } else {
        now_ = tc;
        while (!events_.empty() && events_.top().time_s == tc) {
          const QueuedEvent e = events_.pop();
          if (e.payload >= 0) {
            end_slot(e.payload, tc);
          } else {
            const std::int64_t group = -e.payload - 1;
            const auto gs = static_cast<std::size_t>(group);
            if (state_[gs] == GroupState::alone) {
              const std::int64_t u = group_unit_[gs];
              end_group(group, tc);
              if (--units_[static_cast<std::size_t>(u)].running == 0) free_unit(u);
            } else if (state_[gs] == GroupState::fixed) {
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
      stats->flows = flows_;
      stats->network_events = network_events_;
      for (const std::int64_t u : simulated_) {
        stats->flows += units_[static_cast<std::size_t>(u)].net->flows();
        stats->network_events += units_[static_cast<std::size_t>(u)].net->events();
      }
      if (options_.record_link_loads) {
        const SharedNetwork& net = *units_[static_cast<std::size_t>(kEveryFlowUnit)].net;
        stats->link_loads = net.link_loads();
        stats->link_capacity_Bps.resize(mesh_.topology.links().size());
        for (std::size_t l = 0; l < stats->link_capacity_Bps.size(); ++l) {
          stats->link_capacity_Bps[l] = net.link_capacity_Bps(static_cast<topology::LinkId>(l));
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
          group_unit_.push_back(-1);
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
    if (!options_.replay_alone) {
      submit(kEveryFlowUnit, group);
      return;
    }
    const NetworkFootprint& f = footprint(plan);
    const std::vector<std::int64_t> owners = owners_of(f);
    std::int64_t u = -1;
    if (owners.empty()) {
      // Nothing in flight touches it: it runs alone (timed when the instant is over).
      u = new_unit(false);
      units_[static_cast<std::size_t>(u)].start = now_;
      unsealed_.push_back(u);
    } else if (std::all_of(owners.begin(), owners.end(), [&](std::int64_t w) { return is_open(w); })) {
      // It shares resources only with collectives that start at this same instant: they run alone together.
      u = owners.front();
      for (std::size_t i = 1; i < owners.size(); ++i) absorb(u, owners[i]);
    } else if (only_one_simulated_with_open(owners)) {
      // It joins the one simulated unit in flight (and so do open units, which start now).
      u = simulated_owner(owners);
      for (const std::int64_t w : owners) {
        if (w != u) absorb_open_into_simulated(u, w);
      }
    } else {
      u = replay(owners);  // an alone unit is overtaken, or two simulated units meet
    }
    claim(u, f);
    Unit& unit = units_[static_cast<std::size_t>(u)];
    if (unit.net) {
      submit(u, group);
    } else {
      unit.groups.push_back(group);
      unit.submit_s.push_back(now_);
      group_unit_[gs] = u;
      state_[gs] = GroupState::pending;
    }
  }

  std::string plan_key(const Op& op, std::size_t gi) const {
    const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[gi].get();
    return collective_key(op.collective, op.algorithm, g_.partition(op.partition)[gi], op.bytes_per_device, matrix);
  }

  const NetworkFootprint& footprint(const std::shared_ptr<const CollectivePlan>& plan) {
    auto it = footprints_.find(plan.get());
    if (it == footprints_.end()) {
      NetworkFootprint f = network_footprint(plan->transfers, mesh_.topology.links(), *mesh_.router, cache_.network(),
                                             mesh_.topology.num_devices());
      it = footprints_.emplace(plan.get(), std::make_pair(plan, std::move(f))).first;  // the pointer keeps the plan alive
    }
    return it->second.second;
  }

  // The units that hold a link or a posting clock of `f`, each once, in the order met.
  std::vector<std::int64_t> owners_of(const NetworkFootprint& f) const {
    std::vector<std::int64_t> owners;
    auto add = [&](std::int64_t w) {
      if (w >= 0 && std::find(owners.begin(), owners.end(), w) == owners.end()) owners.push_back(w);
    };
    for (const auto l : f.links) add(link_owner_[static_cast<std::size_t>(l)]);
    for (const auto d : f.posters) add(poster_owner_[static_cast<std::size_t>(d)]);
    return owners;
  }

  // An alone unit that started at this instant and is not timed yet.
  bool is_open(std::int64_t u) const {
    const Unit& unit = units_[static_cast<std::size_t>(u)];
    return !unit.net && !unit.sealed;
  }

  bool only_one_simulated_with_open(const std::vector<std::int64_t>& owners) const {
    std::size_t simulated = 0;
    for (const std::int64_t w : owners) {
      if (units_[static_cast<std::size_t>(w)].net) {
        ++simulated;
      } else if (!is_open(w)) {
        return false;
      }
    }
    return simulated == 1;
  }

  std::int64_t simulated_owner(const std::vector<std::int64_t>& owners) const {
    for (const std::int64_t w : owners) {
      if (units_[static_cast<std::size_t>(w)].net) return w;
    }
    SWITCHSIM_ASSERT(false, "no simulated unit among the owners");
    return -1;
  }

  std::int64_t new_unit(bool simulated) {
    std::int64_t u = 0;
    if (free_units_.empty()) {
      u = static_cast<std::int64_t>(units_.size());
      units_.emplace_back();
    } else {
      u = free_units_.back();
      free_units_.pop_back();
    }
    Unit& unit = units_[static_cast<std::size_t>(u)];
    if (simulated) {
      unit.net = std::make_unique<SharedNetwork>(mesh_.topology.links(), *mesh_.router, cache_.network(),
                                                 mesh_.topology.num_devices());
      unit.net->set_strict_priority(options_.strict_priority);
      unit.net->record_link_loads(options_.record_link_loads);
      simulated_.push_back(u);
    }
    return u;
  }

  // Gives `u` the links and posting clocks of `f` that it does not hold yet.
  void claim(std::int64_t u, const NetworkFootprint& f) {
    Unit& unit = units_[static_cast<std::size_t>(u)];
    compact_resources(u);
    for (const auto l : f.links) {
      std::int64_t& owner = link_owner_[static_cast<std::size_t>(l)];
      if (owner == u) continue;
      SWITCHSIM_ASSERT(owner < 0, "a link claimed by two units");
      owner = u;
      unit.links.push_back(l);
    }
    for (const auto d : f.posters) {
      std::int64_t& owner = poster_owner_[static_cast<std::size_t>(d)];
      if (owner == u) continue;
      SWITCHSIM_ASSERT(owner < 0, "a posting clock claimed by two units");
      owner = u;
      unit.posters.push_back(d);
    }
  }

  // A simulated unit lets go of a resource when its last job using it ends, so
  // its lists keep entries it no longer holds (and repeats, when it claims one
  // again): dropped here once they outnumber what it held at the last pass.
  void compact_resources(std::int64_t u) {
    Unit& unit = units_[static_cast<std::size_t>(u)];
    if (unit.links.size() + unit.posters.size() <= 2 * unit.held_after_compaction + 64) return;
    auto keep_held = [u](auto& list, const std::vector<std::int64_t>& owner) {
      std::sort(list.begin(), list.end());
      list.erase(std::unique(list.begin(), list.end()), list.end());
      std::erase_if(list, [&](auto r) { return owner[static_cast<std::size_t>(r)] != u; });
    };
    keep_held(unit.links, link_owner_);
    keep_held(unit.posters, poster_owner_);
    unit.held_after_compaction = unit.links.size() + unit.posters.size();
  }

  // Counts, per resource a simulated unit holds, its jobs in flight that use it.
  void hold(std::int64_t u, const NetworkFootprint& f) {
    for (const auto l : f.links) {
      if (link_owner_[static_cast<std::size_t>(l)] == u) ++link_refs_[static_cast<std::size_t>(l)];
    }
    for (const auto d : f.posters) {
      if (poster_owner_[static_cast<std::size_t>(d)] == u) ++poster_refs_[static_cast<std::size_t>(d)];
    }
  }

  // A job of simulated unit u ended: the resources no other job of u in flight
  // uses are free again (a finished job holds no link, and its sender's posting
  // clock is not past its end).
  void let_go(std::int64_t u, const NetworkFootprint& f) {
    for (const auto l : f.links) {
      const auto li = static_cast<std::size_t>(l);
      if (link_owner_[li] == u && --link_refs_[li] == 0) link_owner_[li] = -1;
    }
    for (const auto d : f.posters) {
      const auto di = static_cast<std::size_t>(d);
      if (poster_owner_[di] == u && --poster_refs_[di] == 0) poster_owner_[di] = -1;
    }
  }

  // After a replay: the counts from the jobs still in flight; what none of them uses is freed.
  void recount(std::int64_t u) {
    Unit& unit = units_[static_cast<std::size_t>(u)];
    for (const auto l : unit.links) {
      if (link_owner_[static_cast<std::size_t>(l)] == u) link_refs_[static_cast<std::size_t>(l)] = 0;
    }
    for (const auto d : unit.posters) {
      if (poster_owner_[static_cast<std::size_t>(d)] == u) poster_refs_[static_cast<std::size_t>(d)] = 0;
    }
    for (JobId j = 0; j < unit.net->num_jobs(); ++j) {
      if (!unit.net->job(j).finished) hold(u, *unit.job_footprint[static_cast<std::size_t>(j)]);
    }
    for (const auto l : unit.links) {
      const auto li = static_cast<std::size_t>(l);
      if (link_owner_[li] == u && link_refs_[li] == 0) link_owner_[li] = -1;
    }
    for (const auto d : unit.posters) {
      const auto di = static_cast<std::size_t>(d);
      if (poster_owner_[di] == u && poster_refs_[di] == 0) poster_owner_[di] = -1;
    }
  }

  // Moves what unit `from` holds to `to` and frees `from` (its groups are the caller's).
  void hand_over_resources(std::int64_t to, std::int64_t from) {
    Unit& src = units_[static_cast<std::size_t>(from)];
    Unit& dst = units_[static_cast<std::size_t>(to)];
    for (const auto l : src.links) {
      if (link_owner_[static_cast<std::size_t>(l)] != from) continue;
      link_owner_[static_cast<std::size_t>(l)] = to;
      dst.links.push_back(l);
    }
    for (const auto d : src.posters) {
      if (poster_owner_[static_cast<std::size_t>(d)] != from) continue;
      poster_owner_[static_cast<std::size_t>(d)] = to;
      dst.posters.push_back(d);
    }
    src.links.clear();
    src.posters.clear();
    free_unit(from);
  }

  // Open unit `from` joins open unit `to` (both start now).
  void absorb(std::int64_t to, std::int64_t from) {
    Unit& src = units_[static_cast<std::size_t>(from)];
    Unit& dst = units_[static_cast<std::size_t>(to)];
    for (std::size_t i = 0; i < src.groups.size(); ++i) {
      dst.groups.push_back(src.groups[i]);
      dst.submit_s.push_back(src.submit_s[i]);
      group_unit_[static_cast<std::size_t>(src.groups[i])] = to;
    }
    hand_over_resources(to, from);
  }

  // Open unit `from` (started now) is submitted into simulated unit `to` now.
  void absorb_open_into_simulated(std::int64_t to, std::int64_t from) {
    const std::vector<std::int64_t> groups = units_[static_cast<std::size_t>(from)].groups;
    hand_over_resources(to, from);
    for (const std::int64_t group : groups) submit(to, group);
  }

  void free_unit(std::int64_t u) {
    Unit& unit = units_[static_cast<std::size_t>(u)];
    for (const auto l : unit.links) {
      const auto li = static_cast<std::size_t>(l);
      if (link_owner_[li] == u) {
        link_owner_[li] = -1;
        link_refs_[li] = 0;
      }
    }
    for (const auto d : unit.posters) {
      const auto di = static_cast<std::size_t>(d);
      if (poster_owner_[di] == u) {
        poster_owner_[di] = -1;
        poster_refs_[di] = 0;
      }
    }
    if (unit.net) {
      flows_ += unit.net->flows();
      network_events_ += unit.net->events();
      simulated_.erase(std::find(simulated_.begin(), simulated_.end(), u));
    }
    unsealed_.erase(std::remove(unsealed_.begin(), unsealed_.end(), u), unsealed_.end());
    unit = Unit{};
    free_units_.push_back(u);
  }

  // The units in `owners` are run again, together, in a fresh shared network from the
  // earliest start up to now (every group submitted at the time it was), so the state
  // of their flows at this instant is the one they had; they then go on shared. The
  // units were disjoint while they ran, so running them together changes nothing
  // before now. Returns the new simulated unit.
  std::int64_t replay(const std::vector<std::int64_t>& owners) {
    ++replayed_;
    struct Entry {
      double at;
      std::int64_t group;
    };
    std::vector<Entry> log;
    for (const std::int64_t w : owners) {
      const Unit& unit = units_[static_cast<std::size_t>(w)];
      for (std::size_t i = 0; i < unit.groups.size(); ++i) log.push_back({unit.submit_s[i], unit.groups[i]});
    }
    std::stable_sort(log.begin(), log.end(), [](const Entry& a, const Entry& b) { return a.at < b.at; });
    const std::int64_t u = new_unit(true);
    for (const std::int64_t w : owners) hand_over_resources(u, w);
    const double resume = now_;
    units_[static_cast<std::size_t>(u)].start = log.front().at;
    replaying_ = true;  // the resources' counts are rebuilt at the end
    for (const Entry& e : log) {
      run_network_until(u, e.at);
      now_ = e.at;
      submit(u, e.group);
    }
    run_network_until(u, resume);
    replaying_ = false;
    recount(u);
    now_ = resume;
    return u;
  }

  // Processes unit u's network events up to `limit` (inclusive).
  void run_network_until(std::int64_t u, double limit) {
    SharedNetwork& net = *units_[static_cast<std::size_t>(u)].net;
    while (!net.idle()) {
      const double t = net.next_event_s();
      if (t > limit) break;
      now_ = t;
      net.advance_to(t);
      finish_network_jobs(u);
    }
  }

  // The earliest event of the simulated units' networks.
  double next_network_event() {
    double t = kInf;
    for (const std::int64_t u : simulated_) {
      SharedNetwork& net = *units_[static_cast<std::size_t>(u)].net;
      if (!net.idle()) t = std::min(t, net.next_event_s());
    }
    return t;
  }

  // Processes every simulated network's event at time t; frees the units left idle.
  void advance_networks(double t) {
    const std::vector<std::int64_t> units = simulated_;
    for (const std::int64_t u : units) {
      SharedNetwork& net = *units_[static_cast<std::size_t>(u)].net;
      if (net.idle() || net.next_event_s() > t) continue;
      net.advance_to(t);
      finish_network_jobs(u);
      if (net.idle() && u != kEveryFlowUnit) free_unit(u);
    }
  }

  // The collectives of every open unit ran alone together from their start until
  // this instant ended: their durations come from a memo (one collective: the
  // isolated memo; several: a simulation of just them, memoized by their keys).
  void seal_units() {
    const std::vector<std::int64_t> open = unsealed_;
    unsealed_.clear();
    for (const std::int64_t u : open) seal(u);
  }

  void seal(std::int64_t u) {
    Unit& unit = units_[static_cast<std::size_t>(u)];
    unit.sealed = true;
    unit.running = static_cast<std::int64_t>(unit.groups.size());
    std::vector<double> durations;
    if (unit.groups.size() == 1) {
      const auto gs = static_cast<std::size_t>(unit.groups.front());
      const Op& op = g_.op(group_op_[gs]);
      const auto gi = static_cast<std::size_t>(group_index_[gs]);
      const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[gi].get();
      durations.push_back(
          cache_.duration_s(op.collective, op.algorithm, g_.partition(op.partition)[gi], op.bytes_per_device, matrix));
    } else {
      std::string key(1, options_.strict_priority ? 'P' : 'M');  // priority changes how a batch shares
      std::vector<std::shared_ptr<const CollectivePlan>> plans;
      for (const std::int64_t group : unit.groups) {
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
          const Op& op = g_.op(group_op_[static_cast<std::size_t>(unit.groups[i])]);
          alone.reserve_for(plans[i]->transfers);
          jobs.push_back(alone.submit(plans[i]->transfers, traffic_class(op)));
        }
        for (double t = alone.next_event_s(); t < kInf; t = alone.next_event_s()) alone.advance_to(t);
        std::vector<double> d;
        for (const JobId j : jobs) d.push_back(alone.job(j).done_s);
        return d;
      });
    }
    for (std::size_t i = 0; i < unit.groups.size(); ++i) {
      const std::int64_t group = unit.groups[i];
      state_[static_cast<std::size_t>(group)] = GroupState::alone;
      ++memo_alone_;
      events_.push(unit.start + durations[i], -(group + 1));
    }
  }

  std::uint8_t traffic_class(const Op& op) const {
    return options_.strict_priority && op.collective != CollectiveOp::all_to_all ? std::uint8_t{1} : std::uint8_t{0};
  }

  void submit(std::int64_t u, std::int64_t group) {
    const auto gs = static_cast<std::size_t>(group);
    const Op& op = g_.op(group_op_[gs]);
    const auto plan = plan_for(op, static_cast<std::size_t>(group_index_[gs]));
    Unit& unit = units_[static_cast<std::size_t>(u)];
    unit.groups.push_back(group);
    unit.submit_s.push_back(now_);
    unit.plans.push_back(plan);  // the network reads its transfers until the job ends
    group_unit_[gs] = u;
    SharedNetwork& net = *unit.net;
    net.advance_to(now_);
    net.reserve_for(plan->transfers);
    const JobId job = net.submit(plan->transfers, traffic_class(op));
    const auto ji = static_cast<std::size_t>(job);
    if (ji >= unit.job_group.size()) {
      unit.job_group.resize(ji + 1, -1);
      unit.job_footprint.resize(ji + 1, nullptr);
    }
    unit.job_group[ji] = group;
    if (options_.replay_alone) {
      unit.job_footprint[ji] = &footprint(plan);
      if (!replaying_) hold(u, *unit.job_footprint[ji]);
    }
    if (state_[gs] != GroupState::done) state_[gs] = GroupState::shared;
    finish_network_jobs(u);  // a job without transfers ends at once
  }

  void finish_network_jobs(std::int64_t u) {
    Unit& unit = units_[static_cast<std::size_t>(u)];
    for (const JobId job : unit.net->take_finished()) {
      const NetworkFootprint* f = unit.job_footprint[static_cast<std::size_t>(job)];
      if (f != nullptr && !replaying_) let_go(u, *f);
      const std::int64_t group = unit.job_group[static_cast<std::size_t>(job)];
      if (state_[static_cast<std::size_t>(group)] == GroupState::done) continue;  // ended alone before a replay
      end_group(group, std::max(unit.net->job(job).done_s, now_));
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
  std::vector<std::int64_t> group_unit_;  // the unit a group runs in (alone or simulated)
  std::unordered_map<PartitionId, std::vector<std::int32_t>> partition_groups_;
  std::unordered_map<OpId, double> op_load_time_;
  std::unordered_map<OpId, double> uniform_s_;
  ShapeSecondsMemo shape_seconds_;
  EventQueue events_;  // payload >= 0: a compute slot ends; < 0: group -(payload + 1) ends
  std::vector<std::int64_t> ready_;
  double now_ = 0.0;
  // A unit: collectives whose network resources (links, posting clocks) no other
  // unit in flight uses, so it runs exactly as it would alone. Alone units (no
  // network) are timed from a memo; simulated units run their flows in a network
  // of their own. A new collective that shares resources with units in flight
  // joins them (start_group: the one simulated unit among them, or a replay of all).
  struct Unit {
    bool sealed = false;  // an alone unit whose durations are set
    double start = 0.0;
    std::vector<std::int64_t> groups;  // in submission order
    std::vector<double> submit_s;      // per group
    std::vector<std::shared_ptr<const CollectivePlan>> plans;  // simulated: what its jobs read
    std::int64_t running = 0;                                  // sealed: groups not ended yet
    std::unique_ptr<SharedNetwork> net;                        // null: an alone unit
    std::vector<std::int64_t> job_group;                       // simulated: job -> group
    std::vector<const NetworkFootprint*> job_footprint;        // simulated: job -> what it uses
    std::vector<topology::LinkId> links;      // the resources it holds (simulated: and some it held)
    std::vector<topology::VertexId> posters;
    std::size_t held_after_compaction = 0;
  };
  static constexpr std::int64_t kEveryFlowUnit = 0;  // without replay_alone: the one network of the step
  std::vector<Unit> units_;
  std::vector<std::int64_t> free_units_;
  std::vector<std::int64_t> unsealed_;   // alone units that started at this instant
  std::vector<std::int64_t> simulated_;  // live simulated units
  std::vector<std::int64_t> link_owner_;    // per link: the unit holding it, or -1
  std::vector<std::int64_t> poster_owner_;  // per device: the unit holding its posting clock, or -1
  std::vector<std::int32_t> link_refs_;     // per link held by a simulated unit: its jobs in flight using it
  std::vector<std::int32_t> poster_refs_;
  bool replaying_ = false;
  std::unordered_map<const CollectivePlan*,
                     std::pair<std::shared_ptr<const CollectivePlan>, NetworkFootprint>>
      footprints_;
  std::int64_t flows_ = 0;           // of the networks already freed
  std::int64_t network_events_ = 0;
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
