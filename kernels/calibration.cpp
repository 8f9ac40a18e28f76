#include "kernels/calibration.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/profile.hpp"

namespace switchsim::kernels {

namespace {

SwitchLayerConfig shape(std::int64_t T, std::int64_t d, std::int64_t E, std::int64_t k = 1,
                        Activation act = Activation::relu, double cf = 1.25) {
  SwitchLayerConfig c;
  c.tokens = T;
  c.d_model = d;
  c.d_ff = 4 * d;
  c.experts = E;
  c.top_k = k;
  c.capacity_factor = cf;
  c.group_size = 0;
  c.activation = act;
  return c;
}

// The same shape in dropless mode (grouped GEMM over the real loads; switch_layer.hpp).
SwitchLayerConfig dropless(SwitchLayerConfig c) {
  c.dropless = true;
  return c;
}

}  // namespace

// The sweep is a ladder over tokens and d_model (d_ff = 4 d_model) with a
// few other expert counts, top-2 and GEGLU mixed in; the held-out shapes sit
// between its rungs. Sizes for "cpu" keep each kernel short (mostly a few ms
// on 2 cores) so that, with `pause_s`, it runs between other processes' slices;
// "cuda" sizes keep host-side weight generation and upload short.
std::vector<SwitchLayerConfig> calibration_shapes(const std::string& backend, bool quick) {
  std::vector<SwitchLayerConfig> out;
  if (backend == "cuda") {
    const std::vector<std::int64_t> tokens = quick ? std::vector<std::int64_t>{2048, 8192}
                                                   : std::vector<std::int64_t>{2048, 8192, 32768};
    const std::vector<std::int64_t> dims = quick ? std::vector<std::int64_t>{512, 1024}
                                                 : std::vector<std::int64_t>{512, 1024, 2048};
    for (auto d : dims)
      for (auto T : tokens) out.push_back(shape(T, d, d >= 2048 ? 16 : 64));
    if (!quick) {
      out.push_back(shape(8192, 1024, 32, 2, Activation::geglu));
      // Dropless: the grouped GEMM (cuda/grouped_gemm.cuh) over the real loads, top-2.
      out.push_back(dropless(shape(8192, 1024, 64, 2)));
      out.push_back(dropless(shape(8192, 1024, 32, 2, Activation::swiglu)));
    }
    return out;
  }
  const std::vector<std::int64_t> tokens = quick ? std::vector<std::int64_t>{128, 1024}
                                                 : std::vector<std::int64_t>{128, 512, 1024};
  const std::vector<std::int64_t> dims = quick ? std::vector<std::int64_t>{32, 96}
                                               : std::vector<std::int64_t>{32, 64, 96};
  for (auto d : dims)
    for (auto T : tokens) out.push_back(shape(T, d, 8));
  if (!quick) {
    // Other expert counts, top-2 and GEGLU: the per-call GEMM sizes they give
    // fill the ladder's gaps, and the GEGLU shapes measure the GELU's cost per
    // element (calibrated_cost_model.hpp).
    out.push_back(shape(512, 64, 16, 2, Activation::geglu));
    out.push_back(shape(1024, 32, 8, 1, Activation::geglu));
    out.push_back(shape(128, 96, 8, 2, Activation::geglu));
    out.push_back(shape(1024, 64, 16, 2));
    out.push_back(shape(1024, 32, 32));
    // Dropless: its expert FFN is one
    // product of p + 1 matrices over all T k rows (switch_layer_ops), a shape the padded
    // sweep does not give.
    out.push_back(dropless(shape(1024, 64, 16, 2)));
    out.push_back(dropless(shape(512, 96, 8, 1, Activation::geglu)));
  }
  return out;
}

std::vector<SwitchLayerConfig> validation_shapes(const std::string& backend, bool quick) {
  if (backend == "cuda") {
    if (quick) return {shape(4096, 768, 64)};
    return {shape(4096, 768, 64), shape(16384, 768, 32), shape(8192, 1536, 16), shape(16384, 1024, 64, 2),
            dropless(shape(16384, 768, 32, 2))};
  }
  if (quick) return {shape(256, 48, 8)};
  // The SwiGLU shape is the GEGLU one with SiLU: no SwiGLU is calibrated, the model prices its
  // activation with the GEGLU samples' per-element term (docs/kernels.md), and this case measures
  // what that assumption costs.
  return {shape(256, 48, 8), shape(768, 80, 8), shape(512, 80, 12), shape(384, 64, 16, 2, Activation::geglu),
          shape(384, 64, 16, 2, Activation::swiglu), dropless(shape(768, 48, 12, 2))};
}

std::vector<KernelTiming> time_switch_layer(SwitchLayerBackend& backend, const SwitchLayerConfig& config,
                                            const CalibrationOptions& options) {
  backend.load(make_random_problem(config, options.seed));  // runs the layer once
  double layer_s = 0.0;
  for (int i = 0; i < 2; ++i) layer_s = run_switch_layer(backend);  // warm-up
  const int repeats = std::clamp(static_cast<int>(options.seconds_per_shape / std::max(layer_s, 1e-9)),
                                 options.min_repeats, options.max_repeats);
  // With a pause: sleep, run the kernel once untimed (it wakes the core and
  // brings its operands back into the caches that other processes used during
  // the sleep), then time it. Without the untimed run, kernels of tens of
  // microseconds measured the wake-up rather than themselves.
  auto timed = [&](SwitchKernel k) {
    if (options.pause_s > 0.0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(options.pause_s));
      (void)backend.run(k);
    }
    return backend.run(k);
  };
  std::vector<double> router, dispatch, ffn, combine;
  for (int r = 0; r < repeats; ++r) {
    router.push_back(timed(SwitchKernel::router) + backend.run(SwitchKernel::assign_capacity));
    dispatch.push_back(timed(SwitchKernel::dispatch));
    ffn.push_back(timed(SwitchKernel::expert_ffn));
    combine.push_back(timed(SwitchKernel::combine));
  }
  std::vector<KernelTiming> out;
  for (const auto& [name, op] : switch_layer_ops(config, backend.precision())) {
    const std::vector<double>& times = name == "router"     ? router
                                       : name == "dispatch" ? dispatch
                                       : name == "combine"  ? combine
                                                            : ffn;
    out.push_back(KernelTiming{name, op, percentiles(times), repeats, times});
  }
  return out;
}

std::vector<std::vector<KernelTiming>> time_switch_layers(SwitchLayerBackend& backend,
                                                          const std::vector<SwitchLayerConfig>& shapes,
                                                          const CalibrationOptions& options) {
  const int rounds = std::max(options.rounds, 1);
  CalibrationOptions per_round = options;
  per_round.seconds_per_shape = options.seconds_per_shape / rounds;
  per_round.min_repeats = std::max(1, options.min_repeats / rounds);
  per_round.max_repeats = std::max(1, options.max_repeats / rounds);
  std::vector<std::vector<KernelTiming>> pooled(shapes.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      std::vector<KernelTiming> round = time_switch_layer(backend, shapes[i], per_round);
      if (pooled[i].empty()) {
        pooled[i] = std::move(round);
        continue;
      }
      for (std::size_t k = 0; k < round.size(); ++k) {
        auto& into = pooled[i][k];
        into.samples_s.insert(into.samples_s.end(), round[k].samples_s.begin(), round[k].samples_s.end());
        into.repeats += round[k].repeats;
      }
    }
    if (options.progress) options.progress("pass " + std::to_string(r + 1) + "/" + std::to_string(rounds));
  }
  for (auto& shape_timings : pooled)
    for (auto& t : shape_timings) t.seconds = percentiles(t.samples_s);
  return pooled;
}

json sample_to_json(const KernelTiming& t, const json& config) {
  json s;
  s["kernel"] = t.kernel;
  s["op"] = to_string(t.op.kind);
  s["shape"] = op_shape_to_json(t.op);
  if (!config.is_null()) s["config"] = config;
  s["flops"] = t.op.flops();
  s["bytes"] = t.op.min_bytes();
  s["median_s"] = t.seconds.median;
  s["p10_s"] = t.seconds.p10;
  s["p90_s"] = t.seconds.p90;
  s["repeats"] = t.repeats;
  return s;
}

json calibrate(SwitchLayerBackend& backend, const CalibrationOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  json profile;
  profile["schema_version"] = kProfileSchemaVersion;
  profile["kind"] = "measured";
  profile["device"] = backend.identity();
  profile["backend"] = backend.name();
  profile["measured_at"] = utc_timestamp();
  say("measuring ceilings");
  const MeasuredCeilings ceilings = backend.measure_ceilings(options.quick);
  profile["ceilings"] = ceilings_to_json(ceilings.ceilings);
  profile["ceilings_measurement"] = ceilings.details;
  json samples = json::array();

  const auto shapes = calibration_shapes(backend.name(), options.quick);
  say("switch layer shapes: " + std::to_string(shapes.size()) + ", " + std::to_string(options.rounds) + " passes");
  const auto timings = time_switch_layers(backend, shapes, options);
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    for (const auto& t : timings[i]) samples.push_back(sample_to_json(t, to_json(shapes[i])));
  }

  // Dense matrix products (OpKind matmul) and copies (OpKind elementwise).
  const bool gpu = backend.name() == "cuda";
  const std::vector<std::int64_t> mm_sizes =
      gpu ? (options.quick ? std::vector<std::int64_t>{1024, 4096} : std::vector<std::int64_t>{512, 1024, 2048, 4096, 8192})
          : (options.quick ? std::vector<std::int64_t>{128, 512} : std::vector<std::int64_t>{64, 128, 256, 512, 1024});
  for (const auto n : mm_sizes) {
    const int repeats = options.quick ? 3 : 7;
    const OpShape op{OpKind::matmul, 1, n, n, n, 0, backend.precision()};
    samples.push_back(sample_to_json(KernelTiming{"matmul", op, backend.time_matmul(n, n, n, repeats), repeats, {}}, nullptr));
  }
  say("dense matrix products");
  const std::vector<std::int64_t> copy_sizes =
      gpu ? std::vector<std::int64_t>{1ll << 20, 16ll << 20, 256ll << 20}
          : (options.quick ? std::vector<std::int64_t>{1ll << 20, 16ll << 20}
                           : std::vector<std::int64_t>{64ll << 10, 256ll << 10, 1ll << 20, 4ll << 20, 16ll << 20,
                                                       64ll << 20});
  for (const auto bytes : copy_sizes) {
    const int repeats = options.quick ? 5 : 11;
    // elementwise bytes = read + written = 2 * copied bytes
    const OpShape op{OpKind::elementwise, 1, 0, 0, 0, 2 * bytes, backend.precision()};
    samples.push_back(sample_to_json(KernelTiming{"copy", op, backend.time_copy(bytes, repeats), repeats, {}}, nullptr));
  }
  say("copies");
  // Attention (OpKind::attention, the forward: `batch` heads, m queries, n keys, k = d_kv) and the
  // Adam update (OpKind::optimizer, 28 B per parameter), where the backend has the kernels. The
  // step prices attention's backward as two forward-sized calls per head (workloads/step_builder.cpp,
  // Backward::doubled); the measured backward / forward ratio is recorded beside the samples so that
  // assumption can be checked, not fed into the curve (two points at one size would be ambiguous).
  json attention_backward = json::array();
  // CPU full sweep from L = 16: the short sequences of a small model's decoder
  // (validate --step) then lie inside the measured range.
  const std::vector<std::int64_t> seq = options.quick ? std::vector<std::int64_t>{64, 256}
                                        : gpu         ? std::vector<std::int64_t>{64, 128, 256, 512}
                                                      : std::vector<std::int64_t>{16, 32, 64, 128, 256, 512};
  bool attention_measured = false;
  for (const auto L : seq) {
    const std::int64_t heads = 8, head_dim = 64;
    const int repeats = options.quick ? 3 : 7;
    const auto t = backend.time_attention(heads, L, L, head_dim, repeats);
    if (!t) break;
    attention_measured = true;
    const OpShape op{OpKind::attention, heads, L, L, head_dim, 0, backend.precision()};
    samples.push_back(sample_to_json(KernelTiming{"attention", op, t->forward, repeats, {}}, nullptr));
    attention_backward.push_back({{"batch", heads}, {"m", L}, {"n", L}, {"k", head_dim},
                                  {"forward_median_s", t->forward.median}, {"backward_median_s", t->backward.median},
                                  {"backward_over_forward", t->backward.median / t->forward.median}});
  }
  bool optimizer_measured = false;
  const std::vector<std::int64_t> params = options.quick ? std::vector<std::int64_t>{1 << 20, 4 << 20}
                                                         : std::vector<std::int64_t>{1 << 18, 1 << 20, 4 << 20, 16 << 20};
  for (const auto n : params) {
    const int repeats = options.quick ? 3 : 7;
    const auto t = backend.time_adam(n, repeats);
    if (!t) break;
    optimizer_measured = true;
    const OpShape op{OpKind::optimizer, 1, 0, 0, 0, static_cast<std::int64_t>(28.0 * static_cast<double>(n)),
                     Precision::fp32};
    samples.push_back(sample_to_json(KernelTiming{"adam", op, *t, repeats, {}}, nullptr));
  }
  if (attention_measured || optimizer_measured) say("attention and optimizer");
  profile["samples"] = samples;
  if (attention_measured) profile["ceilings_measurement"]["attention_backward"] = attention_backward;
  std::string notes =
      "router samples include capacity assignment; expert_ffn is recorded as one batched_matmul with "
      "batch = E * (projections + 1), m = S, k = d_model, n = d_ff (its FLOPs)";
  notes += attention_measured
               ? "; attention: plain forward (QK^T, softmax, PV) per head, its backward / forward ratio in "
                 "ceilings_measurement.attention_backward"
               : "; attention is not measured on this backend and falls back to the model of these ceilings";
  notes += optimizer_measured ? "; optimizer: Adam update, 28 B per parameter"
                              : "; the optimizer is not measured on this backend and falls back to the model";
  profile["notes"] = notes;
  profile["provenance"] = provenance();
  return profile;
}

json roofline_profile(const DeviceCeilings& ceilings, const json& device, const json& source) {
  json profile;
  profile["schema_version"] = kProfileSchemaVersion;
  profile["kind"] = "roofline";
  profile["device"] = device;
  profile["backend"] = "roofline";
  profile["measured_at"] = nullptr;
  profile["source"] = source;
  profile["ceilings"] = ceilings_to_json(ceilings);
  profile["samples"] = json::array();
  profile["notes"] =
      "not measured: catalog ceilings with assumed efficiencies; every prediction carries a fixed relative "
      "uncertainty (kernels/roofline_cost_model.hpp)";
  profile["provenance"] = provenance();
  return profile;
}

}  // namespace switchsim::kernels
