// Pipeline step speed (issue 16 target): one step with pp = 8 of a 64-layer model on 256 GPUs
// (dgx-h100-32) <= 10 s wall. The model is llama3-70b cut to 64 of its 80 layers (a 64-layer
// dense decoder; no catalog model has exactly 64); layout dp=4,tp=8,pp=8 (tp inside a node, each
// stage 4 nodes), the default batch (2^20 tokens = 128 sequences of 8192), 32 micro-batches (one
// sequence per replica each), bucketed gradient sync (the GPU default), shared network.
// Napkin math: 32 micro-batches x 64 layers x ~40 ops forward and backward = ~80k ops, each on 32
// devices, plus 2 x 32 x 7 sends; the collectives are few distinct shapes (memoized).
//
// Usage: bench_pipeline [gpipe|1f1b|interleaved] [repeats]: interleaved uses vpp=2. Prints the
// median wall seconds, min, the step time and op count, and VmHWM.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/support/process_stats.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;

int main(int argc, char** argv) {
  const std::string schedule_name = argc > 1 ? argv[1] : "1f1b";
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const workloads::PipelineSchedule schedule = workloads::parse_pipeline_schedule(schedule_name);
  workloads::Model model = workloads::load_model("llama3-70b");
  model.encoder_layers = 64;
  model.name = "llama3-70b-64-layers";
  const topology::Mesh mesh = topology::build_mesh("dgx-h100-32");
  const std::string layout_text =
      schedule == workloads::PipelineSchedule::interleaved ? "dp=4,tp=8,pp=8,vpp=2" : "dp=4,tp=8,pp=8";
  const workloads::Layout layout = workloads::parse_layout(layout_text);
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  std::vector<double> walls;
  workloads::StepResult last;
  for (int i = 0; i < repeats; ++i) {
    workloads::StepOptions o;
    o.training.micro_batches = 32;
    o.training.optimizer = workloads::Optimizer::adam;
    o.training.grad_sync = workloads::default_grad_sync(false);
    o.training.pp_schedule = schedule;
    const auto t0 = std::chrono::steady_clock::now();
    last = workloads::simulate_step(model, mesh, layout, o, *cost);
    walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(walls.begin(), walls.end());
  const long kib = switchsim::bench::vm_hwm_kib();
  std::printf("pipeline %-11s %s %s step_time_s=%.6g ops=%d memory_stage=%lld  wall median=%.3f s min=%.3f s (n=%d)  "
              "VmHWM=%.3f GiB\n",
              schedule_name.c_str(), mesh.name.c_str(), layout_text.c_str(), last.step_time_s, last.ops,
              static_cast<long long>(last.memory_stage), walls[walls.size() / 2], walls.front(), repeats,
              kib < 0 ? -1.0 : static_cast<double>(kib) / (1024.0 * 1024.0));
  return 0;
}
