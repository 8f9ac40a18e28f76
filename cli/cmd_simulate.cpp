// `switchsim simulate --model M --mesh M --layout L --capacity-factor F [--routing R]
//  [--mode capacity|dropless] [--max-nodes-per-token M] [--max-devices-per-token M] [--dispatch auto|direct|per-node]
//  [--moe-impl auto|einsum|gather|grouped] [--batch-tokens N] [--micro-batches N]
//  [--group-tokens N]
//  [--precision bf16|fp32|fp8] [--fp8-dispatch] [--optimizer adafactor|adam] [--remat] [--seed S] [--profile P]
//  [--network-tolerance EPS] [--load-model-above N] [--network-model shared|isolated]
//  [--grad-sync auto|fused|bucketed[:BYTES]] [--comm-priority none|all-to-all] [--zero 0|1|2|3]
//  [--pp-schedule gpipe|1f1b|interleaved]
//  [--progress | --no-progress] [--json] [--out F] [--trace FILE [--trace-devices N] [--trace-all-devices]]`:
// one simulated training step (workloads/simulate.hpp). Progress (cli/progress.hpp):
// a step longer than a few seconds prints its ops done and simulated time on stderr.

#include <memory>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "common/errors.hpp"
#include "common/resource_limits.hpp"
#include "sim/chrome_trace.hpp"
#include "workloads/resource_estimate.hpp"
#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

namespace switchsim::cli {
namespace {

struct Options {
  workloads::StepRequest request;
  std::string trace;
  std::int32_t trace_devices = 64;
  bool trace_all_devices = false;
  bool force = false;
  ProgressFlags progress;
  OutputOptions output;
};

}  // namespace

void add_step_request_flags(CLI::App& app, workloads::StepRequest& q) {
  app.add_option("--model", q.model, "Model name (switchsim list models) or JSON file")->required();
  app.add_option("--mesh", q.mesh, "Mesh name (switchsim list meshes) or JSON file")->required();
  app.add_option("--layout", q.layout,
                 "dp=N,ep=N,mp=N[,etp=N][,pp=N][,vpp=N][,order=mp.ep.rep[.pp]] (tp is another name for mp; devices = "
                 "dp x mp x pp, stages outermost; etp: the expert layers' tensor-parallel degree, default tp; etp < tp "
                 "folds the expert grid (etp, ep, edp) over a stage's tp x dp devices, ep x etp | tp x dp; default: "
                 "dp = devices, largest ep)");
  app.add_option("--routing", q.routing, "uniform | zipf:S | dirichlet:ALPHA | trace:FILE");
  app.add_option("--mode", q.mode, "capacity (padded, default) | dropless");
  app.add_option("--max-nodes-per-token", q.max_nodes_per_token,
                 "Node-limited routing (DeepSeek-V3): a token's experts on at most M nodes of a GPU cluster, chosen "
                 "by the sum of their highest ceil(top_k/M) affinities (default: no limit)");
  app.add_option("--max-devices-per-token", q.max_devices_per_token,
                 "Device-limited routing (DeepSeek-V2): a token's experts on at most M expert-parallel devices "
                 "(default: no limit)");
  app.add_option("--dispatch", q.dispatch,
                 "auto (default: per-node with --max-nodes-per-token and grouped loads, else direct) | direct (one "
                 "copy per assignment to the expert's device) | per-node (DeepEP: one scale-out copy per destination "
                 "node, forwarded over NVLink; needs --moe-impl grouped or --mode dropless)");
  app.add_option("--batch-tokens", q.batch_tokens, "Tokens per global batch: encoder tokens for t5-family models, all tokens for decoder models (default 1048576)");
  app.add_option("--micro-batches", q.micro_batches,
                 "Micro-batches per step (default: the smallest of 1, 2, 4, ... whose memory fits 90% of the device, "
                 "as recommend chooses; with pp > 1: of pp, 2 pp, 4 pp, ..., for the busiest stage's device)");
  app.add_option("--moe-impl", q.moe_impl,
                 "MoE layer as frameworks run it: auto (default: einsum on TPU meshes, gather on GPU meshes in "
                 "capacity mode, grouped when dropless) | einsum (Mesh-TF/GShard one-hot dispatch and combine "
                 "einsums; capacity mode only) | gather (Tutel/Megatron-Core padded index permutation; capacity "
                 "mode only) | grouped (MegaBlocks/Megatron grouped GEMM over the routed loads)");
  app.add_option("--group-tokens", q.group_tokens,
                 "Routing group size in tokens, dividing the local tokens per device (default: einsum groups of at "
                 "most 1024 tokens as Mesh-TF splits them; gather and grouped the local tokens per device)");
  app.add_option("--precision", q.precision,
                 "bf16 (fp32 router, default) | fp32 | fp8 (linear layers' products in FP8 at the device's fp8 "
                 "peak, DeepSeek-V3's recipe; refused on a device without FP8)");
  app.add_flag("--fp8-dispatch", q.fp8_dispatch,
               "With --precision fp8: the dispatch all-to-all in FP8 (1 byte per element), the combine in bf16");
  app.add_option("--optimizer", q.optimizer, "adafactor (default) | adam");
  app.add_flag("--remat", q.rematerialize, "Rematerialize activations in the backward pass");
  app.add_option("--seed", q.seed, "Routing seed (default 0)");
  app.add_option("--profile", q.profile, "Calibration profile (default: the shape-aware model of the mesh's device, docs/kernels.md; required on cpu-1)");
  app.add_option("--network-tolerance", q.network_tolerance,
                 "Completion window of the flow-level network (default 0 = exact; recommend uses 0.01)");
  app.add_option("--load-model-above", q.load_model_above,
                 "Direct all-to-alls over more devices than this use the per-link load model (default 0 = never; "
                 "recommend uses 64)");
  app.add_option("--network-model", q.network_model,
                 "shared (default: one network for the whole step, collectives contend) | isolated (each collective "
                 "alone: faster, optimistic)");
  app.add_option("--grad-sync", q.grad_sync,
                 "auto (default: fused on TPU meshes, bucketed:25MiB on a second stream on GPU meshes) | fused | "
                 "bucketed[:BYTES]");
  app.add_option("--comm-priority", q.comm_priority,
                 "none (default: max-min) | all-to-all (strict priority over other traffic on shared links)");
  app.add_option(
      "--zero", q.zero,
      "ZeRO stage: 0 (default: nothing sharded) | 1 (optimizer state) | 2 (+ gradients) | 3 (+ parameters, "
      "FSDP-style per-layer gathers), over each parameter's data-parallel group (dense: dp; experts: dp/ep); "
      "with pp > 1 per stage, over the stage's groups");
  app.add_option("--pp-schedule", q.pp_schedule,
                 "Pipeline schedule when the layout has pp > 1: gpipe | 1f1b | interleaved (needs vpp, pp | "
                 "micro-batches) (default: interleaved when vpp > 1, else 1f1b)");
}

namespace {

CommandAction add_simulate_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  app.description("Simulate one training step: time, breakdown, tokens/s, drop fraction, memory");
  add_step_request_flags(app, opt->request);
  app.add_option("--capacity-factor", opt->request.capacity_factor, "Capacity factor (default 1.0)");
  app.add_option("--trace", opt->trace,
                 "Write a Perfetto trace: compute and communication tracks per device, each slice's args (op, kind, "
                 "bytes, FLOPs, group and members); devices with identical timelines written once, named "
                 "\"devices 0-31 (identical timelines)\"");
  app.add_option("--trace-devices", opt->trace_devices, "Devices in the trace: the first N (default 64)");
  app.add_flag("--trace-all-devices", opt->trace_all_devices,
               "With --trace: one process per device even when timelines are identical");
  app.add_flag("--force", opt->force, "Run even when the step's size estimate exceeds this machine's limits");
  add_progress_flags(app, opt->progress);
  add_output_flags(app, opt->output);
  return [opt]() -> int {
    if (opt->trace_devices <= 0) throw InputError("--trace-devices", "must be positive");
    if (opt->trace_all_devices && opt->trace.empty()) throw InputError("--trace-all-devices", "needs --trace FILE");
    const bool progress = progress_wanted(opt->progress);
    workloads::ResolvedStep step = workloads::resolve_step_request(opt->request);
    check_resources("--mesh", workloads::estimate_step_resources(step.model, step.layout, step.options), opt->force);
    ProgressLine line("simulate");
    if (progress) {
      step.options.progress = line.step_callback();
      step.options.network.progress = line.network_callback();
    }
    step.options.traffic = true;  // traffic_matrix in the JSON (<= 256 devices)
    sim::TraceWriter trace;
    if (!opt->trace.empty()) {
      step.options.trace = &trace;
      step.options.trace_max_devices = opt->trace_devices;
      step.options.trace_all_devices = opt->trace_all_devices;
    }
    const workloads::StepResult r = workloads::simulate_step(step.model, *step.mesh, step.layout, step.options, *step.cost);
    line.end();
    if (!opt->trace.empty()) trace.write(opt->trace);
    emit(opt->output, with_command("simulate", workloads::to_json(r)), workloads::to_text(r));
    return 0;
  };
}

const bool registered = register_command({"simulate", 40, &add_simulate_command});

}  // namespace
}  // namespace switchsim::cli
