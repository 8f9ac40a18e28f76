#pragma once
// Index conversions shared by the CPU kernels: BLAS takes int dimensions, the
// buffers are indexed with size_t; the kernels compute in int64.

#include <cstddef>
#include <cstdint>
#include <limits>

#include "common/errors.hpp"

namespace switchsim::kernels::cpu {

// A matrix dimension or leading dimension for cblas_* (checked: it must fit an int).
inline int blas_int(std::int64_t v) {
  SWITCHSIM_ASSERT(v >= 0 && v <= std::numeric_limits<int>::max(), "matrix dimension exceeds BLAS int");
  return static_cast<int>(v);
}

// A buffer index or size.
inline std::size_t sz(std::int64_t v) { return static_cast<std::size_t>(v); }

}  // namespace switchsim::kernels::cpu
