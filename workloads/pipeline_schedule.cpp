#include "workloads/pipeline_schedule.hpp"

#include <algorithm>

#include "common/errors.hpp"

namespace switchsim::workloads {

const char* to_string(PipelineSchedule s) {
  switch (s) {
    case PipelineSchedule::gpipe: return "gpipe";
    case PipelineSchedule::one_f_one_b: return "1f1b";
    case PipelineSchedule::interleaved: return "interleaved";
  }
  return "?";
}

PipelineSchedule parse_pipeline_schedule(const std::string& text, const std::string& field) {
  if (text == "gpipe") return PipelineSchedule::gpipe;
  if (text == "1f1b") return PipelineSchedule::one_f_one_b;
  if (text == "interleaved") return PipelineSchedule::interleaved;
  throw InputError(field, "unknown pipeline schedule '" + text + "' (gpipe, 1f1b, interleaved)");
}

std::vector<PipelineAction> stage_actions(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp,
                                          std::int64_t m, std::int64_t stage) {
  std::vector<PipelineAction> out;
  out.reserve(static_cast<std::size_t>(2 * m * vpp));
  if (schedule == PipelineSchedule::gpipe) {
    for (std::int64_t i = 0; i < m; ++i) out.push_back({false, i, 0});
    for (std::int64_t i = 0; i < m; ++i) out.push_back({true, i, 0});
    return out;
  }
  if (schedule == PipelineSchedule::one_f_one_b || vpp == 1) {
    const std::int64_t warmup = std::min(pp - stage - 1, m);
    for (std::int64_t i = 0; i < warmup; ++i) out.push_back({false, i, 0});
    for (std::int64_t i = 0; i < m - warmup; ++i) {
      out.push_back({false, warmup + i, 0});
      out.push_back({true, i, 0});
    }
    for (std::int64_t i = m - warmup; i < m; ++i) out.push_back({true, i, 0});
    return out;
  }
  // Interleaved (Megatron-LM schedules.py, forward_backward_pipelining_with_interleaving).
  const std::int64_t total = m * vpp;
  auto micro_batch = [&](std::int64_t k) { return (k / (pp * vpp)) * pp + k % pp; };
  auto fwd_chunk = [&](std::int64_t k) { return (k / pp) % vpp; };
  auto bwd_chunk = [&](std::int64_t k) { return vpp - 1 - (k / pp) % vpp; };
  std::int64_t warmup = m == pp ? total : std::min((pp - stage - 1) * 2 + (vpp - 1) * pp, total);
  for (std::int64_t k = 0; k < warmup; ++k) out.push_back({false, micro_batch(k), fwd_chunk(k)});
  for (std::int64_t i = 0; i < total - warmup; ++i) {
    const std::int64_t k = warmup + i;
    out.push_back({false, micro_batch(k), fwd_chunk(k)});
    out.push_back({true, micro_batch(i), bwd_chunk(i)});
  }
  for (std::int64_t k = total - warmup; k < total; ++k) out.push_back({true, micro_batch(k), bwd_chunk(k)});
  return out;
}

std::vector<PipelineStep> pipeline_emission_order(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp,
                                                  std::int64_t m) {
  const std::int64_t chunks = pp * vpp;
  std::vector<std::vector<PipelineAction>> lists;
  for (std::int64_t s = 0; s < pp; ++s) lists.push_back(stage_actions(schedule, pp, vpp, m, s));
  // done[mb * chunks + j]: bit 0 forward emitted, bit 1 backward emitted.
  std::vector<std::uint8_t> done(static_cast<std::size_t>(m * chunks), 0);
  std::vector<std::size_t> next(static_cast<std::size_t>(pp), 0);
  std::vector<PipelineStep> out;
  const std::size_t total = static_cast<std::size_t>(2 * m * chunks);
  out.reserve(total);
  while (out.size() < total) {
    bool progress = false;
    for (std::int64_t s = 0; s < pp; ++s) {
      auto& i = next[static_cast<std::size_t>(s)];
      const auto& list = lists[static_cast<std::size_t>(s)];
      if (i == list.size()) continue;
      const PipelineAction& a = list[i];
      const std::int64_t j = model_chunk(pp, s, a.chunk);
      const auto at = [&](std::int64_t chunk) { return static_cast<std::size_t>(a.micro_batch * chunks + chunk); };
      const bool ready = a.backward ? (j + 1 == chunks || (done[at(j + 1)] & 2U) != 0)
                                    : (j == 0 || (done[at(j - 1)] & 1U) != 0);
      if (!ready) continue;
      done[at(j)] |= a.backward ? 2U : 1U;
      out.push_back({s, a});
      ++i;
      progress = true;
    }
    SWITCHSIM_ASSERT(progress, "pipeline schedule deadlocks");
  }
  return out;
}

double peak_in_flight(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m, std::int64_t stage) {
  std::int64_t live = 0;
  std::int64_t peak = 0;
  for (const PipelineAction& a : stage_actions(schedule, pp, vpp, m, stage)) {
    live += a.backward ? -1 : 1;
    peak = std::max(peak, live);
  }
  return static_cast<double>(peak) / static_cast<double>(vpp);
}

void validate_pipeline_schedule(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t m) {
  if (vpp > 1 && schedule != PipelineSchedule::interleaved) {
    throw InputError("--pp-schedule", std::string(to_string(schedule)) + " has no virtual stages: vpp=" +
                                          std::to_string(vpp) + " needs --pp-schedule interleaved");
  }
  if (schedule == PipelineSchedule::interleaved && vpp > 1 && m % pp != 0) {
    throw InputError("--micro-batches", "the interleaved schedule needs pp=" + std::to_string(pp) +
                                            " to divide the micro-batches (got " + std::to_string(m) + ")");
  }
}

}  // namespace switchsim::workloads
