#include "planner/candidates.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "workloads/zero_sharding.hpp"

namespace switchsim::planner {
namespace {

using workloads::Axis;
using workloads::ExecutionMode;
using workloads::Layout;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

const char* axis_name(Axis a) { return a == Axis::mp ? "mp" : a == Axis::ep ? "ep" : "rep"; }

std::int64_t axis_size(const Layout& l, Axis a) {
  return a == Axis::mp ? l.mp : a == Axis::ep ? l.ep : l.replicas();
}

std::string format_factor(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", f);
  return buf;
}

std::string memory_reason(const workloads::MemoryEstimate& m, double limit_bytes, double headroom,
                          const std::string& device_kind, std::int64_t micro_batches, bool static_only) {
  char buf[512];
  if (static_only) {
    std::snprintf(buf, sizeof buf,
                  "parameters, gradients and optimizer state alone need %.2f GiB per device (parameters %.2f, "
                  "gradients %.2f, optimizer %.2f) but the limit is %.2f GiB (%.2f x %.2f GiB %s)",
                  (m.parameters_bytes + m.gradients_bytes + m.optimizer_bytes) / kGiB, m.parameters_bytes / kGiB,
                  m.gradients_bytes / kGiB, m.optimizer_bytes / kGiB, limit_bytes / kGiB, headroom,
                  m.device_memory_bytes / kGiB, device_kind.c_str());
  } else {
    std::snprintf(buf, sizeof buf,
                  "needs %.2f GiB per device with %lld micro-batch(es) (parameters %.2f, gradients %.2f, optimizer "
                  "%.2f, activations %.2f of which capacity buffers %.2f) but the limit is %.2f GiB (%.2f x %.2f GiB "
                  "%s)",
                  m.total_bytes() / kGiB, static_cast<long long>(micro_batches), m.parameters_bytes / kGiB,
                  m.gradients_bytes / kGiB, m.optimizer_bytes / kGiB, m.activations_bytes / kGiB,
                  m.capacity_buffers_bytes / kGiB, limit_bytes / kGiB, headroom, m.device_memory_bytes / kGiB,
                  device_kind.c_str());
  }
  return buf;
}

}  // namespace

std::string Candidate::mapping() const {
  return std::string(axis_name(layout.order[0])) + "." + axis_name(layout.order[1]) + "." + axis_name(layout.order[2]);
}

std::string Candidate::label() const {
  std::string s = layout.to_string();
  s += mode == ExecutionMode::dropless ? " dropless" : " cf=" + format_factor(capacity_factor) + " capacity";
  s += " mb=" + std::to_string(micro_batches);
  if (zero > 0) s += " zero=" + std::to_string(zero);
  if (layout.pp > 1) s += std::string(" ") + workloads::to_string(schedule);
  return s;
}

std::int32_t parse_zero_search(const std::string& text, const std::string& field) {
  if (text == "auto") return kZeroLowest;
  if (text == "all") return kZeroEvery;
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '3') return text[0] - '0';
  throw InputError(field,
                   "must be 'auto' (the lowest ZeRO stage that fits), 'all' (every stage that fits) or 0, 1, 2, "
                   "3 (got '" +
                       text + "')");
}

std::string zero_search_to_string(std::int32_t zero) {
  return zero == kZeroLowest ? "auto" : zero == kZeroEvery ? "all" : std::to_string(zero);
}

std::vector<Layout> enumerate_layouts(const workloads::Model& model, std::int64_t devices) {
  std::vector<Layout> out;
  for (std::int64_t mp = 1; mp <= devices; ++mp) {
    if (devices % mp != 0 || model.heads % mp != 0 || model.d_ff % mp != 0) continue;
    if (model.expert_width() % mp != 0 || model.kv_head_count() % mp != 0) continue;  // layout.cpp's checks
    const std::int64_t dp = devices / mp;
    const std::int64_t max_ep = model.is_moe() ? std::min(dp, model.experts) : 1;
    for (std::int64_t ep = 1; ep <= max_ep; ++ep) {
      if (dp % ep != 0 || (model.is_moe() && model.experts % ep != 0)) continue;
      Layout l;
      l.dp = dp;
      l.ep = ep;
      l.mp = mp;
      out.push_back(l);
    }
  }
  return out;
}

std::int64_t parse_etp_search(const std::string& text, const std::string& field) {
  return parse_count_search(text, field, "'auto' (etp = 1 folded layouts on GPU meshes), 'all' or a positive degree");
}

std::string etp_search_to_string(std::int64_t etp) { return count_search_to_string(etp); }

std::vector<Layout> enumerate_expert_layouts(const workloads::Model& model, std::int64_t devices, std::int64_t etp_search,
                                             bool gpu_mesh) {
  const std::vector<Layout> unfolded = enumerate_layouts(model, devices);
  if (!model.is_moe()) return unfolded;
  std::vector<Layout> out;
  // The folded layouts of tp degree mp (candidates.hpp): etp | mp below mp, ep x etp | mp x dp.
  auto add_folded = [&](std::int64_t mp) {
    const std::int64_t dp = devices / mp;
    for (std::int64_t etp = 1; etp < mp; ++etp) {
      if (mp % etp != 0 || model.expert_width() % etp != 0) continue;
      const bool wanted = etp_search == kEtpEvery || etp_search == etp || (etp_search == kEtpAuto && gpu_mesh && etp == 1);
      if (!wanted) continue;
      for (std::int64_t ep = 1; ep <= model.experts; ++ep) {
        if (model.experts % ep != 0 || devices % (ep * etp) != 0) continue;
        Layout l;
        l.dp = dp;
        l.ep = ep;
        l.mp = mp;
        l.etp = etp;
        out.push_back(l);
      }
    }
  };
  for (std::size_t i = 0; i < unfolded.size(); ++i) {
    const Layout& l = unfolded[i];
    if (etp_search <= 0 || l.mp == etp_search) out.push_back(l);
    const bool last_of_mp = i + 1 == unfolded.size() || unfolded[i + 1].mp != l.mp;
    if (last_of_mp && l.mp > 1) add_folded(l.mp);
  }
  return out;
}

std::vector<Layout> enumerate_mappings(const Layout& layout) {
  if (layout.folded()) return {layout};  // device ids do not depend on the order (layout.hpp)
  // The default order first, then the other permutations in a fixed order.
  static constexpr std::array<std::array<Axis, 3>, 6> kOrders{{
      {Axis::mp, Axis::ep, Axis::rep},
      {Axis::mp, Axis::rep, Axis::ep},
      {Axis::ep, Axis::mp, Axis::rep},
      {Axis::ep, Axis::rep, Axis::mp},
      {Axis::rep, Axis::mp, Axis::ep},
      {Axis::rep, Axis::ep, Axis::mp},
  }};
  std::vector<Layout> out;
  std::vector<std::vector<Axis>> seen;
  for (const auto& order : kOrders) {
    std::vector<Axis> reduced;
    for (Axis a : order)
      if (axis_size(layout, a) > 1) reduced.push_back(a);
    if (std::find(seen.begin(), seen.end(), reduced) != seen.end()) continue;
    seen.push_back(reduced);
    Layout l = layout;
    l.order = order;
    out.push_back(l);
  }
  return out;
}

workloads::TrainingSetup candidate_setup(const workloads::TrainingSetup& options, const Candidate& c) {
  workloads::TrainingSetup setup = options;
  setup.micro_batches = c.micro_batches;
  setup.moe_impl = c.moe_impl;
  setup.zero_stage = c.zero;
  setup.pp_schedule = c.schedule;
  return setup;
}

Enumeration enumerate_candidates(const workloads::Model& model, const topology::Mesh& mesh,
                                 const EnumerationOptions& options) {
  if (options.factors.empty() && !options.dropless) throw InputError("--factors", "needs at least one capacity factor");
  if (!(options.memory_headroom > 0.0) || options.memory_headroom > 1.0) {
    throw InputError("--memory-headroom", "must be in (0, 1]");
  }
  if (options.max_micro_batches < 1) throw InputError("--max-micro-batches", "must be positive");
  if (!is_count_search(options.pp)) throw InputError("--pp", "must be 'auto', 'all' or a positive stage count");
  if (options.pp_schedule < kScheduleEvery || options.pp_schedule > static_cast<std::int32_t>(workloads::PipelineSchedule::interleaved)) {
    throw InputError("--pp-schedule", "must be auto, all, gpipe, 1f1b or interleaved");
  }
  const std::int64_t devices = mesh.topology.num_devices();
  const double device_memory = topology::device_spec(mesh.device_kind).memory_bytes;
  const double limit = options.memory_headroom * device_memory;

  struct Mode {
    ExecutionMode mode;
    double factor;
    workloads::MoeImpl impl;
  };
  const workloads::MoeImpl asked = options.training.moe_impl;
  const bool tpu = mesh.is_tpu();
  std::vector<Mode> modes;
  if (model.is_moe()) {
    for (double f : options.factors) {
      modes.push_back({ExecutionMode::capacity, f, workloads::resolve_moe_impl(asked, tpu, false)});
    }
    // einsum and gather need a capacity: an explicit one skips the dropless mode (moe_impl.hpp).
    const bool dropless_runs = asked != workloads::MoeImpl::einsum && asked != workloads::MoeImpl::gather;
    if (options.dropless && dropless_runs) {
      modes.push_back({ExecutionMode::dropless, 0.0, workloads::resolve_moe_impl(asked, tpu, true)});
    }
    if (modes.empty()) {
      throw InputError("--moe-impl", std::string(workloads::to_string(asked)) +
                                         " needs a capacity factor (it has no dropless mode) and --factors is empty");
    }
  } else {
    // No Switch layers: the factor and the implementation change nothing.
    modes.push_back({ExecutionMode::capacity, 1.0, workloads::resolve_moe_impl(asked, tpu, false)});
  }

  Enumeration out;
  auto candidate = [](const Layout& layout, const Mode& md, const workloads::MicroBatchPlan& plan,
                      std::int32_t zero) {
    Candidate c;
    c.layout = layout;
    c.capacity_factor = md.factor;
    c.mode = md.mode;
    c.moe_impl = md.impl;
    c.micro_batches = plan.micro_batches;
    c.zero = zero;
    c.memory = plan.memory;
    return c;
  };
  // ZeRO stages to try for `layout` (see candidates.hpp; above 0 only where some kind has
  // replicas), in order: `plan(stage)` gives the micro-batch plans that fit and the one that
  // failed; `add(fitting, stage)` makes candidates of those that fit. When no stage fits, `rej`
  // is recorded with what the last stage tried failed on (`where` prefixes a memory reason).
  auto try_zero_stages = [&](const Layout& layout, Rejection rej, const std::string& where, auto&& plan,
                             auto&& add) {
    const workloads::ZeroGroups zg = workloads::zero_groups(model, layout);
    const std::int32_t top_stage = zg.dense > 1 || zg.expert > 1 ? workloads::kMaxZeroStage : 0;
    const std::int32_t first = options.zero >= 0 ? options.zero : 0;
    const std::int32_t last = options.zero >= 0 ? options.zero : top_stage;
    bool accepted = false;
    for (std::int32_t stage = first; stage <= last; ++stage) {
      const PipelinePlans plans = plan(stage);
      if (!plans.fitting.empty()) {
        accepted = true;
        add(plans.fitting, stage);
        if (options.zero != kZeroEvery) break;
        continue;
      }
      if (accepted) continue;  // kZeroEvery: a higher stage always fits once a lower one does
      const workloads::MicroBatchPlan& f = plans.failed;
      rej.zero = stage;
      rej.micro_batches = f.micro_batches;
      if (f.outcome == workloads::MicroBatchPlan::Outcome::divisibility) {
        rej.reason = f.divisibility_error;
        rej.reason_kind = "divisibility";
        break;  // no stage changes how the batch splits
      }
      const bool static_only = f.outcome == workloads::MicroBatchPlan::Outcome::static_too_large;
      rej.memory_per_device_bytes = f.memory.total_bytes();
      rej.reason = where + memory_reason(f.memory, limit, options.memory_headroom, mesh.device_kind,
                                         f.micro_batches, static_only);
      if (stage > 0) rej.reason = "with --zero " + std::to_string(stage) + ": " + rej.reason;
      rej.reason_kind = static_only ? "memory" : "activation_memory";
    }
    if (!accepted) {
      SWITCHSIM_ASSERT(!rej.reason.empty(), "a rejected candidate has a reason");
      out.rejected.push_back(std::move(rej));
    }
  };

  if (!is_count_search(options.etp)) throw InputError("--etp", "must be 'auto', 'all' or a positive degree");
  const bool gpu = !mesh.is_tpu();
  const bool without_pipelines = options.pp == kPpAuto || options.pp == kPpEvery || options.pp == 1;
  const std::vector<Layout> layouts =
      without_pipelines ? enumerate_expert_layouts(model, devices, options.etp, gpu) : std::vector<Layout>{};
  out.layouts = static_cast<std::int64_t>(layouts.size());
  for (const Layout& base : layouts) {
    const std::vector<Layout> mappings = enumerate_mappings(base);
    out.mappings += static_cast<std::int64_t>(mappings.size());
    for (const Mode& md : modes) {
      Rejection rej;
      rej.layout = base;
      rej.capacity_factor = md.factor;
      rej.mode = md.mode;
      rej.memory_limit_bytes = limit;
      try_zero_stages(
          base, rej, "",
          [&](std::int32_t stage) {
            workloads::TrainingSetup setup = options.training;
            setup.moe_impl = md.impl;
            setup.zero_stage = stage;
            const workloads::MicroBatchPlan plan = workloads::plan_micro_batches(
                model, base, setup, md.mode, md.factor, device_memory, options.memory_headroom,
                options.max_micro_batches);
            PipelinePlans plans;
            if (plan.fits()) {
              plans.fitting.push_back(plan);
            } else {
              plans.failed = plan;
            }
            return plans;
          },
          [&](const std::vector<workloads::MicroBatchPlan>& fitting, std::int32_t stage) {
            for (const Layout& mapped : mappings) out.candidates.push_back(candidate(mapped, md, fitting.front(), stage));
          });
    }
  }
  // --etp N that no layout can run (etp | tp, tp | the heads, K/V heads and d_ff, etp | the expert
  // width): say so rather than report that nothing fits.
  auto check_etp_found = [&] {
    if (options.etp > 0 && model.is_moe() && out.layouts == 0) {
      throw InputError("--etp", "no layout of " + model.name + " on " + mesh.name + " runs its experts at etp=" +
                                    std::to_string(options.etp) + " (etp divides tp, which divides the " +
                                    std::to_string(model.heads) + " heads, and etp divides the expert width " +
                                    std::to_string(model.expert_width()) + ")");
    }
  };
  // Pipelines (pipeline_search.hpp): after every pp = 1 candidate.
  out.pipelines = options.pp == kPpEvery || options.pp > 1 ||
                  (options.pp == kPpAuto && (pipelines_by_default(mesh) || out.candidates.empty()));
  if (!out.pipelines) {
    check_etp_found();
    return out;
  }
  const std::int64_t layers = workloads::pipeline_layers(model);
  std::vector<std::int64_t> depths = options.pp > 1 ? std::vector<std::int64_t>{options.pp} : pipeline_depths(model, devices);
  for (const std::int64_t pp : depths) {
    if (devices % pp != 0 || pp > layers) {
      Rejection rej;
      rej.layout.dp = 0;  // no layout has these stages
      rej.layout.pp = pp;
      rej.memory_limit_bytes = limit;
      rej.reason = devices % pp != 0 ? "pp=" + std::to_string(pp) + " does not divide the " + std::to_string(devices) +
                                           " devices of " + mesh.name
                                     : "pp=" + std::to_string(pp) + " is more stages than the " + std::to_string(layers) +
                                           " layers of " + model.name;
      rej.reason_kind = "divisibility";
      out.rejected.push_back(std::move(rej));
      continue;
    }
    std::string no_variant;
    const std::vector<PipelineVariant> variants = pipeline_variants(model, pp, options.pp_schedule, no_variant);
    for (Layout base : enumerate_expert_layouts(model, devices / pp, options.etp, gpu)) {
      base.pp = pp;
      const std::vector<Layout> mappings = enumerate_mappings(base);
      ++out.layouts;
      out.mappings += static_cast<std::int64_t>(mappings.size());
      Rejection rej;
      rej.layout = base;
      rej.memory_limit_bytes = limit;
      if (variants.empty()) {
        rej.schedule = workloads::PipelineSchedule::interleaved;
        rej.reason = no_variant;
        rej.reason_kind = "divisibility";
        out.rejected.push_back(std::move(rej));
        continue;
      }
      for (const Mode& md : modes) {
        for (const PipelineVariant& var : variants) {
          Layout layout = base;
          layout.vpp = var.vpp;
          Rejection r = rej;
          r.layout = layout;
          r.capacity_factor = md.factor;
          r.mode = md.mode;
          r.schedule = var.schedule;
          // ZeRO stages as for pp = 1: each pipeline stage shards over its own data-parallel groups.
          try_zero_stages(
              layout, r, std::string(workloads::to_string(var.schedule)) + ", busiest pipeline stage: ",
              [&](std::int32_t stage) {
                workloads::TrainingSetup setup = options.training;
                setup.moe_impl = md.impl;
                setup.zero_stage = stage;
                setup.pp_schedule = var.schedule;
                return plan_pipeline_micro_batches(model, layout, setup, md.mode, md.factor, device_memory,
                                                   options.memory_headroom, options.max_micro_batches);
              },
              [&](const std::vector<workloads::MicroBatchPlan>& fitting, std::int32_t stage) {
                for (Layout mapped : mappings) {
                  mapped.vpp = var.vpp;
                  for (const workloads::MicroBatchPlan& plan : fitting) {
                    Candidate c = candidate(mapped, md, plan, stage);
                    c.schedule = var.schedule;
                    out.candidates.push_back(c);
                  }
                }
              });
        }
      }
    }
  }
  check_etp_found();
  return out;
}

}  // namespace switchsim::planner
