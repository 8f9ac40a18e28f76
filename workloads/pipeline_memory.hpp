#pragma once
// Memory per device with pipeline parallelism (layout.pp > 1): each stage holds its own layers'
// parameters, gradients and optimizer state, and the activations of the micro-batches its
// schedule keeps in flight. The busiest stage is reported (StepResult::memory_stage).
//
// Per stage s holding pipeline layers [a, b) (layout.hpp: model chunks of consecutive layers;
// with vpp > 1 the union of its chunks), with E(n) = estimate_memory of the model cut to its
// first n pipeline layers (encoder layers first, then decoder layers; memory.hpp):
//   layers      E(b) - E(a), summed over the stage's chunks: parameters, gradients, optimizer
//               state and one micro-batch's activations of exactly those layers (the per-layer
//               terms of memory.hpp are sums over layers, so the difference is exact; with
//               --remat the largest-layer working set is counted as the increase of E's
//               maximum, an approximation)
//   ends        E(0) -- the embedding table, final norms, the logits of the LM head -- on the
//               first stage (embedding) and on the last (LM head and logits); with tied
//               embeddings both ends hold a copy, as Megatron does (engineering assumption:
//               the same for untied ones, whose input table and head are each counted once in E(0))
//   activations one micro-batch's (above) x the schedule's peak in flight on that stage
//               (pipeline_schedule.hpp, peak_in_flight: gpipe m, 1f1b min(pp - s, m),
//               interleaved Megatron's pp + (pp - 1) / vpp on the first stage).
//   ZeRO        E is evaluated at setup.zero_stage, so stages 1-3 divide the stage's own optimizer
//               state / gradients / parameters over its dp group (experts: its expert replicas);
//               stage 3 adds gathered_bytes = 2 x the stage's unsharded local parameter bytes (its
//               layers stay gathered and their gradients accumulate unsharded for the whole step,
//               as FSDP2 runs under a pipeline schedule; step_builder.cpp, emit_pipeline).

#include <cstdint>

#include "workloads/layout.hpp"
#include "workloads/memory.hpp"
#include "workloads/model.hpp"
#include "workloads/training.hpp"

namespace switchsim::workloads {

struct StageMemory {
  MemoryEstimate memory;  // of one device of the stage
  double in_flight = 1.0; // micro-batches of activations held at the peak
};

// One device of stage `stage`.
[[nodiscard]] StageMemory estimate_stage_memory(const Model& model, const Layout& layout, const TrainingSetup& setup,
                                                const StepShape& shape, double received_slots_encoder,
                                                double received_slots_decoder, double device_memory_bytes,
                                                std::int64_t stage);

// The busiest stage's device (the largest total), and which stage it is. With pp = 1: estimate_memory, stage 0.
struct PipelineMemory {
  MemoryEstimate memory;
  std::int64_t stage = 0;
};
[[nodiscard]] PipelineMemory estimate_pipeline_memory(const Model& model, const Layout& layout,
                                                      const TrainingSetup& setup, const StepShape& shape,
                                                      double received_slots_encoder, double received_slots_decoder,
                                                      double device_memory_bytes);

}  // namespace switchsim::workloads
