#include "sim/byte_matrix.hpp"

#include <algorithm>
#include <cstring>

#include "common/errors.hpp"

namespace switchsim::sim {
namespace {

// FNV-1a style mixing over 64-bit words.
std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
  h ^= w;
  h *= 1099511628211ull;
  return h ^ (h >> 29);
}

std::uint64_t bits_of(double x) {
  std::uint64_t w = 0;
  std::memcpy(&w, &x, sizeof w);
  return w;
}

}  // namespace

ByteMatrix::Builder::Builder(std::int32_t n, std::size_t expected_entries) {
  SWITCHSIM_ASSERT(n >= 0, "byte matrix size must be >= 0");
  m_.n_ = n;
  m_.row_start_.reserve(static_cast<std::size_t>(n) + 1);
  m_.entries_.reserve(expected_entries);
}

void ByteMatrix::Builder::add(std::int32_t col, double bytes) {
  SWITCHSIM_ASSERT(col >= 0 && col < m_.n_, "byte matrix column out of range");
  SWITCHSIM_ASSERT(static_cast<std::int32_t>(m_.row_start_.size()) <= m_.n_, "byte matrix: more than n rows");
  m_.entries_.push_back(Entry{col, bytes});
}

void ByteMatrix::Builder::end_row() {
  SWITCHSIM_ASSERT(static_cast<std::int32_t>(m_.row_start_.size()) <= m_.n_, "byte matrix: more than n rows");
  auto& e = m_.entries_;
  const auto first = e.begin() + static_cast<std::ptrdiff_t>(m_.row_start_.back());
  const auto by_col = [](const Entry& a, const Entry& b) { return a.col < b.col; };
  if (!std::is_sorted(first, e.end(), by_col)) std::stable_sort(first, e.end(), by_col);
  // Sum repeated columns and drop zeros, in place.
  auto out = first;
  for (auto it = first; it != e.end();) {
    Entry sum = *it;
    for (++it; it != e.end() && it->col == sum.col; ++it) sum.bytes += it->bytes;
    if (sum.bytes != 0.0) *out++ = sum;
  }
  e.erase(out, e.end());
  m_.row_start_.push_back(e.size());
}

ByteMatrix ByteMatrix::Builder::finish() && {
  SWITCHSIM_ASSERT(static_cast<std::int32_t>(m_.row_start_.size()) == m_.n_ + 1, "byte matrix: end_row() n times");
  m_.seal();
  return std::move(m_);
}

ByteMatrix ByteMatrix::filled(std::int32_t n, double bytes) {
  Builder b(n, bytes != 0.0 ? static_cast<std::size_t>(n) * static_cast<std::size_t>(n) : 0);
  for (std::int32_t i = 0; i < n; ++i) {
    if (bytes != 0.0)
      for (std::int32_t j = 0; j < n; ++j) b.add(j, bytes);
    b.end_row();
  }
  return std::move(b).finish();
}

ByteMatrix ByteMatrix::from_dense(std::int32_t n, std::span<const double> row_major) {
  SWITCHSIM_ASSERT(row_major.size() == static_cast<std::size_t>(n) * static_cast<std::size_t>(n),
                   "dense byte matrix must have n^2 entries");
  Builder b(n);
  for (std::int32_t i = 0; i < n; ++i) {
    const double* row = row_major.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(n);
    for (std::int32_t j = 0; j < n; ++j)
      if (row[j] != 0.0) b.add(j, row[j]);
    b.end_row();
  }
  return std::move(b).finish();
}

double ByteMatrix::at(std::int32_t i, std::int32_t j) const {
  SWITCHSIM_ASSERT(i >= 0 && i < n_ && j >= 0 && j < n_, "byte matrix index out of range");
  const std::span<const Entry> r = row(i);
  if (static_cast<std::int32_t>(r.size()) == n_) return r[static_cast<std::size_t>(j)].bytes;  // full row
  const auto it = std::lower_bound(r.begin(), r.end(), j, [](const Entry& e, std::int32_t c) { return e.col < c; });
  return it != r.end() && it->col == j ? it->bytes : 0.0;
}

double ByteMatrix::row_sum(std::int32_t i) const {
  double s = 0.0;
  for (const Entry& e : row(i)) s += e.bytes;
  return s;
}

ByteMatrix ByteMatrix::transposed() const {
  // Counting sort by column: rows of the transpose come out in increasing column order.
  ByteMatrix t;
  t.n_ = n_;
  t.row_start_.assign(static_cast<std::size_t>(n_) + 1, 0);
  for (const Entry& e : entries_) ++t.row_start_[static_cast<std::size_t>(e.col) + 1];
  for (std::size_t k = 1; k < t.row_start_.size(); ++k) t.row_start_[k] += t.row_start_[k - 1];
  t.entries_.resize(entries_.size());
  std::vector<std::size_t> next(t.row_start_.begin(), t.row_start_.end() - 1);
  for (std::int32_t i = 0; i < n_; ++i)
    for (const Entry& e : row(i)) t.entries_[next[static_cast<std::size_t>(e.col)]++] = Entry{i, e.bytes};
  t.seal();
  return t;
}

std::vector<double> ByteMatrix::dense() const {
  std::vector<double> d(static_cast<std::size_t>(n_) * static_cast<std::size_t>(n_), 0.0);
  for (std::int32_t i = 0; i < n_; ++i)
    for (const Entry& e : row(i)) d[static_cast<std::size_t>(i) * static_cast<std::size_t>(n_) + static_cast<std::size_t>(e.col)] = e.bytes;
  return d;
}

ByteMatrix ByteMatrix::scaled(double factor) const {
  SWITCHSIM_ASSERT(factor > 0.0, "byte matrix scale must be positive");
  ByteMatrix s = *this;
  for (Entry& e : s.entries_) e.bytes *= factor;
  s.seal();
  return s;
}

void ByteMatrix::seal() {
  std::uint64_t h = mix(1469598103934665603ull, static_cast<std::uint64_t>(n_));
  for (std::size_t i = 0; i + 1 < row_start_.size(); ++i) {
    h = mix(h, row_start_[i + 1] - row_start_[i]);
    for (std::size_t k = row_start_[i]; k < row_start_[i + 1]; ++k) {
      h = mix(h, static_cast<std::uint64_t>(entries_[k].col));
      h = mix(h, bits_of(entries_[k].bytes));
    }
  }
  fingerprint_ = h;
}

}  // namespace switchsim::sim
