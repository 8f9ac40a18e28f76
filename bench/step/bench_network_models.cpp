// Error and speed of the step's network approximations against the shared exact simulation
// (issue 14, item 5): for steps with several expert-parallel groups whose all-to-alls run at the
// same time, on 32, 128 and 512 devices,
//   shared exact          one network for the whole step, exact fluid model (the reference)
//   shared + load model   direct all-to-alls over more than ep - 1 devices priced by the
//                         contention-aware per-link load model (sum over the op's groups)
//   isolated              each collective timed alone (no contention between collectives)
//   isolated + load model the same, each group's load alone
// Prints one line per case: step times, relative errors against the reference, wall seconds.
//
// Usage: bench_network_models [32|128|512|all]

#include <chrono>
#include <cstdio>
#include <string>

#include "sim/step_executor.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/routing.hpp"
#include "workloads/simulate.hpp"

using namespace switchsim;

namespace {

struct Timed {
  double step_s = 0.0;
  double wall_s = 0.0;
};

Timed run(const workloads::Model& model, const topology::Mesh& mesh, const workloads::Layout& layout,
          workloads::NetworkModel net, std::int32_t load_model_above, std::int64_t micro_batches, bool dropless) {
  sim::NetworkOptions network;
  network.load_model_above_devices = load_model_above;
  sim::CollectiveCache cache(mesh, network);
  workloads::StepOptions o;
  o.cache = &cache;
  o.network_model = net;
  o.training.micro_batches = micro_batches;
  if (dropless) {  // uneven expert loads: non-uniform all-to-all matrices
    o.mode = workloads::ExecutionMode::dropless;
    o.routing = workloads::parse_routing("zipf:1.2");
  }
  const auto cost = workloads::make_cost_model(mesh.device_kind, "");
  const auto t0 = std::chrono::steady_clock::now();
  const workloads::StepResult r = workloads::simulate_step(model, mesh, layout, o, *cost);
  return {r.step_time_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

void compare(const char* mesh_name, const char* layout_text, std::int64_t micro_batches, bool dropless = false) {
  const workloads::Model model = workloads::load_model("switch-base");
  const topology::Mesh mesh = topology::build_mesh(mesh_name);
  const workloads::Layout layout = workloads::parse_layout(layout_text);
  const auto below_ep = static_cast<std::int32_t>(layout.ep - 1);
  const Timed exact = run(model, mesh, layout, workloads::NetworkModel::shared, 0, micro_batches, dropless);
  const Timed load = run(model, mesh, layout, workloads::NetworkModel::shared, below_ep, micro_batches, dropless);
  const Timed iso = run(model, mesh, layout, workloads::NetworkModel::isolated, 0, micro_batches, dropless);
  const Timed iso_load = run(model, mesh, layout, workloads::NetworkModel::isolated, below_ep, micro_batches, dropless);
  auto err = [&](const Timed& t) { return 100.0 * (t.step_s / exact.step_s - 1.0); };
  std::printf("%-12s %-16s %s mb=%lld  shared exact %.6f s (%.2f s wall) | shared+load model %+.2f%% (%.2f s) | "
              "isolated %+.2f%% (%.2f s) | isolated+load model %+.2f%% (%.2f s)\n",
              mesh_name, layout_text, dropless ? "dropless zipf:1.2" : "capacity", static_cast<long long>(micro_batches), exact.step_s, exact.wall_s, err(load),
              load.wall_s, err(iso), iso.wall_s, err(iso_load), iso_load.wall_s);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "all";
  // Contiguous expert groups (the default order) and interleaved ones (order=mp.rep.ep: the
  // replicas innermost, so every expert group spans the mesh and their all-to-alls share links).
  if (which == "32" || which == "all") {
    compare("tpuv3-4x4", "dp=32,ep=8", 4);
    compare("tpuv3-4x4", "dp=32,ep=8,order=mp.rep.ep", 4);
    compare("dgx-h100-4", "dp=32,ep=8", 4);
    compare("dgx-h100-4", "dp=32,ep=8,order=mp.rep.ep", 4);
    compare("tpuv3-4x4", "dp=32,ep=8,order=mp.rep.ep", 4, true);
    compare("dgx-h100-4", "dp=32,ep=8,order=mp.rep.ep", 4, true);
  }
  if (which == "128" || which == "all") {
    compare("tpuv3-8x8", "dp=128,ep=32", 2);
    compare("tpuv3-8x8", "dp=128,ep=32,order=mp.rep.ep", 2);
    compare("tpuv3-8x8", "dp=128,ep=32,order=mp.rep.ep", 2, true);
  }
  if (which == "512" || which == "all") {
    compare("tpuv3-16x16", "dp=512,ep=128", 1);
    compare("tpuv3-16x16", "dp=512,ep=128,order=mp.rep.ep", 1);
    compare("tpuv3-16x16", "dp=512,ep=128,order=mp.rep.ep", 1, true);
  }
  return 0;
}
