#pragma once
// Seeded random numbers that are the same on every platform.
//
// std::mt19937_64's output sequence is fixed by the C++ standard, but the
// std::*_distribution classes are implementation-defined (libstdc++, libc++
// and MSVC give different numbers for the same engine). So the distributions
// here are written out:
//   uniform01     (x >> 11) * 2^-53 : the top 53 bits of one engine output, in [0, 1)
//   normal        Box-Muller from two uniforms (u1 in (0, 1]); uses the cached second value
//   gamma(a)      Marsaglia-Tsang (2000) for a >= 1; for a < 1: gamma(a + 1) * U^(1/a)
//   dirichlet(a)  independent gamma(a_i), normalized
//   categorical   Vose's alias method, tables built in a fixed order; the column from
//                 below32 and the coin from a 32-bit uniform
//   small ints    bits(n) / below32(n) share one 64-bit engine output between several draws
// The only platform dependence left is the last bit of libm's log/sqrt/cos/pow,
// which IEEE 754 does not pin down for all of them; glibc, musl and macOS agree
// on the inputs seen in practice.

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace switchsim::workloads {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang extension, silenced for -Wpedantic

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  [[nodiscard]] std::uint64_t next64() { return engine_(); }
  [[nodiscard]] double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n): the 64-bit product's high word (Lemire), no modulo bias worth counting for n << 2^64.
  [[nodiscard]] std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<Uint128>(engine_()) * n) >> 64);
  }
  // `nbits` (1..32) uniform random bits, taken from a buffered engine output so that one
  // 64-bit output serves several small draws (e.g. 9 draws of 7 bits for 128 experts).
  [[nodiscard]] std::uint32_t bits(int nbits) {
    if (bits_left_ < nbits) {
      buffer_ = engine_();
      bits_left_ = 64;
    }
    const auto out = static_cast<std::uint32_t>(buffer_ & ((std::uint64_t{1} << nbits) - 1));
    buffer_ >>= nbits;
    bits_left_ -= nbits;
    return out;
  }
  // Uniform integer in [0, n) for n <= 2^32 from 32 buffered bits (Lemire's multiply-shift;
  // bias at most n / 2^32, exactly 0 when n is a power of two).
  [[nodiscard]] std::uint32_t below32(std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(bits(32)) * n) >> 32);
  }
  [[nodiscard]] double normal();
  [[nodiscard]] double gamma(double shape);
  [[nodiscard]] std::vector<double> dirichlet(const std::vector<double>& alpha);

 private:
  std::mt19937_64 engine_;
  std::uint64_t buffer_ = 0;
  int bits_left_ = 0;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Draws from a fixed discrete distribution in O(1) (Vose's alias method).
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& weights);
  [[nodiscard]] std::int64_t sample(Rng& rng) const;
  [[nodiscard]] std::int64_t size() const { return static_cast<std::int64_t>(prob_.size()); }

 private:
  std::vector<double> prob_;
  std::vector<std::int64_t> alias_;
};

}  // namespace switchsim::workloads
