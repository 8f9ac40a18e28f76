#pragma once
// The Adam update on the CPU, fp32 (Kingma & Ba 2015, with bias correction):
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Bytes per parameter: reads g, w, m, v and writes w, m, v: 28 B, the figure the
// step builder prices Adam's update with (workloads/step_builder.cpp), so calibrate
// measures OpKind::optimizer at the bytes the step asks about.

#include <cstdint>
#include <vector>

namespace switchsim::kernels::cpu {

struct AdamSettings {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  std::int64_t step = 1;  // t >= 1
};

inline constexpr double kAdamBytesPerParam = 28.0;

void adam_update(const AdamSettings& s, const std::vector<float>& grad, std::vector<float>& weight,
                 std::vector<float>& m, std::vector<float>& v);

}  // namespace switchsim::kernels::cpu
