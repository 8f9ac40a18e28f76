// The CUDA backend: owns device buffers, a stream, a cuBLAS handle and two
// events; each run() is timed with CUDA events around the kernel's launches.

#include "kernels/cuda/cuda_backend.hpp"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/grouped_gemm.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/host_info.hpp"

namespace switchsim::kernels {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error of a missing driver
    return 0;
  }
  return n;
}

namespace {

using cuda::bf16;
using cuda::DeviceBuffer;

std::size_t sz(std::int64_t v) { return static_cast<std::size_t>(v); }

std::vector<std::uint16_t> to_bf16_bits(const std::vector<float>& v) {
  std::vector<std::uint16_t> bits(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float r = round_to_bf16(v[i]);
    std::uint32_t u = 0;
    std::memcpy(&u, &r, sizeof u);
    bits[i] = static_cast<std::uint16_t>(u >> 16);
  }
  return bits;
}

template <class T>
void upload(DeviceBuffer<T>& dst, const void* src, std::size_t count, cudaStream_t stream) {
  dst.resize(count);
  if (count > 0) {
    SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src, count * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
}

void upload_bf16(DeviceBuffer<bf16>& dst, const std::vector<float>& src, cudaStream_t stream) {
  const auto bits = to_bf16_bits(src);
  upload(dst, bits.data(), bits.size(), stream);
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));  // `bits` dies here
}

template <class T>
std::vector<T> download(const DeviceBuffer<T>& src, cudaStream_t stream) {
  std::vector<T> out(src.size());
  if (!out.empty()) {
    SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(out.data(), src.get(), out.size() * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }
  SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

class CudaBackend final : public SwitchLayerBackend {
 public:
  CudaBackend() {
    SWITCHSIM_CUDA_CHECK(cudaSetDevice(0));
    SWITCHSIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SWITCHSIM_CUDA_CHECK(cudaEventCreate(&start_));
    SWITCHSIM_CUDA_CHECK(cudaEventCreate(&stop_));
    SWITCHSIM_CUDA_CHECK(cublasCreate(&blas_));
    SWITCHSIM_CUDA_CHECK(cublasSetStream(blas_, stream_));
    // Twice the L2 (50 MB on H100, 60 MB on H200 per cudaDevAttrL2CacheSize): written before every
    // timed run, it evicts the previous run's operands, and the GPU is still busy with it while
    // the host enqueues the start event, the kernel and the stop event, so the host's launch
    // latency is not inside the timed interval.
    int l2_bytes = 0;
    SWITCHSIM_CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, 0));
    l2_flush_.resize(static_cast<std::size_t>(std::max(2 * l2_bytes, 1 << 20)));
  }
  ~CudaBackend() override {
    cublasDestroy(blas_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
    cudaStreamDestroy(stream_);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  [[nodiscard]] std::string name() const override { return "cuda"; }
  [[nodiscard]] Precision precision() const override { return Precision::bf16; }

  void load(const SwitchLayerProblem& problem) override {
    const auto& c = problem.config;
    c.validate();
    const double T = static_cast<double>(c.tokens), d = static_cast<double>(c.d_model);
    const double f = static_cast<double>(c.d_ff), E = static_cast<double>(c.experts);
    const double R = static_cast<double>(c.buffer_rows()), k = static_cast<double>(c.top_k);
    const double p = static_cast<double>(c.input_projections());
    const double need = 2.0 * (2 * T * d + (p + 1) * E * d * f + 2 * R * d + p * R * f) + 4.0 * (d * E + T * E) +
                        16.0 * T * k + 4.0 * R + 8.0 * (E + 1) + 4.0 * static_cast<double>(scratch_entries(c));
    std::size_t free_bytes = 0, total_bytes = 0;
    SWITCHSIM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (need > 0.9 * static_cast<double>(free_bytes)) {
      throw InputError("shape", "needs about " + std::to_string(need / 1073741824.0) + " GiB of GPU memory, " +
                                    std::to_string(static_cast<double>(free_bytes) / 1073741824.0) + " GiB free");
    }
    config_ = c;
    backward_ready_ = false;
    backward_stage_ = 0;
    const std::int64_t Ti = c.tokens, Ei = c.experts, ki = c.top_k, Ri = c.buffer_rows();
    upload_bf16(x_, problem.x, stream_);
    upload(router_w_, problem.weights.router.data(), problem.weights.router.size(), stream_);
    upload_bf16(wi_, problem.weights.wi, stream_);
    if (c.gated()) upload_bf16(wi_gate_, problem.weights.wi_gate, stream_);
    upload_bf16(wo_, problem.weights.wo, stream_);
    probs_.resize(sz(Ti * Ei));
    expert_.resize(sz(Ti * ki));
    gate_.resize(sz(Ti * ki));
    const std::int64_t partials = cuda::router_stats_partials(Ti);
    partial_sum_.resize(sz(partials * Ei));
    partial_count_.resize(sz(partials * Ei));
    prob_sum_.resize(sz(Ei));
    argmax_count_.resize(sz(Ei));
    chunk_counts_.resize(sz(scratch_entries(c)));
    slot_.resize(sz(Ti * ki));
    row_source_.resize(sz(Ri));
    expert_load_.resize(sz(c.groups() * Ei));
    offsets_.resize(sz(Ei + 1));
    host_offsets_.clear();
    if (!c.dropless) {  // capacity mode: block e is rows [e S, (e + 1) S), fixed
      const std::int64_t S = c.slots_per_expert();
      for (std::int64_t e = 0; e <= Ei; ++e) host_offsets_.push_back(e * S);
      upload(offsets_, host_offsets_.data(), host_offsets_.size(), stream_);
    }
    buffer_.resize(sz(Ri * c.d_model));
    hidden_.resize(sz(Ri * c.d_ff));
    if (c.gated()) gate_hidden_.resize(sz(Ri * c.d_ff));
    expert_out_.resize(sz(Ri * c.d_model));
    y_.resize(sz(Ti * c.d_model));
    SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    loaded_ = true;
    run_switch_layer(*this);
  }

  void set_routing(const RouterOutput& routing) override {
    require_loaded();
    const auto n = sz(config_.tokens * config_.top_k);
    if (routing.expert.size() != n || routing.gate.size() != n) {
      throw InputError("routing", "expert and gate must have tokens*top_k entries");
    }
    for (const std::int32_t e : routing.expert) {
      if (e < 0 || e >= config_.experts) throw InputError("routing", "expert index out of range");
    }
    upload(expert_, routing.expert.data(), n, stream_);
    upload(gate_, routing.gate.data(), n, stream_);
    SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (config_.dropless) host_offsets_.clear();  // stale until assign_capacity runs again
  }

  double run(SwitchKernel kernel) override {
    require_loaded();
    // Dropless assign_capacity copies the loads to the host and waits: it cannot be batched.
    const bool batchable = !(config_.dropless && kernel == SwitchKernel::assign_capacity);
    return time_sample([&] { enqueue(kernel); }, batchable);
  }

  // Plain attention forward and backward (cuda/attention.cuh) over `batch` heads, random bf16
  // operands; each sample by time_sample (batched launches when short). The backward overwrites
  // P's bf16 copy with dS, so its repeated runs read dS where the first read P: the same work.
  std::optional<AttentionTiming> time_attention(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                                                int repeats) override {
    if (batch <= 0 || m <= 0 || n <= 0 || k <= 0) throw InputError("attention", "every dimension must be positive");
    const cuda::AttentionDims s{batch, m, n, k};
    const double bm = static_cast<double>(batch), md = static_cast<double>(m), nd = static_cast<double>(n);
    const double kd = static_cast<double>(k);
    require_fits(2.0 * (4 * bm * md * kd + 4 * bm * nd * kd) + 10.0 * bm * md * nd, "attention");
    cuda::AttentionBuffers b;
    b.resize(s);
    upload_bf16(b.q, random_values(b.q.size(), 3), stream_);
    upload_bf16(b.kk, random_values(b.kk.size(), 4), stream_);
    upload_bf16(b.v, random_values(b.v.size(), 5), stream_);
    upload_bf16(b.d_o, random_values(b.d_o.size(), 6), stream_);
    std::vector<double> fwd, bwd;
    for (int i = -1; i < repeats; ++i) {
      const double f = time_sample([&] { cuda::attention_forward(blas_, stream_, s, b); }, true);
      const double g = time_sample([&] { cuda::attention_backward(blas_, stream_, s, b); }, true);
      if (i >= 0) {
        fwd.push_back(f);
        bwd.push_back(g);
      }
    }
    return AttentionTiming{percentiles(fwd), percentiles(bwd)};
  }

  // One fused Adam update of `params` fp32 parameters (cuda/attention.cuh), 28 B per parameter.
  std::optional<Percentiles> time_adam(std::int64_t params, int repeats) override {
    if (params <= 0) throw InputError("optimizer", "params must be positive");
    require_fits(16.0 * static_cast<double>(params), "optimizer");
    DeviceBuffer<float> g, w, m(sz(params)), v(sz(params));
    auto grad = random_values(sz(params), 7);
    for (auto& x : grad) x *= 1e-3f;
    upload(g, grad.data(), grad.size(), stream_);
    const auto weights = random_values(sz(params), 8);
    upload(w, weights.data(), weights.size(), stream_);
    SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(m.get(), 0, sz(params) * sizeof(float), stream_));
    SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(v.get(), 0, sz(params) * sizeof(float), stream_));
    SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the host vectors die after this scope's uploads
    const float b1 = 0.9f, b2 = 0.999f;
    std::vector<double> times;
    for (int i = -1; i < repeats; ++i) {
      const double t = static_cast<double>(i + 2);  // Adam's step, from 1
      const auto c1 = static_cast<float>(1.0 / (1.0 - std::pow(b1, t)));
      const auto c2 = static_cast<float>(1.0 / (1.0 - std::pow(b2, t)));
      const double seconds = time_sample(
          [&] { cuda::launch_adam(g.get(), w.get(), m.get(), v.get(), params, 1e-3f, b1, b2, 1e-8f, c1, c2, stream_); },
          true);
      if (i >= 0) times.push_back(seconds);
    }
    return percentiles(times);
  }

  // ---- backward (backward.cu for the elementwise and gather kernels, cuBLAS for the products) ----
  // ReLU takes a = relu(h) from the forward (expert_ffn's hidden_), GEGLU and SwiGLU recompute h and
  // u from the dispatch buffer (the CPU backend does the same). Weight gradients are bf16 (cuBLAS
  // output), dx, d gates, d logits and dWr fp32. The router path uses f_i from the router's own
  // argmax counts, so the backward follows a forward whose routing the router chose.
  [[nodiscard]] bool has_backward() const override { return true; }

  void set_output_gradient(const std::vector<float>& dy) override {
    require_loaded();
    const auto& c = config_;
    if (static_cast<std::int64_t>(dy.size()) != c.tokens * c.d_model) {
      throw InputError("dy", "must have tokens*d_model entries");
    }
    const double T = static_cast<double>(c.tokens), d = static_cast<double>(c.d_model);
    const double f = static_cast<double>(c.d_ff), E = static_cast<double>(c.experts);
    const double R = static_cast<double>(c.buffer_rows()), k = static_cast<double>(c.top_k);
    const double p = static_cast<double>(c.input_projections());
    const double need = 2.0 * (T * d + 2 * R * d + 4 * R * f + (p + 1) * E * d * f) + 4.0 * (T * k + 3 * T * d + T * E + d * E);
    std::size_t free_bytes = 0, total_bytes = 0;
    SWITCHSIM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const std::size_t held = dy_.size() * 2 + d_out_.size() * 2 + d_in_.size() * 2 + bh_.size() * 2 + bu_.size() * 2 +
                             bda_.size() * 2 + bact_.size() * 2 + d_wi_.size() * 2 + d_wg_.size() * 2 +
                             d_wo_.size() * 2 + (d_gate_.size() + x_f32_.size() + dx_.size() + dx_expert_.size() +
                                                 dz_.size() + d_router_.size()) * 4;
    if (need > 0.9 * static_cast<double>(free_bytes + held)) {
      throw InputError("shape", "the backward needs about " + std::to_string(need / 1073741824.0) +
                                    " GiB more GPU memory, " +
                                    std::to_string(static_cast<double>(free_bytes) / 1073741824.0) + " GiB free");
    }
    const std::int64_t Ti = c.tokens, Ei = c.experts, Ri = c.buffer_rows();
    upload_bf16(dy_, dy, stream_);
    d_out_.resize(sz(Ri * c.d_model));
    d_in_.resize(sz(Ri * c.d_model));
    d_gate_.resize(sz(Ti * c.top_k));
    bda_.resize(sz(Ri * c.d_ff));
    if (c.gated()) {
      bh_.resize(sz(Ri * c.d_ff));
      bu_.resize(sz(Ri * c.d_ff));
      bact_.resize(sz(Ri * c.d_ff));
      d_wg_.resize(sz(Ei * c.d_model * c.d_ff));
    }
    d_wi_.resize(sz(Ei * c.d_model * c.d_ff));
    d_wo_.resize(sz(Ei * c.d_ff * c.d_model));
    x_f32_.resize(sz(Ti * c.d_model));
    cuda::launch_bf16_to_float(x_.get(), x_f32_.get(), Ti * c.d_model, stream_);  // exact: x is bf16
    dx_.resize(sz(Ti * c.d_model));
    dx_expert_.resize(sz(Ti * c.d_model));
    dz_.resize(sz(Ti * Ei));
    d_router_.resize(sz(c.d_model * Ei));
    SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    backward_ready_ = true;
    backward_stage_ = 0;
  }

  double run_backward(SwitchBackwardKernel kernel) override {
    require_loaded();
    if (!backward_ready_) throw InputError("backend", "set_output_gradient before the backward");
    const int index = static_cast<int>(kernel);
    if (index > backward_stage_) {
      throw InputError("backend", std::string("run the backward kernels in order: ") + to_string(kernel) +
                                      " needs the ones before it");
    }
    const double seconds = time_sample([&] { enqueue_backward(kernel); }, true);  // each kernel is idempotent
    backward_stage_ = std::max(backward_stage_, index + 1);
    return seconds;
  }

  [[nodiscard]] SwitchLayerGradients gradients() const override {
    require_loaded();
    if (backward_stage_ < 4) throw InputError("backend", "run the four backward kernels before gradients()");
    SwitchLayerGradients g;
    g.dx = download(dx_, stream_);
    g.d_router = download(d_router_, stream_);
    g.d_wi = to_float(d_wi_);
    g.d_wo = to_float(d_wo_);
    if (config_.gated()) g.d_wi_gate = to_float(d_wg_);
    return g;
  }

  [[nodiscard]] RouterOutput router_output() const override {
    require_loaded();
    RouterOutput r;
    r.expert = download(expert_, stream_);
    r.gate = download(gate_, stream_);
    const auto sums = download(prob_sum_, stream_);
    const auto counts = download(argmax_count_, stream_);
    const double T = static_cast<double>(config_.tokens);
    double dot = 0.0;
    for (std::size_t e = 0; e < sums.size(); ++e) {
      r.fraction_routed.push_back(static_cast<double>(counts[e]) / T);
      r.mean_probability.push_back(sums[e] / T);
      dot += r.fraction_routed.back() * r.mean_probability.back();
    }
    r.aux_loss = config_.aux_loss_alpha * static_cast<double>(config_.experts) * dot;
    return r;
  }

  [[nodiscard]] CapacityAssignment assignment() const override {
    require_loaded();
    CapacityAssignment a;
    a.capacity = config_.dropless ? 0 : config_.capacity();
    a.slot = download(slot_, stream_);
    a.row_source = download(row_source_, stream_);
    a.expert_load = download(expert_load_, stream_);
    a.expert_offsets = download(offsets_, stream_);
    a.dropped = std::count(a.slot.begin(), a.slot.end(), -1);
    return a;
  }

  [[nodiscard]] std::vector<float> output() const override {
    require_loaded();
    return to_float(y_);
  }

  [[nodiscard]] nlohmann::ordered_json identity() const override {
    int dev = 0;
    SWITCHSIM_CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop{};
    SWITCHSIM_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    int clock_khz = 0, mem_clock_khz = 0, driver = 0, runtime = 0;
    SWITCHSIM_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev));
    SWITCHSIM_CUDA_CHECK(cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, dev));
    SWITCHSIM_CUDA_CHECK(cudaDriverGetVersion(&driver));
    SWITCHSIM_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    nlohmann::ordered_json j;
    j["kind"] = device_kind();
    j["name"] = prop.name;
    j["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    j["multiprocessors"] = prop.multiProcessorCount;
    j["clock_Hz"] = static_cast<double>(clock_khz) * 1e3;
    j["memory_clock_Hz"] = static_cast<double>(mem_clock_khz) * 1e3;
    j["memory_bus_width_bits"] = prop.memoryBusWidth;
    j["memory_bytes"] = static_cast<double>(prop.totalGlobalMem);
    j["driver_version"] = driver;
    j["runtime_version"] = runtime;
    j["host_cpu"] = cpu_model_name();
    if (config_.dropless && loaded_) {  // how the last grouped product ran (cuda/grouped_gemm.cuh)
      j["grouped_gemm"] = grouped_.method_used() == cuda::GroupedGemmMethod::grouped
                              ? std::string("cublasGemmGroupedBatchedEx")
                              : "cublasGemmEx per expert (cublasGemmGroupedBatchedEx status " +
                                    std::to_string(grouped_.last_grouped_status()) + ")";
    }
    return j;
  }

  [[nodiscard]] std::string device_kind() const override {
    cudaDeviceProp prop{};
    SWITCHSIM_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    const std::string n = prop.name;
    if (n.find("H200") != std::string::npos) return "h200";
    if (n.find("H100") != std::string::npos) return "h100";
    if (n.find("A100") != std::string::npos) return "a100";
    return "gpu";
  }

  [[nodiscard]] MeasuredCeilings measure_ceilings(bool quick) override {
    MeasuredCeilings m;
    m.ceilings.device_kind = device_kind();
    const std::int64_t n = quick ? 4096 : 8192;
    const int repeats = quick ? 5 : 10;
    const double mm_s = time_matmul(n, n, n, repeats).median;
    const std::int64_t copy_bytes = quick ? (256ll << 20) : (1024ll << 20);
    const double copy_s = time_copy(copy_bytes, repeats).median;
    std::vector<double> overhead;
    for (int i = 0; i < 100; ++i) {
      SWITCHSIM_CUDA_CHECK(cudaEventRecord(start_, stream_));
      cuda::launch_empty(stream_);
      SWITCHSIM_CUDA_CHECK(cudaEventRecord(stop_, stream_));
      SWITCHSIM_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0.0f;
      SWITCHSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      overhead.push_back(static_cast<double>(ms) * 1e-3);
    }
    const nlohmann::ordered_json id = identity();
    const double nd = static_cast<double>(n);
    m.ceilings.matrix_flops_per_s = 2.0 * nd * nd * nd / mm_s;
    // Not measured: fp32 CUDA-core peak = SMs * 128 lanes * 2 flops * clock (Hopper).
    m.ceilings.vector_flops_per_s = id["multiprocessors"].get<double>() * 128.0 * 2.0 * id["clock_Hz"].get<double>();
    m.ceilings.memory_Bps = 2.0 * static_cast<double>(copy_bytes) / copy_s;
    m.ceilings.matrix_efficiency = 1.0;
    m.ceilings.memory_efficiency = 1.0;
    m.ceilings.launch_overhead_s = percentiles(overhead).median;
    m.details["matmul"] = {{"m", n}, {"n", n}, {"k", n}, {"precision", "bf16, fp32 accumulate (cublasGemmEx)"},
                           {"median_s", mm_s}};
    m.details["copy"] = {{"bytes", copy_bytes}, {"median_s", copy_s}, {"counted", "bytes read + written"},
                         {"how", "cudaMemcpyAsync device to device"}};
    m.details["launch_overhead"] = "empty kernel between two CUDA events, median of 100";
    m.details["vector_flops_per_s"] = "derived: SMs * 128 * 2 * clock, not measured";
    return m;
  }

  Percentiles time_copy(std::int64_t bytes, int repeats) override {
    DeviceBuffer<char> src(sz(bytes)), dst(sz(bytes));
    SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(src.get(), 1, sz(bytes), stream_));
    std::vector<double> times;
    for (int i = -1; i < repeats; ++i) {
      flush_l2();
      SWITCHSIM_CUDA_CHECK(cudaEventRecord(start_, stream_));
      SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), sz(bytes), cudaMemcpyDeviceToDevice, stream_));
      SWITCHSIM_CUDA_CHECK(cudaEventRecord(stop_, stream_));
      SWITCHSIM_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0.0f;
      SWITCHSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      if (i >= 0) times.push_back(static_cast<double>(ms) * 1e-3);
    }
    return percentiles(times);
  }

  Percentiles time_matmul(std::int64_t m, std::int64_t n, std::int64_t k, int repeats) override {
    // Random operands, not zeros: a GEMM of zeros draws less power and clocks higher than one of
    // real data, which overstates the ceiling (the same seeded values as the layer's problems).
    DeviceBuffer<bf16> a, b, c(sz(m * n));
    upload_bf16(a, random_values(sz(m * k), 1), stream_);
    upload_bf16(b, random_values(sz(k * n), 2), stream_);
    const float alpha = 1.0f, beta = 0.0f;
    std::vector<double> times;
    for (int i = -1; i < repeats; ++i) {
      flush_l2();
      SWITCHSIM_CUDA_CHECK(cudaEventRecord(start_, stream_));
      // Column-major C (n, m) = B^T-view (n, k) . A^T-view (k, m): row-major C = A . B.
      SWITCHSIM_CUDA_CHECK(cublasGemmEx(blas_, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                        static_cast<int>(k), &alpha, b.get(), CUDA_R_16BF, static_cast<int>(n),
                                        a.get(), CUDA_R_16BF, static_cast<int>(k), &beta, c.get(), CUDA_R_16BF,
                                        static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      SWITCHSIM_CUDA_CHECK(cudaEventRecord(stop_, stream_));
      SWITCHSIM_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0.0f;
      SWITCHSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      if (i >= 0) times.push_back(static_cast<double>(ms) * 1e-3);
    }
    return percentiles(times);
  }

 private:
  // InputError("shape") when `bytes` more would not fit the free GPU memory (with 10% to spare).
  static void require_fits(double bytes, const char* what) {
    std::size_t free_bytes = 0, total_bytes = 0;
    SWITCHSIM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (bytes > 0.9 * static_cast<double>(free_bytes)) {
      throw InputError("shape", std::string(what) + " needs about " + std::to_string(bytes / 1073741824.0) +
                                    " GiB of GPU memory, " +
                                    std::to_string(static_cast<double>(free_bytes) / 1073741824.0) + " GiB free");
    }
  }

  void require_loaded() const {
    if (!loaded_) throw InputError("backend", "no problem loaded");
  }

  static std::int64_t scratch_entries(const SwitchLayerConfig& c) {
    return c.dropless ? cuda::dropless_scratch_entries(c.tokens, c.top_k, c.experts)
                      : cuda::capacity_scratch_entries(c.groups(), c.group_tokens(), c.top_k, c.experts);
  }

  // Expert e's block: rows [off, off + n) of the buffer (host_offsets_, set by load in capacity
  // mode and by assign_capacity in dropless mode).
  std::pair<std::int64_t, std::int64_t> block(std::int64_t e) const {
    return {host_offsets_[sz(e)], host_offsets_[sz(e + 1)] - host_offsets_[sz(e)]};
  }

  // Dropless expert FFN: a grouped GEMM over each expert's real rows (grouped_gemm.cuh). The input
  // projections (Wi and, gated, Wi_gate) of every expert go in one grouped call, the output
  // projection in a second; experts with no rows are skipped (their block is empty).
  void dropless_ffn() {
    const auto& c = config_;
    const std::int64_t E = c.experts, d = c.d_model, f = c.d_ff;
    if (host_offsets_.size() != sz(E + 1)) throw InputError("backend", "dropless expert_ffn needs assign_capacity first");
    std::vector<cuda::GemmProblem> in_proj, out_proj;
    for (std::int64_t e = 0; e < E; ++e) {
      const auto [off, n] = block(e);
      if (n == 0) continue;
      in_proj.push_back({buffer_.get() + off * d, wi_.get() + e * d * f, hidden_.get() + off * f, n, f, d});
      if (c.gated()) {
        in_proj.push_back({buffer_.get() + off * d, wi_gate_.get() + e * d * f, gate_hidden_.get() + off * f, n, f, d});
      }
      out_proj.push_back({hidden_.get() + off * f, wo_.get() + e * f * d, expert_out_.get() + off * d, n, d, f});
    }
    grouped_.run(blas_, stream_, gemm_method_, in_proj);
    activation(c.buffer_rows() * f);
    grouped_.run(blas_, stream_, gemm_method_, out_proj);
  }

  void activation(std::int64_t n) {
    if (config_.activation == Activation::swiglu) {
      cuda::launch_swiglu(hidden_.get(), gate_hidden_.get(), n, stream_);
    } else if (config_.activation == Activation::geglu) {
      cuda::launch_geglu(hidden_.get(), gate_hidden_.get(), n, stream_);
    } else {
      cuda::launch_relu(hidden_.get(), n, stream_);
    }
  }

  [[nodiscard]] std::vector<float> to_float(const DeviceBuffer<bf16>& src) const {
    DeviceBuffer<float> tmp(src.size());
    if (src.size() > 0) cuda::launch_bf16_to_float(src.get(), tmp.get(), static_cast<std::int64_t>(src.size()), stream_);
    return download(tmp, stream_);
  }

  void enqueue_backward(SwitchBackwardKernel kernel) {
    const auto& c = config_;
    const std::int64_t T = c.tokens, E = c.experts, k = c.top_k, d = c.d_model;
    switch (kernel) {
      case SwitchBackwardKernel::combine_backward:
        cuda::launch_combine_backward(dy_.get(), expert_out_.get(), expert_.get(), gate_.get(), slot_.get(),
                                      offsets_.get(), d_out_.get(), d_gate_.get(), T, k, E, c.buffer_rows(), d,
                                      stream_);
        break;
      case SwitchBackwardKernel::expert_backward: expert_backward(); break;
      case SwitchBackwardKernel::dispatch_backward:
        cuda::launch_dispatch_backward(d_in_.get(), expert_.get(), slot_.get(), offsets_.get(), dx_expert_.get(), T, k,
                                       E, d, stream_);
        break;
      case SwitchBackwardKernel::router_backward: {
        cuda::launch_router_backward(probs_.get(), expert_.get(), slot_.get(), offsets_.get(), d_gate_.get(),
                                     argmax_count_.get(), c.aux_loss_alpha, dz_.get(), T, E, k, stream_);
        // Row-major dWr (d, E) = x^T dz and dx (T, d) += dz Wr^T, fp32 (cublasSgemm, column-major:
        // each row-major matrix is its transpose). dWr^T (E, d) = dz^T-view (E, T) . x-view^T (T, d);
        // dx^T (d, T) = Wr-view^T (d, E) . dz^T-view (E, T).
        const float one = 1.0f, zero = 0.0f;
        const int Ti = static_cast<int>(T), Ei = static_cast<int>(E), di = static_cast<int>(d);
        // dx = the expert path's dx + the router path's: copied first, so that the kernel can be
        // run again (timed back to back) without accumulating.
        SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(dx_.get(), dx_expert_.get(), dx_.size() * sizeof(float),
                                             cudaMemcpyDeviceToDevice, stream_));
        SWITCHSIM_CUDA_CHECK(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_T, Ei, di, Ti, &one, dz_.get(), Ei,
                                         x_f32_.get(), di, &zero, d_router_.get(), Ei));
        SWITCHSIM_CUDA_CHECK(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, di, Ti, Ei, &one, router_w_.get(), Ei,
                                         dz_.get(), Ei, &one, dx_.get(), di));
        break;
      }
    }
  }

  // Per expert over its block (maths: kernels/cpu/switch_layer_backward_cpu.hpp). Products by kind
  // (all experts' h, then all u, ...), so that capacity mode's equal blocks form one batched group:
  //   1. (gated) h = in Wi, u = in Wg recomputed;  d a = d o Wo^T
  //   2. elementwise: relu mask, or a = phi(h) u, d h, d u
  //   3. dWo = a^T d o, dWi = in^T d h, dWg = in^T d u, d in = d h Wi^T;  4. (gated) d in += d u Wg^T
  void expert_backward() {
    const auto& c = config_;
    const std::int64_t E = c.experts, d = c.d_model, f = c.d_ff, R = c.buffer_rows();
    const bool gated = c.gated();
    if (host_offsets_.size() != sz(E + 1)) throw InputError("backend", "expert_backward needs assign_capacity first");
    std::vector<cuda::GemmProblem> recompute_h, recompute_u, da, dwo, dwi, dwg, din, din_gate;
    for (std::int64_t e = 0; e < E; ++e) {
      const auto [off, n] = block(e);
      if (n == 0) {  // no rows: zero weight gradients
        SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(d_wi_.get() + e * d * f, 0, sz(d * f) * sizeof(bf16), stream_));
        SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(d_wo_.get() + e * f * d, 0, sz(f * d) * sizeof(bf16), stream_));
        if (gated) SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(d_wg_.get() + e * d * f, 0, sz(d * f) * sizeof(bf16), stream_));
        continue;
      }
      const bf16* in_e = buffer_.get() + off * d;
      const bf16* d_out_e = d_out_.get() + off * d;
      const bf16* wi_e = wi_.get() + e * d * f;
      bf16* dh_e = (gated ? bh_.get() : bda_.get()) + off * f;  // relu: d h in place of d a
      const bf16* a_e = (gated ? bact_.get() : hidden_.get()) + off * f;
      if (gated) {
        recompute_h.push_back({in_e, wi_e, bh_.get() + off * f, n, f, d});
        recompute_u.push_back({in_e, wi_gate_.get() + e * d * f, bu_.get() + off * f, n, f, d});
        dwg.push_back({in_e, bu_.get() + off * f, d_wg_.get() + e * d * f, d, f, n, true, false});
        din_gate.push_back({bu_.get() + off * f, wi_gate_.get() + e * d * f, d_in_.get() + off * d, n, d, f, false, true});
      }
      da.push_back({d_out_e, wo_.get() + e * f * d, bda_.get() + off * f, n, f, d, false, true});
      dwo.push_back({a_e, d_out_e, d_wo_.get() + e * f * d, f, d, n, true, false});
      dwi.push_back({in_e, dh_e, d_wi_.get() + e * d * f, d, f, n, true, false});
      din.push_back({dh_e, wi_e, d_in_.get() + off * d, n, d, f, false, true});
    }
    auto join = [](std::initializer_list<const std::vector<cuda::GemmProblem>*> parts) {
      std::vector<cuda::GemmProblem> all;
      for (const auto* p : parts) all.insert(all.end(), p->begin(), p->end());
      return all;
    };
    grouped_.run(blas_, stream_, gemm_method_, join({&recompute_h, &recompute_u, &da}));
    if (gated) {
      cuda::launch_gated_backward(c.activation == Activation::swiglu, bh_.get(), bu_.get(), bda_.get(), bact_.get(),
                                  R * f, stream_);
    } else {
      cuda::launch_relu_backward(hidden_.get(), bda_.get(), R * f, stream_);
    }
    grouped_.run(blas_, stream_, gemm_method_, join({&dwo, &dwi, &dwg, &din}));
    if (gated) grouped_.run(blas_, stream_, gemm_method_, din_gate, 1.0f, 1.0f);
  }

  // ---- timing protocol ----
  // One sample of the GPU time of the work `enqueue` puts on the stream. First one run between two
  // events after an L2 flush (the flush, twice the L2, evicts the previous run's operands, and the
  // GPU is still busy with it while the host enqueues the events and the launches). When that run
  // is short (< 200 us), where the host's launch latency between several launches would show, and
  // `batchable` (no host synchronisation inside `enqueue`), N = ceil(1 ms / t) (2..32) (flush,
  // run) pairs go back to back between one pair of events, the N - 1 flushes between them alone are
  // timed the same way, and the sample is (pairs - flushes) / N: every run still starts with a cold
  // L2, and the queue never drains, so no launch latency is counted. (A sample then costs up to
  // ~3 ms of GPU time: calibrate's 200 repeats of a shape's short kernels stay within seconds.)
  template <class F>
  double time_sample(F&& enqueue, bool batchable) {
    const double single = time_events([&] { enqueue(); });
    if (!batchable || single >= 200e-6) return single;
    const int n = std::clamp(static_cast<int>(std::ceil(1e-3 / std::max(single, 1e-7))), 2, 32);
    const double pairs = time_events([&] {
      for (int i = 0; i < n; ++i) {
        if (i > 0) flush_l2();
        enqueue();
      }
    });
    const double flushes = time_events([&] {
      for (int i = 1; i < n; ++i) flush_l2();
    });
    return std::max(pairs - flushes, 0.0) / n;
  }

  // Seconds between two events around `enqueue`, after an untimed L2 flush that keeps the GPU busy
  // while the host enqueues.
  template <class F>
  double time_events(F&& enqueue) {
    flush_l2();
    SWITCHSIM_CUDA_CHECK(cudaEventRecord(start_, stream_));
    enqueue();
    SWITCHSIM_CUDA_CHECK(cudaEventRecord(stop_, stream_));
    SWITCHSIM_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    SWITCHSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms) * 1e-3;
  }

  void flush_l2() {
    SWITCHSIM_CUDA_CHECK(cudaMemsetAsync(l2_flush_.get(), 0, l2_flush_.size(), stream_));
  }

  // Uniform values in [-1, 1), splitmix64-seeded (as make_random_problem).
  static std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
    std::vector<float> v(n);
    std::uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (auto& x : v) {
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      x = 2.0f * static_cast<float>(z >> 40) * (1.0f / 16777216.0f) - 1.0f;
    }
    return v;
  }

  // Row-major out (batch x (rows, n)) = in (batch x (rows, kdim)) . w (batch x (kdim, n)), bf16 with fp32
  // accumulation. cuBLAS is column-major: compute out^T (n, rows) = w^T (n, kdim) . in^T (kdim, rows),
  // where each row-major matrix is its own transpose in column-major view.
  void batched_gemm(const bf16* in, const bf16* w, bf16* out, std::int64_t batch, std::int64_t rows,
                    std::int64_t kdim, std::int64_t n) {
    const float alpha = 1.0f, beta = 0.0f;
    SWITCHSIM_CUDA_CHECK(cublasGemmStridedBatchedEx(
        blas_, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(rows), static_cast<int>(kdim), &alpha,
        w, CUDA_R_16BF, static_cast<int>(n), kdim * n, in, CUDA_R_16BF, static_cast<int>(kdim), rows * kdim, &beta,
        out, CUDA_R_16BF, static_cast<int>(n), rows * n, static_cast<int>(batch), CUBLAS_COMPUTE_32F,
        CUBLAS_GEMM_DEFAULT));
  }

  void enqueue(SwitchKernel kernel) {
    const auto& c = config_;
    const std::int64_t T = c.tokens, E = c.experts, k = c.top_k, d = c.d_model, f = c.d_ff;
    const std::int64_t S = c.slots_per_expert();
    switch (kernel) {
      case SwitchKernel::router:
        cuda::launch_router_logits(x_.get(), router_w_.get(), probs_.get(), T, d, E, stream_);
        cuda::launch_softmax_topk(probs_.get(), expert_.get(), gate_.get(), T, E, k, stream_);
        cuda::launch_router_stats(probs_.get(), expert_.get(), T, E, k, partial_sum_.get(), partial_count_.get(),
                                  prob_sum_.get(), argmax_count_.get(), stream_);
        break;
      case SwitchKernel::assign_capacity:
        if (c.dropless) {
          cuda::launch_assign_dropless(expert_.get(), T, k, c.group_tokens(), E, chunk_counts_.get(), slot_.get(),
                                       row_source_.get(), expert_load_.get(), offsets_.get(), stream_);
          // The grouped GEMM is sized on the host (cuBLAS takes host size arrays): the loads come
          // back here, so assign_capacity's time includes this small copy and its sync, and
          // expert_ffn's does not (as MegaBlocks' host-side batch sizes).
          host_offsets_.resize(sz(E + 1));
          SWITCHSIM_CUDA_CHECK(cudaMemcpyAsync(host_offsets_.data(), offsets_.get(), sz(E + 1) * sizeof(std::int64_t),
                                               cudaMemcpyDeviceToHost, stream_));
          SWITCHSIM_CUDA_CHECK(cudaStreamSynchronize(stream_));
        } else {
          cuda::launch_assign_capacity(expert_.get(), T, k, c.group_tokens(), E, c.capacity(), chunk_counts_.get(),
                                       slot_.get(), row_source_.get(), expert_load_.get(), stream_);
        }
        break;
      case SwitchKernel::dispatch:
        cuda::launch_dispatch(x_.get(), row_source_.get(), buffer_.get(), c.buffer_rows(), d, stream_);
        break;
      case SwitchKernel::expert_ffn:
        if (c.dropless) {
          dropless_ffn();
          break;
        }
        batched_gemm(buffer_.get(), wi_.get(), hidden_.get(), E, S, d, f);  // (E, S, d_ff)
        if (c.gated()) batched_gemm(buffer_.get(), wi_gate_.get(), gate_hidden_.get(), E, S, d, f);
        activation(E * S * f);
        batched_gemm(hidden_.get(), wo_.get(), expert_out_.get(), E, S, f, d);  // (E, S, d_model)
        break;
      case SwitchKernel::combine:
        cuda::launch_combine(expert_out_.get(), expert_.get(), gate_.get(), slot_.get(), offsets_.get(), y_.get(), T,
                             k, d, stream_);
        break;
    }
  }

  bool loaded_ = false;
  SwitchLayerConfig config_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  DeviceBuffer<bf16> x_;            // (T, d_model)
  DeviceBuffer<float> router_w_;    // (d_model, E) fp32
  DeviceBuffer<bf16> wi_, wi_gate_; // (E, d_model, d_ff)
  DeviceBuffer<bf16> wo_;           // (E, d_ff, d_model)
  DeviceBuffer<float> probs_;       // (T, E) fp32
  DeviceBuffer<std::int32_t> expert_;  // (T, k)
  DeviceBuffer<float> gate_;           // (T, k)
  DeviceBuffer<double> partial_sum_;   // (partials, E)
  DeviceBuffer<std::int32_t> partial_count_;
  DeviceBuffer<double> prob_sum_;         // (E)
  DeviceBuffer<std::int32_t> argmax_count_;  // (E)
  DeviceBuffer<std::int32_t> chunk_counts_;  // (groups, chunks, E)
  DeviceBuffer<std::int32_t> slot_;          // (T, k)
  DeviceBuffer<std::int32_t> row_source_;    // (buffer rows)
  DeviceBuffer<std::int64_t> offsets_;       // (E + 1) first buffer row of each expert's block
  std::vector<std::int64_t> host_offsets_;   // its host copy (empty in dropless mode until assign_capacity)
  cuda::GroupedGemm grouped_;                // dropless products
  cuda::GroupedGemmMethod gemm_method_ = cuda::GroupedGemmMethod::grouped;
  DeviceBuffer<std::int32_t> expert_load_;   // (groups, E)
  DeviceBuffer<char> l2_flush_;               // 2 x L2, written before each timed run
  DeviceBuffer<bf16> buffer_;                // (buffer rows, d_model)
  DeviceBuffer<bf16> hidden_, gate_hidden_;  // (buffer rows, d_ff)
  DeviceBuffer<bf16> expert_out_;            // (buffer rows, d_model)
  DeviceBuffer<bf16> y_;                     // (T, d_model)
  // Backward (sized by set_output_gradient).
  bool backward_ready_ = false;
  int backward_stage_ = 0;                  // backward kernels run so far, in order
  DeviceBuffer<bf16> dy_;                   // (T, d_model)
  DeviceBuffer<bf16> d_out_, d_in_;         // (buffer rows, d_model)
  DeviceBuffer<float> d_gate_;              // (T, k)
  DeviceBuffer<bf16> bh_, bu_, bda_, bact_; // (buffer rows, d_ff): h -> d h, u -> d u, d a (relu: -> d h), a
  DeviceBuffer<bf16> d_wi_, d_wg_, d_wo_;   // weight gradients
  DeviceBuffer<float> x_f32_;               // (T, d_model), x as fp32 for dWr
  DeviceBuffer<float> dx_;                  // (T, d_model)
  DeviceBuffer<float> dx_expert_;           // (T, d_model), the expert path's part
  DeviceBuffer<float> dz_;                  // (T, E) d logits
  DeviceBuffer<float> d_router_;            // (d_model, E)
};

}  // namespace

std::unique_ptr<SwitchLayerBackend> make_cuda_backend() {
  if (cuda_device_count() == 0) {
    throw UnavailableError("--backend cuda: no CUDA device is present (cudaGetDeviceCount found none)");
  }
  return std::make_unique<CudaBackend>();
}

}  // namespace switchsim::kernels
