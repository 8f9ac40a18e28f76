// Pipeline step speed (issue 16 target): one step with pp = 8 of a 64-layer model on 256 GPUs
// (dgx-h100-32) <= 10 s wall. The model is llama3-70b cut to 64 of its 80 layers (a 64-layer
// dense decoder; no catalog model has exactly 64); layout dp=4,tp=8,pp=8 (tp inside a node, each
// stage 4 nodes), 32 micro-batches of one sequence of 8192 per replica (128 sequences, 2^20 tokens; one
// sequence per replica each), bucketed gradient sync (the GPU default), shared network.
// Napkin math: 32 micro-batches x 64 layers x ~40 ops forward and backward = ~80k ops, each on 32
// devices, plus 2 x 32 x 7 sends; the collectives are few distinct shapes (memoized).
//
// Usage: bench_pipeline [gpipe|1f1b|interleaved] [repeats] [shared|isolated] [micro-batches]: interleaved
// uses vpp=2; default 1f1b, 3 repeats, shared, 32. Prints the median wall seconds, min, the CPU seconds
// of the whole run, the step time and op count, and VmHWM.
// Known (bench/RESULTS.md): the shared network is ~30x slower here than isolated, because the stages'
// tensor-parallel all-reduces overlap in time, so few start on an idle network and can be timed from
// the memo; they use disjoint links, so the shared and isolated step times agree to 0.4%.

#include <algorithm>
#include <chrono>
#include <ctime>
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
  const workloads::NetworkModel network = workloads::parse_network_model(argc > 3 ? argv[3] : "shared");
  const std::int64_t micro_batches = argc > 4 ? std::max(1, std::atoi(argv[4])) : 32;
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
    o.training.micro_batches = micro_batches;
    o.training.batch_tokens = micro_batches * 4 * model.input_length;  // one sequence per replica and micro-batch
    o.network_model = network;
    o.training.optimizer = workloads::Optimizer::adam;
    o.training.grad_sync = workloads::default_grad_sync(false);
    o.training.pp_schedule = schedule;
    const auto t0 = std::chrono::steady_clock::now();
    last = workloads::simulate_step(model, mesh, layout, o, *cost);
    walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(walls.begin(), walls.end());
  const long kib = switchsim::bench::vm_hwm_kib();
  std::printf("pipeline %-11s %s %s %s m=%lld step_time_s=%.6g ops=%d memory_stage=%lld  wall median=%.3f s min=%.3f s "
              "(n=%d)  cpu=%.3f s  VmHWM=%.3f GiB\n",
              schedule_name.c_str(), mesh.name.c_str(), layout_text.c_str(), workloads::to_string(network),
              static_cast<long long>(micro_batches), last.step_time_s, last.ops,
              static_cast<long long>(last.memory_stage), walls[walls.size() / 2], walls.front(), repeats,
              static_cast<double>(std::clock()) / CLOCKS_PER_SEC,
              kib < 0 ? -1.0 : static_cast<double>(kib) / (1024.0 * 1024.0));
  return 0;
}
