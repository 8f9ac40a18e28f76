#include "workloads/resource_estimate.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sim/byte_matrix.hpp"

namespace switchsim::workloads {

namespace {

double all_to_all_flows(double g) { return g * (g - 1.0); }
double all_reduce_flows(double g) { return 2.0 * g * (g - 1.0); }

struct StepCost {
  double largest_flows = 0.0;
  double matrix_bytes = 0.0;
  double distinct_collectives = 0.0;
};

// tokens_per_source: routed assignments one expert-parallel rank sends per layer and micro-batch
// (top_k x its local tokens); a byte-matrix row has at most min(ep, that) non-zeros. expert_replicas:
// the ep groups with their own matrices (dp / ep; folded layouts, layout.hpp: edp).
StepCost step_cost(const Model& model, double dp, double ep, double mp, bool dropless, double micro_batches,
                   double tokens_per_source, double expert_replicas) {
  StepCost c;
  const double switch_layers =
      static_cast<double>(model.switch_layers(model.encoder_layers) + model.switch_layers(model.decoder_layers));
  c.largest_flows = std::max({all_reduce_flows(dp), all_reduce_flows(mp), model.is_moe() ? all_to_all_flows(ep) : 0.0});
  c.distinct_collectives = 3.0;
  if (dropless && model.is_moe() && ep > 1.0) {
    const double matrices = switch_layers * micro_batches * expert_replicas;
    const double row_entries = std::min(ep, std::max(1.0, tokens_per_source));
    c.matrix_bytes = matrices * 2.0 * sim::ByteMatrix::storage_bytes(ep, ep * row_entries);
    c.distinct_collectives += 4.0 * matrices;
  }
  return c;
}

// Encoder or decoder tokens per device and micro-batch, whichever is larger, times top_k.
double routed_per_source(const Model& model, const TrainingSetup& training, double dp, double micro_batches) {
  const double batch = static_cast<double>(training.batch_tokens);
  const double decoder = model.input_length > 0
                             ? batch / static_cast<double>(model.input_length) * static_cast<double>(model.target_length)
                             : 0.0;
  return static_cast<double>(model.top_k) * std::max(batch, decoder) / (dp * micro_batches);
}

ResourceEstimate to_estimate(const StepCost& c, double concurrent, const std::string& what) {
  ResourceEstimate e;
  e.memory_bytes = concurrent * (kBytesPerFlow * c.largest_flows + c.matrix_bytes);
  e.cpu_s = kCpuSecondsPerFlow * c.largest_flows * c.distinct_collectives;
  e.what = fmt::format("{} (largest collective {:.3g} flows{})", what, c.largest_flows,
                       c.matrix_bytes > 0.0 ? fmt::format(", dropless byte matrices {:.3g} GB", c.matrix_bytes / 1e9)
                                            : std::string());
  return e;
}

// Contention in the shared network (bucketed gradient sync): the buckets' all-reduces are issued
// during the last micro-batch's backward pass and overlap its all-to-alls, so they share links and
// run in one flow network (sim/shared_step_executor.hpp); every transfer round of a bucket's ring
// then changes rates and re-solves the all-to-all's flows in flight:
//     buckets = dense gradient bytes of one pipeline stage / bucket bytes
//     updates = buckets x 2 (dp - 1)                 (ring rounds over the dense gradients' dp group)
//     CPU     = kCpuSecondsPerResolve x updates x ep (ep - 1)
// (expert gradients sync over smaller groups and are left out). An order of magnitude, like the rest:
// DeepSeek-V3 at dp = ep = 256 gives ~7 hours (the step ran ~1 op per 2-3 s once the overlap began,
// bench/RESULTS.md); at dp = ep = 32, pp = 8 a few seconds (measured: 16 s for the whole step).
double overlap_cpu_s(const Model& model, const Layout& layout, const StepOptions& options) {
  if (options.network_model != NetworkModel::shared || options.training.grad_sync.kind != GradSyncKind::bucketed ||
      !model.is_moe() || layout.ep <= 1 || layout.dp <= 1) {
    return 0.0;
  }
  const double grad_bytes_per_param = options.training.optimizer == Optimizer::adam ? 2.0 : 4.0;  // memory.hpp
  const double stage_dense_bytes =
      count_params(model).non_expert() * grad_bytes_per_param / static_cast<double>(layout.pp * layout.mp);
  const double buckets = std::ceil(stage_dense_bytes / options.training.grad_sync.bucket_bytes);
  const double updates = buckets * 2.0 * static_cast<double>(layout.dp - 1);
  return kCpuSecondsPerResolve * updates * all_to_all_flows(static_cast<double>(layout.ep));
}

}  // namespace

ResourceEstimate estimate_step_resources(const Model& model, const Layout& layout, const StepOptions& options) {
  const auto dp = static_cast<double>(layout.dp);
  const auto micro_batches = static_cast<double>(std::max<std::int64_t>(1, options.training.micro_batches));
  const StepCost c = step_cost(model, dp, static_cast<double>(layout.ep), static_cast<double>(layout.mp),
                               // byte matrices: routed loads (dropless, or grouped's truncated loads)
                               options.mode == ExecutionMode::dropless || options.training.moe_impl == MoeImpl::grouped,
                               micro_batches,
                               // a folded layout's device routes 1 / token_slices of its tokens
                               routed_per_source(model, options.training, dp, micro_batches) /
                                   static_cast<double>(layout.token_slices()),
                               static_cast<double>(layout.replicas()));
  ResourceEstimate e = to_estimate(c, 1.0, fmt::format("one step of {} with {}", model.name, layout.to_string()));
  const double overlap = overlap_cpu_s(model, layout, options);
  if (overlap > 0.01 * e.cpu_s) {
    e.cpu_s += overlap;
    e.what += " with its bucketed gradient all-reduces overlapping the all-to-alls in one shared network";
    if (overlap > e.cpu_s - overlap) e.faster = kFasterStepModels;
  }
  return e;
}

ResourceEstimate estimate_search_resources(const Model& model, const TrainingSetup& training, std::int64_t devices,
                                           bool dropless, std::int64_t threads) {
  const double n = static_cast<double>(devices);
  const double ep = model.is_moe() ? std::min(n, static_cast<double>(model.experts)) : 1.0;
  const bool matrices = dropless || training.moe_impl == MoeImpl::grouped;
  const StepCost c = step_cost(model, n, ep, 1.0, matrices, 1.0, routed_per_source(model, training, n, 1.0), n / ep);
  return to_estimate(c, static_cast<double>(std::max<std::int64_t>(1, threads)),
                     fmt::format("a layout search for {} on {} devices", model.name, devices));
}

ResourceEstimate estimate_collective_resources(const topology::Mesh& mesh, sim::CollectiveOp op,
                                               const std::vector<topology::VertexId>& participants) {
  std::vector<topology::VertexId> devices = participants;
  if (devices.empty()) {
    for (topology::VertexId d = 0; d < mesh.topology.num_devices(); ++d) devices.push_back(d);
  }
  const auto n = static_cast<double>(devices.size());
  // Only valid devices are routed (the simulation itself reports bad participants).
  std::erase_if(devices, [&](topology::VertexId d) { return d < 0 || d >= mesh.topology.num_devices(); });
  const double transfers = (op == sim::CollectiveOp::all_to_all ? 1.0 : 2.0) * n * (n - 1.0);
  // Sample pairs spread over the (src, dst) grid, as the transfer simulation's reserve does.
  double sampled = 0.0, subflows = 0.0, links = 0.0;
  topology::Path path;
  const auto count = static_cast<std::int64_t>(devices.size());
  const std::int64_t pairs = count * count;
  const std::int64_t samples = std::min<std::int64_t>(pairs, 256);
  for (std::int64_t i = 0; i < samples && count > 1; ++i) {
    const std::int64_t cell = i * pairs / samples;
    const auto src = devices[static_cast<std::size_t>(cell / count)];
    const auto dst = devices[static_cast<std::size_t>((cell % count + (cell / count == cell % count ? 1 : 0)) % count)];
    if (src == dst) continue;
    const std::int32_t k = mesh.router->path_count(src, dst);
    sampled += 1.0;
    subflows += k;
    for (std::int32_t c = 0; c < k; ++c) {
      path.clear();
      mesh.router->append_path(src, dst, c, path);
      links += static_cast<double>(path.size());
    }
  }
  const double k = sampled > 0.0 ? subflows / sampled : 1.0;
  const double h = subflows > 0.0 ? links / subflows : 1.0;
  const double flows = transfers * k;
  ResourceEstimate e;
  e.memory_bytes = flows * (200.0 + 8.0 * h);
  e.cpu_s = kCpuSecondsPerFlow * flows;
  if (k > 1.0 + 1e-9) {
    const double updates = 36.7 * std::pow(flows, 0.44);
    const double resolved = 16.0 * std::pow(flows, 0.35);
    e.cpu_s += kCpuSecondsPerResolve * updates * resolved;
  }
  e.what = fmt::format("{} over {} devices ({:.3g} sub-flows, {:.3g} paths per pair, exact max-min)",
                       sim::to_string(op), n, flows, k);
  return e;
}

const char* const kFasterStepModels =
    "--grad-sync fused (no overlap: each collective runs alone, timed from the memo) or --network-model isolated "
    "(no contention between collectives; measured against the shared model in docs/network.md)";

const char* const kFasterNetworkModels =
      "simulate/capacity/recommend offer measured approximations of the exact model: --network-tolerance 0.01 "
      "(completion window, within ~2.3% on 128-way all-to-alls) and --load-model-above N (per-link load model for "
      "all-to-alls over more than N devices, within ~8.5%); docs/network.md";

}  // namespace switchsim::workloads
