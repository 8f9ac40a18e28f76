#pragma once
// Pipeline schedules (--pp-schedule): the order in which one pipeline stage runs the forward
// and backward passes of its micro-batches. The step builder (pipeline_step.cpp) emits each
// stage's ops in this order on the stage's compute stream; the waits between stages (the
// activation and gradient sends) are dependencies, so the bubble comes out of the simulation.
//
//   gpipe        all m forwards, then all m backwards (Huang et al. 2019, GPipe).
//   1f1b         PipeDream-Flush / Megatron's non-interleaved schedule (Narayanan et al. 2021,
//                "Efficient Large-Scale Language Model Training on GPU Clusters", section 2.2.1):
//                stage s runs w = min(pp - s - 1, m) warm-up forwards, then m - w times
//                (one forward, one backward), then the w remaining backwards. At most
//                w + 1 = pp - s micro-batches are in flight on stage s (pp on the first).
//   interleaved  Megatron's interleaved 1F1B (same paper, section 2.2.2; Megatron-LM
//                schedules.py, forward_backward_pipelining_with_interleaving): each device holds
//                vpp model chunks (chunk c of stage s is model chunk c x pp + s). With
//                m x vpp virtual micro-batches k = 0, 1, ...:
//                    forward k:  chunk (k / pp) mod vpp,          micro-batch (k / (pp vpp)) pp + k mod pp
//                    backward k: chunk vpp - 1 - (k / pp) mod vpp, the same micro-batch
//                warm-up forwards w = min((pp - s - 1) x 2 + (vpp - 1) x pp, m vpp), or all of
//                them when m = pp (Megatron: all_warmup_microbatches); then 1F1B over the rest.
//                Needs pp | m (Megatron's requirement).
// Textbook bubbles with equal stages and free communication (stage time t = t_f + t_b for one
// micro-batch over all of a device's layers): gpipe and 1f1b take (m + pp - 1) t, a bubble
// fraction (pp - 1) / (m + pp - 1); interleaved (m + (pp - 1) / vpp) t, (pp - 1) / (vpp m + pp - 1).

#include <cstdint>
#include <string>
#include <vector>

namespace switchsim::workloads {

enum class PipelineSchedule : std::uint8_t { gpipe, one_f_one_b, interleaved };

[[nodiscard]] const char* to_string(PipelineSchedule s);  // "gpipe", "1f1b", "interleaved"
// InputError(field) names the flag for anything else.
[[nodiscard]] PipelineSchedule parse_pipeline_schedule(const std::string& text,
                                                       const std::string& field = "--pp-schedule");

struct PipelineAction {
  bool backward = false;
  std::int64_t micro_batch = 0;
  std::int64_t chunk = 0;  // the device's model chunk (0 unless interleaved)
};

// The actions of stage `stage` (0-based) in order: every (micro-batch, chunk) once forward and once
// backward, each backward after its forward.
[[nodiscard]] std::vector<PipelineAction> stage_actions(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp,
                                                        std::int64_t micro_batches, std::int64_t stage);

// Model chunk of stage `stage`'s chunk `chunk`: chunk x pp + stage (data flows chunk j -> j + 1).
[[nodiscard]] inline std::int64_t model_chunk(std::int64_t pp, std::int64_t stage, std::int64_t chunk) {
  return chunk * pp + stage;
}

// One global order of every stage's actions for emitting the op graph (ops may depend only on
// earlier ops): each stage's actions keep their order, and an action comes after what it waits for
// on other stages -- forward (mb, model chunk j) after forward (mb, j - 1), backward (mb, j) after
// backward (mb, j + 1). Built round-robin over the stages (one ready action per stage per round),
// which keeps the order close to simulated time.
struct PipelineStep {
  std::int64_t stage = 0;
  PipelineAction action;
};
[[nodiscard]] std::vector<PipelineStep> pipeline_emission_order(PipelineSchedule schedule, std::int64_t pp,
                                                                std::int64_t vpp, std::int64_t micro_batches);

// Micro-batches (of the device's full layer set) whose activations stage `stage` holds at
// its peak, walking its actions: the most (forward done, backward not yet) pairs at any
// point, each counting 1 / vpp of a micro-batch (one chunk's share of the layers).
//   gpipe m; 1f1b min(pp - s, m); interleaved (Megatron / Korthikanti et al. 2022, eq. 5
//   for the first stage: pp x (1 + (pp - 1) / (pp vpp)) micro-batches' chunks' worth).
[[nodiscard]] double peak_in_flight(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp,
                                    std::int64_t micro_batches, std::int64_t stage);

// Checks the schedule against the layout's pp, vpp and the micro-batch count (InputError names the field):
//   --pp-schedule    gpipe or 1f1b with vpp > 1 (interleaved with vpp = 1 runs 1f1b's order)
//   --micro-batches  interleaved with vpp > 1 needs pp | m
void validate_pipeline_schedule(PipelineSchedule schedule, std::int64_t pp, std::int64_t vpp, std::int64_t micro_batches);

}  // namespace switchsim::workloads
