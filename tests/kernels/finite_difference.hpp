#pragma once
// Central finite differences, the oracle of the backward-kernel tests: the relative error
// sqrt(sum (g_i - fd_i)^2 / sum fd_i^2) of an analytic gradient over every `stride`-th entry
// of x, fd_i = (L(x + eps e_i) - L(x - eps e_i)) / (2 eps), with `loss` evaluated in float64
// on x as it stands (entries are perturbed in place and restored).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace switchsim::kernels::test {

template <class Loss>
double finite_difference_error(std::vector<double>& x, const std::vector<float>& analytic, std::size_t stride,
                               Loss&& loss, double eps = 1e-5) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < x.size(); i += stride) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = loss();
    x[i] = keep - eps;
    const double down = loss();
    x[i] = keep;
    const double fd = (up - down) / (2.0 * eps);
    num += (analytic[i] - fd) * (analytic[i] - fd);
    den += fd * fd;
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

}  // namespace switchsim::kernels::test
