// sim/byte_matrix: the sparse byte matrix against its dense definition.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "sim/byte_matrix.hpp"
#include "sim/traffic_patterns.hpp"

using switchsim::sim::ByteMatrix;

namespace {

// A random n x n dense matrix with about `density` of its entries non-zero.
std::vector<double> random_dense(std::int32_t n, double density, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> d(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), 0.0);
  for (double& x : d)
    if (u(rng) < density) x = std::floor(u(rng) * 1000.0) + 1.0;
  return d;
}

}  // namespace

TEST_CASE("byte matrix: at() and dense() reproduce the dense input, zeros dropped", "[sim][byte_matrix]") {
  for (const double density : {0.0, 0.05, 0.3, 1.0}) {
    const std::int32_t n = 37;
    const std::vector<double> d = random_dense(n, density, 11);
    const ByteMatrix m = ByteMatrix::from_dense(n, d);
    CHECK(m.n() == n);
    std::int64_t nonzero = 0;
    for (std::int32_t i = 0; i < n; ++i) {
      double row = 0.0;
      for (std::int32_t j = 0; j < n; ++j) {
        const double x = d[static_cast<std::size_t>(i * n + j)];
        CHECK(m.at(i, j) == x);
        row += x;
        nonzero += x != 0.0 ? 1 : 0;
      }
      CHECK(m.row_sum(i) == Approx(row).epsilon(1e-15));
      for (std::size_t k = 1; k < m.row(i).size(); ++k) CHECK(m.row(i)[k - 1].col < m.row(i)[k].col);
    }
    CHECK(m.nonzeros() == nonzero);
    CHECK(m.dense() == d);
  }
}

TEST_CASE("byte matrix: the builder sorts a row and sums repeated columns", "[sim][byte_matrix]") {
  ByteMatrix::Builder b(3);
  b.add(2, 5.0);
  b.add(0, 1.0);
  b.add(2, 2.0);
  b.end_row();
  b.end_row();  // empty row
  b.add(1, 4.0);
  b.add(1, -4.0);  // sums to zero: dropped
  b.end_row();
  const ByteMatrix m = std::move(b).finish();
  CHECK(m.dense() == std::vector<double>{1.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0});
  CHECK(m.nonzeros() == 2);
}

TEST_CASE("byte matrix: transposed() is the transpose, twice is the original", "[sim][byte_matrix]") {
  const std::int32_t n = 29;
  const std::vector<double> d = random_dense(n, 0.2, 5);
  const ByteMatrix m = ByteMatrix::from_dense(n, d);
  const ByteMatrix t = m.transposed();
  for (std::int32_t i = 0; i < n; ++i)
    for (std::int32_t j = 0; j < n; ++j) CHECK(t.at(j, i) == m.at(i, j));
  CHECK(t.transposed().dense() == d);
  CHECK(t.transposed().fingerprint() == m.fingerprint());
}

TEST_CASE("byte matrix: the fingerprint follows the contents", "[sim][byte_matrix]") {
  const std::vector<double> d = random_dense(16, 0.5, 3);
  const ByteMatrix a = ByteMatrix::from_dense(16, d);
  const ByteMatrix b = ByteMatrix::from_dense(16, d);
  CHECK(a.fingerprint() == b.fingerprint());
  std::vector<double> moved = d;  // the same values in another column
  std::swap(moved[0], moved[1]);
  if (moved != d) CHECK(ByteMatrix::from_dense(16, moved).fingerprint() != a.fingerprint());
  CHECK(a.scaled(2.0).fingerprint() != a.fingerprint());
  CHECK(a.scaled(2.0).at(3, 4) == 2.0 * a.at(3, 4));
  CHECK(ByteMatrix::from_dense(16, std::vector<double>(256, 0.0)).fingerprint() !=
        ByteMatrix::from_dense(15, std::vector<double>(225, 0.0)).fingerprint());
}

TEST_CASE("byte matrix: filled() is the uniform all-to-all", "[sim][byte_matrix]") {
  const ByteMatrix m = ByteMatrix::filled(6, 2.5);
  CHECK(m.nonzeros() == 36);
  CHECK(m.dense() == std::vector<double>(36, 2.5));
  CHECK(ByteMatrix::filled(6, 0.0).nonzeros() == 0);
}

TEST_CASE("byte matrix: random traffic rows carry tokens x bytes per token", "[sim][byte_matrix]") {
  const ByteMatrix m = switchsim::sim::random_all_to_all(64, switchsim::sim::TrafficPattern::zipf, 1.2, 100, 8.0, 1);
  for (std::int32_t i = 0; i < 64; ++i) {
    CHECK(m.row_sum(i) == Approx(800.0).epsilon(1e-12));
    CHECK(m.row(i).size() <= 100u);  // at most one entry per token
  }
}
