#include "workloads/pipeline_memory.hpp"

#include "workloads/pipeline_schedule.hpp"
#include "workloads/zero_sharding.hpp"

namespace switchsim::workloads {
namespace {

// The model cut to its first n pipeline layers (encoder first, then decoder).
Model prefix(const Model& m, std::int64_t n) {
  Model p = m;
  p.encoder_layers = std::min(n, m.encoder_layers);
  p.decoder_layers = std::max<std::int64_t>(0, n - m.encoder_layers);
  return p;
}

MemoryEstimate minus(MemoryEstimate a, const MemoryEstimate& b) {
  a.parameters_bytes -= b.parameters_bytes;
  a.gradients_bytes -= b.gradients_bytes;
  a.optimizer_bytes -= b.optimizer_bytes;
  a.activations_bytes -= b.activations_bytes;
  a.capacity_buffers_bytes -= b.capacity_buffers_bytes;
  a.routing_tensors_bytes -= b.routing_tensors_bytes;
  return a;
}

void add(MemoryEstimate& a, const MemoryEstimate& b) {
  a.parameters_bytes += b.parameters_bytes;
  a.gradients_bytes += b.gradients_bytes;
  a.optimizer_bytes += b.optimizer_bytes;
  a.activations_bytes += b.activations_bytes;
  a.capacity_buffers_bytes += b.capacity_buffers_bytes;
  a.routing_tensors_bytes += b.routing_tensors_bytes;
}

}  // namespace

StageMemory estimate_stage_memory(const Model& m, const Layout& layout, const TrainingSetup& setup,
                                  const StepShape& shape, double received_enc, double received_dec,
                                  double device_memory_bytes, std::int64_t stage) {
  auto E = [&](std::int64_t n) {
    return estimate_memory(prefix(m, n), layout, setup, shape, received_enc, received_dec, device_memory_bytes);
  };
  const std::int64_t L = pipeline_layers(m);
  const std::int64_t chunks = layout.pp * layout.vpp;
  StageMemory out;
  out.memory.device_memory_bytes = device_memory_bytes;
  for (std::int64_t c = 0; c < layout.vpp; ++c) {
    const std::int64_t j = model_chunk(layout.pp, stage, c);
    add(out.memory, minus(E(chunk_first_layer(L, chunks, j + 1)), E(chunk_first_layer(L, chunks, j))));
  }
  const MemoryEstimate ends = E(0);
  if (stage == 0 || stage + 1 == layout.pp) {
    MemoryEstimate static_part = ends;
    // The logits live on the last stage only.
    if (stage + 1 != layout.pp) static_part.activations_bytes = 0.0;
    add(out.memory, static_part);
  }
  // --zero 1 and 2 need nothing more: E shards each kind of the prefix models, so the difference is
  // the stage's shard (to within one element per kind and boundary: ceil(b/g) - ceil(a/g) against
  // ceil((b - a)/g)). --zero 3 with a pipeline keeps every layer of the stage gathered from its first
  // forward to its last backward and accumulates unsharded gradients until then (step_builder.cpp,
  // emit_pipeline: FSDP2 under torch.distributed.pipelining), so the transient is the stage's
  // whole local parameters plus as many gradient bytes (engineering assumption: gradients
  // accumulate in the parameters' dtype), not memory.hpp's two layers in flight.
  if (shards_parameters(setup.zero_stage)) {
    const ZeroGroups zg = zero_groups(m, layout);
    if (zg.dense > 1 || zg.expert > 1) {
      TrainingSetup unsharded = setup;
      unsharded.zero_stage = 0;
      const StageMemory full =
          estimate_stage_memory(m, layout, unsharded, shape, received_enc, received_dec, device_memory_bytes, stage);
      out.memory.gathered_bytes = 2.0 * full.memory.parameters_bytes;
    }
  }
  out.in_flight = peak_in_flight(setup.pp_schedule, layout.pp, layout.vpp, setup.micro_batches, stage);
  out.memory.activations_bytes *= out.in_flight;
  out.memory.capacity_buffers_bytes *= out.in_flight;
  out.memory.routing_tensors_bytes *= out.in_flight;
  return out;
}

PipelineMemory estimate_pipeline_memory(const Model& m, const Layout& layout, const TrainingSetup& setup,
                                        const StepShape& shape, double received_enc, double received_dec,
                                        double device_memory_bytes) {
  PipelineMemory out;
  if (layout.pp == 1) {
    out.memory = estimate_memory(m, layout, setup, shape, received_enc, received_dec, device_memory_bytes);
    return out;
  }
  for (std::int64_t s = 0; s < layout.pp; ++s) {
    const StageMemory sm = estimate_stage_memory(m, layout, setup, shape, received_enc, received_dec, device_memory_bytes, s);
    if (s == 0 || sm.memory.total_bytes() > out.memory.total_bytes()) {
      out.memory = sm.memory;
      out.stage = s;
    }
  }
  return out;
}

}  // namespace switchsim::workloads
