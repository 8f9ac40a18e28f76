// `switchsim recommend [--model M] [--mesh M] [--top K] [--objective throughput|effective-throughput|memory]
//  [--max-drop F] [--factors 1.0,1.25,...] [--no-dropless] [--samples N] [--seed S] [--routing R]
//  [--memory-headroom F] [--max-micro-batches N] [--batch-tokens N] [--group-tokens N]
//  [--moe-impl auto|einsum|gather|grouped] [--precision P] [--fp8-dispatch]
//  [--optimizer O] [--remat] [--profile P] [--threads N] [--exhaustive] [--force] [--network-tolerance EPS] [--load-model-above N]
//  [--network-model shared|isolated] [--rerank N] [--grad-sync auto|fused|bucketed[:BYTES]] [--comm-priority none|all-to-all] [--pp auto|all|N] [--pp-schedule auto|all|gpipe|1f1b|interleaved]
//  [--zero auto|all|0|1|2|3] [--etp auto|all|N] [--progress | --no-progress] [--json] [--out F] [--out-dir D]`:
// the best layouts and capacity factors for a model on a mesh (planner/recommend.hpp).
// Defaults: Switch-Base on tpuv3-4x4 (the paper's 32 TPU v3 cores).

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "common/resource_limits.hpp"
#include "planner/recommend.hpp"
#include "planner/recommend_output.hpp"
#include "planner/recommend_request.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/resource_estimate.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::cli {
namespace {

struct Options {
  planner::RecommendRequest request;  // what the search is (shared with sweep's recommend points)
  std::int32_t threads = 0;
  bool force = false;
  std::string out_dir;
  bool progress = false;
  bool no_progress = false;
  OutputOptions output;
};

// One progress line on stderr: rewritten in place on a terminal, one line per update otherwise.
void print_progress(const planner::SearchProgress& p, planner::Objective objective, bool terminal) {
  std::string best;
  if (p.has_best) {
    best = objective == planner::Objective::memory
               ? fmt::format(", least {:.2f} GiB per device", -p.best_objective / (1024.0 * 1024.0 * 1024.0))
               : fmt::format(", best {:.4g} {}tokens/s", p.best_objective,
                             objective == planner::Objective::effective_throughput ? "processed " : "");
  }
  const std::int64_t pruned = p.candidates - p.examined + p.pruned_after_first_seed;
  const std::string end = !p.finished ? "" : pruned > 0 ? fmt::format(" (done: {} pruned)", pruned) : " (done)";
  const std::string line = fmt::format("recommend: {} of {} candidates examined, {} simulated{}, {:.1f} s{}",
                                       p.examined, p.candidates, p.evaluated, best, p.elapsed_s, end);
  if (terminal) {
    std::cerr << "\r" << line << "\x1b[K" << (p.finished ? "\n" : "") << std::flush;
  } else {
    std::cerr << line << "\n" << std::flush;
  }
}

CommandAction add_recommend_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  app.description("Recommend layouts and capacity factors: ranked table, Pareto front, rejected layouts");
  app.add_option("--model", opt->request.model, "Model name or JSON file (default switch-base)");
  app.add_option("--mesh", opt->request.mesh, "Mesh name or JSON file (default tpuv3-4x4, 32 TPU v3 cores)");
  app.add_option("--top", opt->request.top, "Recommendations to show (default 5)");
  app.add_option("--objective", opt->request.objective, "throughput (default) | effective-throughput | memory");
  app.add_option("--max-drop", opt->request.max_drop, "Largest mean drop fraction for throughput/memory (default 0.01)");
  app.add_option("--factors", opt->request.factors, "Capacity factors to try (default 1.0,1.25,1.5,2.0)");
  app.add_flag("--no-dropless", opt->request.no_dropless, "Do not try the dropless mode");
  app.add_option("--samples", opt->request.samples, "Routing seeds per candidate (default 4)");
  app.add_option("--seed", opt->request.seed, "First routing seed (default 0)");
  app.add_option("--routing", opt->request.routing, "uniform | zipf:S | dirichlet:ALPHA | trace:FILE");
  app.add_option("--memory-headroom", opt->request.memory_headroom, "Usable fraction of device memory (default 0.9)");
  app.add_option("--max-micro-batches", opt->request.max_micro_batches, "Most micro-batches tried to fit memory (default 64)");
  app.add_option("--batch-tokens", opt->request.batch_tokens, "Tokens per global batch: encoder tokens for t5-family models, all tokens for decoder models (default 1048576)");
  app.add_option("--group-tokens", opt->request.group_tokens,
                 "Routing group size in tokens (default: einsum groups of at most 1024 tokens as Mesh-TF splits "
                 "them; gather and grouped the local tokens per device)");
  app.add_option("--moe-impl", opt->request.moe_impl,
                 "auto (default: einsum on TPU meshes, gather on GPU meshes in capacity mode, grouped when dropless) "
                 "| einsum | gather (both capacity mode only: the dropless mode is skipped) | grouped");
  app.add_option("--precision", opt->request.precision,
                 "bf16 (default) | fp32 | fp8 (linear layers' products in FP8; refused on a device without FP8)");
  app.add_flag("--fp8-dispatch", opt->request.fp8_dispatch, "With --precision fp8: the dispatch all-to-all in FP8, combine in bf16");
  app.add_option("--optimizer", opt->request.optimizer, "adafactor (default) | adam");
  app.add_flag("--remat", opt->request.remat, "Rematerialize activations in the backward pass");
  app.add_option("--profile", opt->request.profile, "Calibration profile (default: the shape-aware model of the mesh's device, docs/kernels.md)");
  app.add_option("--threads", opt->threads, "Worker threads (default: all cores); results do not depend on it");
  app.add_flag("--force", opt->force, "Run even when the search's size estimate exceeds this machine's limits");
  app.add_flag("--exhaustive", opt->request.exhaustive, "Evaluate every feasible candidate (no pruning)");
  app.add_option("--network-tolerance", opt->request.network_tolerance,
                 "Completion window of the flow-level network: flows within this fraction of their elapsed time "
                 "finish together (default 0.01; 0 = exact, slower)");
  app.add_option("--load-model-above", opt->request.load_model_above,
                 "Direct all-to-alls over more devices than this use the per-link load model instead of the flow "
                 "simulation (default 64; 0 = never)");
  app.add_option("--network-model", opt->request.network_model,
                 "shared (default: search with collectives alone, re-rank the best --rerank on one shared network) | "
                 "isolated (no re-rank)");
  app.add_option("--rerank", opt->request.rerank, "Candidates re-simulated on the shared network (default 5)");
  app.add_option("--grad-sync", opt->request.grad_sync,
                 "auto (default: fused on TPU meshes, bucketed:25MiB on GPU meshes) | fused | bucketed[:BYTES]");
  app.add_option("--comm-priority", opt->request.comm_priority, "none (default) | all-to-all (strict priority on shared links)");
  app.add_option("--zero", opt->request.zero,
                 "ZeRO stage: auto (default: per layout the lowest of 0..3 whose memory fits) | all (every stage that "
                 "fits is a candidate) | 0 | 1 | 2 | 3 (that stage only)");
  app.add_option("--pp", opt->request.pp,
                 "Pipeline stages: auto (default: pp = 1, plus every pp > 1 dividing the devices on multi-node GPU "
                 "clusters or when nothing fits without) | all (pp > 1 on any mesh) | N (that count only; 1 = no "
                 "pipelines)");
  app.add_option("--pp-schedule", opt->request.pp_schedule,
                 "Pipeline schedules searched with pp > 1: auto (default: 1f1b and interleaved with vpp 2 or 4) | all "
                 "(gpipe too) | gpipe | 1f1b | interleaved");
  app.add_option("--etp", opt->request.etp,
                 "Expert tensor-parallel degrees: auto (default: beside each tp > 1 layout, its etp = 1 folded layouts "
                 "on GPU meshes) | all (every etp dividing tp, any mesh) | N (only layouts whose experts run at etp = N)");
  app.add_option("--out-dir", opt->out_dir, "Write recommend.json into this folder (created) and print its path");
  app.add_flag("--progress", opt->progress, "Progress lines on stderr (default: only when stderr is a terminal)");
  app.add_flag("--no-progress", opt->no_progress, "No progress lines, even on a terminal");
  add_output_flags(app, opt->output);
  return [opt]() -> int {
    planner::SearchOptions so = planner::search_options(opt->request, planner::flag_name);
    so.threads = opt->threads;
    if (opt->progress && opt->no_progress) throw InputError("--progress", "cannot be combined with --no-progress");
    const bool terminal = stderr_is_terminal();
    if (opt->progress || (terminal && !opt->no_progress)) {
      so.on_progress = [objective = so.objective, terminal](const planner::SearchProgress& p) {
        print_progress(p, objective, terminal);
      };
    }
    const workloads::Model model = workloads::load_model(opt->request.model, "--model");
    const topology::Mesh mesh = topology::build_mesh(opt->request.mesh);
    planner::for_mesh(so, opt->request, mesh, planner::flag_name);
    {
      // Refuse a search far too large for this machine up front (common/resource_limits.hpp).
      const std::int64_t threads =
          opt->threads > 0 ? opt->threads : static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
      check_resources("--mesh",
                      workloads::estimate_search_resources(model, so.enumeration.training, mesh.topology.num_devices(),
                                                                 !opt->request.no_dropless, threads),
                      opt->force);
    }
    const std::unique_ptr<kernels::CostModel> cost = workloads::make_cost_model(mesh.device_kind, opt->request.profile);
    const planner::RecommendResult result = planner::recommend(model, mesh, so, *cost);
    const json j = planner::to_json(result);
    if (!opt->out_dir.empty()) {
      std::filesystem::create_directories(opt->out_dir);
      const std::filesystem::path file = std::filesystem::path(opt->out_dir) / "recommend.json";
      write_file_atomically(file, dump_json(j));
      std::cerr << "wrote " << file.string() << "\n";
    }
    emit(opt->output, j, planner::to_text(result));
    return 0;
  };
}

const bool registered = register_command({"recommend", 45, &add_recommend_command});

}  // namespace
}  // namespace switchsim::cli
