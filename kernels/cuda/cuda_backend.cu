// The CUDA backend: owns device buffers, a stream, a cuBLAS handle and two
// events; each run() is timed with CUDA events around the kernel's launches.

#include "kernels/cuda/cuda_backend.hpp"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/errors.hpp"
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
    flush_l2();
    SWITCHSIM_CUDA_CHECK(cudaEventRecord(start_, stream_));
    enqueue(kernel);
    SWITCHSIM_CUDA_CHECK(cudaEventRecord(stop_, stream_));
    SWITCHSIM_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    SWITCHSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms) * 1e-3;
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
    DeviceBuffer<float> tmp(y_.size());
    cuda::launch_bf16_to_float(y_.get(), tmp.get(), static_cast<std::int64_t>(y_.size()), stream_);
    return download(tmp, stream_);
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
};

}  // namespace

std::unique_ptr<SwitchLayerBackend> make_cuda_backend() {
  if (cuda_device_count() == 0) {
    throw UnavailableError("--backend cuda: no CUDA device is present (cudaGetDeviceCount found none)");
  }
  return std::make_unique<CudaBackend>();
}

}  // namespace switchsim::kernels
