#include "kernels/cpu/cpu_backend.hpp"

#include <unistd.h>

#include <cblas.h>

#include <chrono>
#include <cstring>

#include "common/errors.hpp"
#include "common/json_io.hpp"
#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/attention_cpu.hpp"
#include "kernels/cpu/optimizer_cpu.hpp"
#include "kernels/cpu/switch_layer_backward_cpu.hpp"
#include "kernels/cpu/switch_layer_cpu.hpp"
#include "kernels/host_info.hpp"

namespace switchsim::kernels {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

// Bytes the CPU backend holds for a problem: inputs, weights, buffers.
double footprint_bytes(const SwitchLayerConfig& c) {
  const double T = static_cast<double>(c.tokens), d = static_cast<double>(c.d_model);
  const double f = static_cast<double>(c.d_ff), E = static_cast<double>(c.experts);
  const double rows = static_cast<double>(c.buffer_rows()), k = static_cast<double>(c.top_k);
  const double p = static_cast<double>(c.input_projections());
  const double floats = 2 * T * d + T * E + d * E + (p + 1) * E * d * f + 2 * rows * d + p * rows * f;
  return 4.0 * floats + 12.0 * T * k + 4.0 * rows;
}

class CpuBackend final : public SwitchLayerBackend {
 public:
  [[nodiscard]] std::string name() const override { return "cpu"; }
  [[nodiscard]] Precision precision() const override { return Precision::fp32; }

  void load(const SwitchLayerProblem& problem) override {
    problem.config.validate();
    const double need = footprint_bytes(problem.config) * 2.0;  // the problem itself is a second copy
    const double have = physical_memory_bytes();
    if (have > 0.0 && need > 0.8 * have) {
      throw InputError("shape", "needs about " + std::to_string(need / 1073741824.0) + " GiB, this machine has " +
                                    std::to_string(have / 1073741824.0) + " GiB");
    }
    problem_ = problem;
    routing_ = RouterOutput{};
    assignment_ = CapacityAssignment{};
    dy_.clear();
    scratch_ = cpu::SwitchLayerBackwardScratch{};
    grads_ = SwitchLayerGradients{};
    // Size every buffer now so that timed runs do not allocate.
    const auto& c = problem_.config;
    probs_.assign(static_cast<std::size_t>(c.tokens * c.experts), 0.0f);
    loaded_ = true;
    run(SwitchKernel::router);
    run(SwitchKernel::assign_capacity);
    run(SwitchKernel::dispatch);
    run(SwitchKernel::expert_ffn);
    run(SwitchKernel::combine);
  }

  void set_routing(const RouterOutput& routing) override {
    require_loaded();
    const auto n = static_cast<std::size_t>(problem_.config.tokens * problem_.config.top_k);
    if (routing.expert.size() != n || routing.gate.size() != n) {
      throw InputError("routing", "expert and gate must have tokens*top_k entries");
    }
    routing_ = routing;
  }

  double run(SwitchKernel kernel) override {
    require_loaded();
    const auto& c = problem_.config;
    const auto start = Clock::now();
    switch (kernel) {
      case SwitchKernel::router:
        cpu::route(c, problem_.x.data(), problem_.weights.router.data(), probs_, routing_);
        break;
      case SwitchKernel::assign_capacity: cpu::assign_capacity(c, routing_.expert, assignment_); break;
      case SwitchKernel::dispatch: cpu::dispatch(c, problem_.x.data(), assignment_, buffer_); break;
      case SwitchKernel::expert_ffn:
        cpu::expert_ffn(c, problem_.weights, assignment_, buffer_, hidden_, gate_hidden_, expert_out_);
        break;
      case SwitchKernel::combine:
        cpu::combine(c, routing_.expert, routing_.gate, assignment_, expert_out_, y_);
        break;
    }
    return seconds_since(start);
  }

  // The backward: the cpu:: functions of switch_layer_backward_cpu.hpp on this backend's forward
  // state. ReLU uses the forward's relu(h) (expert_ffn's hidden), GEGLU and SwiGLU recompute h and u
  // from the dispatch buffer, as the CUDA backend does.
  [[nodiscard]] bool has_backward() const override { return true; }

  void set_output_gradient(const std::vector<float>& dy) override {
    require_loaded();
    if (static_cast<std::int64_t>(dy.size()) != problem_.config.tokens * problem_.config.d_model) {
      throw InputError("dy", "must have tokens*d_model entries");
    }
    dy_ = dy;
  }

  double run_backward(SwitchBackwardKernel kernel) override {
    require_loaded();
    const auto& c = problem_.config;
    const auto rows = static_cast<std::size_t>(c.buffer_rows());
    auto need = [](bool ok, const char* what) {
      if (!ok) throw InputError("backend", what);
    };
    need(dy_.size() == static_cast<std::size_t>(c.tokens * c.d_model), "set_output_gradient before the backward");
    const auto start = Clock::now();
    switch (kernel) {
      case SwitchBackwardKernel::combine_backward:
        cpu::combine_backward(c, routing_.gate, routing_.expert, assignment_, expert_out_, dy_, scratch_);
        break;
      case SwitchBackwardKernel::expert_backward:
        need(scratch_.d_out.size() == rows * static_cast<std::size_t>(c.d_model), "combine_backward first");
        cpu::expert_backward(c, problem_.weights, assignment_, buffer_, scratch_, grads_, c.gated() ? nullptr : &hidden_);
        break;
      case SwitchBackwardKernel::dispatch_backward:
        need(scratch_.d_in.size() == rows * static_cast<std::size_t>(c.d_model), "expert_backward first");
        cpu::dispatch_backward(c, routing_.expert, assignment_, scratch_, grads_);
        break;
      case SwitchBackwardKernel::router_backward:
        need(grads_.dx.size() == static_cast<std::size_t>(c.tokens * c.d_model) &&
                 scratch_.d_gate.size() == static_cast<std::size_t>(c.tokens * c.top_k),
             "combine_backward and dispatch_backward first");
        cpu::router_backward(c, problem_.x.data(), problem_.weights.router.data(), probs_, routing_, assignment_,
                             scratch_, grads_);
        break;
    }
    return seconds_since(start);
  }

  [[nodiscard]] SwitchLayerGradients gradients() const override { return grads_; }

  [[nodiscard]] RouterOutput router_output() const override { return routing_; }
  [[nodiscard]] CapacityAssignment assignment() const override { return assignment_; }
  [[nodiscard]] std::vector<float> output() const override { return y_; }

  [[nodiscard]] json identity() const override {
    json j;
    j["kind"] = device_kind();
    j["name"] = cpu_model_name();
    j["threads"] = cpu::hardware_threads();
    j["blas_threads"] = openblas_get_num_threads();
    j["memory_bytes"] = physical_memory_bytes();
    j["blas"] = "OpenBLAS (cblas_sgemm, fp32)";
    return j;
  }
  [[nodiscard]] std::string device_kind() const override { return "cpu"; }

  [[nodiscard]] MeasuredCeilings measure_ceilings(bool quick) override {
    MeasuredCeilings m;
    m.ceilings.device_kind = device_kind();
    const std::int64_t n = quick ? 1024 : 2048;
    const int repeats = quick ? 3 : 5;
    const double mm_s = time_matmul(n, n, n, repeats).median;
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    const std::int64_t copy_bytes = quick ? (64ll << 20) : (256ll << 20);
    const double copy_s = time_copy(copy_bytes, repeats).median;
    // Launch overhead: one empty parallel_for over every hardware thread.
    std::vector<double> overhead;
    for (int i = 0; i < 50; ++i) {
      const auto start = Clock::now();
      cpu::parallel_chunks(cpu::hardware_threads(), 1, cpu::hardware_threads(),
                           [](int, std::int64_t, std::int64_t) {});
      overhead.push_back(seconds_since(start));
    }
    m.ceilings.matrix_flops_per_s = flops / mm_s;
    m.ceilings.vector_flops_per_s = m.ceilings.matrix_flops_per_s;
    m.ceilings.memory_Bps = 2.0 * static_cast<double>(copy_bytes) / copy_s;
    m.ceilings.matrix_efficiency = 1.0;
    m.ceilings.memory_efficiency = 1.0;
    m.ceilings.launch_overhead_s = percentiles(overhead).median;
    m.details["matmul"] = {{"m", n}, {"n", n}, {"k", n}, {"precision", "fp32"}, {"median_s", mm_s}};
    m.details["copy"] = {{"bytes", copy_bytes}, {"median_s", copy_s}, {"counted", "bytes read + written"}};
    m.details["launch_overhead"] = "empty parallel_for over every hardware thread";
    return m;
  }

  Percentiles time_copy(std::int64_t bytes, int repeats) override {
    std::vector<char> src(static_cast<std::size_t>(bytes), 1), dst(static_cast<std::size_t>(bytes), 0);
    std::vector<double> times;
    for (int i = -1; i < repeats; ++i) {
      const auto start = Clock::now();
      cpu::parallel_for(bytes, 1 << 20, [&](std::int64_t b, std::int64_t e) {
        std::memcpy(dst.data() + b, src.data() + b, static_cast<std::size_t>(e - b));
      });
      if (i >= 0) times.push_back(seconds_since(start));  // i = -1 is the warm-up
    }
    return percentiles(times);
  }

  Percentiles time_matmul(std::int64_t m, std::int64_t n, std::int64_t k, int repeats) override {
    std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f), b(static_cast<std::size_t>(k * n), 0.25f),
        c(static_cast<std::size_t>(m * n), 0.0f);
    std::vector<double> times;
    for (int i = -1; i < repeats; ++i) {
      const auto start = Clock::now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                  static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k), b.data(), static_cast<int>(n), 0.0f,
                  c.data(), static_cast<int>(n));
      if (i >= 0) times.push_back(seconds_since(start));
    }
    return percentiles(times);
  }

  std::optional<AttentionTiming> time_attention(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                                                int repeats) override {
    const cpu::AttentionShape shape{batch, m, n, k};
    std::vector<float> q(static_cast<std::size_t>(batch * m * k), 0.5f), kk(static_cast<std::size_t>(batch * n * k), 0.25f),
        v(kk.size(), 0.125f), d_o(q.size(), 1.0f), p, o, dp, dq, dk, dv;
    std::vector<double> fwd, bwd;
    for (int i = -1; i < repeats; ++i) {
      auto start = Clock::now();
      cpu::attention_forward(shape, q, kk, v, p, o);
      if (i >= 0) fwd.push_back(seconds_since(start));
      start = Clock::now();
      cpu::attention_backward(shape, q, kk, v, p, o, d_o, dp, dq, dk, dv);
      if (i >= 0) bwd.push_back(seconds_since(start));
    }
    return AttentionTiming{percentiles(fwd), percentiles(bwd)};
  }

  std::optional<Percentiles> time_adam(std::int64_t params, int repeats) override {
    const auto n = static_cast<std::size_t>(params);
    std::vector<float> grad(n, 1e-3f), weight(n, 0.5f), m(n, 0.0f), v(n, 0.0f);
    std::vector<double> times;
    cpu::AdamSettings settings;
    for (int i = -1; i < repeats; ++i) {
      const auto start = Clock::now();
      cpu::adam_update(settings, grad, weight, m, v);
      if (i >= 0) times.push_back(seconds_since(start));
      ++settings.step;
    }
    return percentiles(times);
  }

 private:
  void require_loaded() const {
    if (!loaded_) throw InputError("backend", "no problem loaded");
  }
  bool loaded_ = false;
  SwitchLayerProblem problem_;
  RouterOutput routing_;
  CapacityAssignment assignment_;
  std::vector<float> probs_, buffer_, hidden_, gate_hidden_, expert_out_, y_;
  std::vector<float> dy_;                    // (T, d_model), set_output_gradient
  cpu::SwitchLayerBackwardScratch scratch_;  // between the backward kernels
  SwitchLayerGradients grads_;
};

}  // namespace

std::unique_ptr<SwitchLayerBackend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

void set_cpu_blas_threads(int n) {
  if (n < 0) throw InputError("--blas-threads", "must be 0 (one per hardware thread) or positive");
  openblas_set_num_threads(n > 0 ? n : cpu::hardware_threads());
}

int cpu_blas_threads() { return openblas_get_num_threads(); }

}  // namespace switchsim::kernels
