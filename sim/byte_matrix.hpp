#pragma once
// An n x n matrix of bytes: at(i, j) is what participant i sends to participant
// j in an all-to-all. Stored by rows, non-zero entries only (compressed sparse
// rows), and immutable once built.
//
// Why sparse: a dropless Switch layer with one expert per device sends each
// device's T routed tokens to at most T of the n devices. Switch-C on 2048
// cores has T = 512 (x top-1) per device, so a row has at most 512 of 2048
// entries (~450 distinct on uniform routing: n (1 - (1 - 1/n)^T)), and a step
// builds two such matrices per Switch layer (forward and its transpose). Dense,
// those were 32 MiB each and their zero-filling dominated the step (see
// bench/RESULTS.md); sparse they are ~7 MiB and every pass over them (hash,
// load model, traffic sum) touches only what is sent.
//
// Entries of a row are kept in increasing column order, so at(i, j) is a
// binary search (a direct index when the row is full). The fingerprint is a
// 64-bit hash of (n, every entry) computed once at construction: equal
// matrices have equal fingerprints, and collective memos key on it.
// Entries are not validated here (negative or non-finite bytes are kept, as
// given); simulate_collective rejects them.

#include <cstdint>
#include <span>
#include <vector>

namespace switchsim::sim {

class ByteMatrix {
 public:
  struct Entry {
    std::int32_t col = 0;
    double bytes = 0.0;
  };

  // Builds row by row: add() entries of the current row in any order (a column
  // added twice is summed), end_row() after each of the n rows, then finish().
  class Builder;

  ByteMatrix() = default;
  // n x n with every entry `bytes` (zeros dropped: bytes == 0 gives an empty matrix).
  [[nodiscard]] static ByteMatrix filled(std::int32_t n, double bytes);
  // From a dense row-major n x n vector; zero entries are dropped.
  [[nodiscard]] static ByteMatrix from_dense(std::int32_t n, std::span<const double> row_major);

  [[nodiscard]] std::int32_t n() const { return n_; }
  [[nodiscard]] double at(std::int32_t i, std::int32_t j) const;
  [[nodiscard]] std::span<const Entry> row(std::int32_t i) const {
    return {entries_.data() + row_start_[static_cast<std::size_t>(i)],
            entries_.data() + row_start_[static_cast<std::size_t>(i) + 1]};
  }
  [[nodiscard]] double row_sum(std::int32_t i) const;
  [[nodiscard]] std::int64_t nonzeros() const { return static_cast<std::int64_t>(entries_.size()); }
  [[nodiscard]] std::uint64_t fingerprint() const { return fingerprint_; }
  [[nodiscard]] ByteMatrix transposed() const;
  // Row-major n x n (memory n^2 doubles: for small n, e.g. JSON output and tests).
  [[nodiscard]] std::vector<double> dense() const;
  // A copy with every entry multiplied by `factor` (> 0).
  [[nodiscard]] ByteMatrix scaled(double factor) const;

  // Heap bytes held by a matrix with `entries` non-zeros and n rows (resource estimates).
  [[nodiscard]] static double storage_bytes(double n, double entries) {
    return (n + 1.0) * sizeof(std::size_t) + entries * sizeof(Entry);
  }

 private:
  void seal();  // computes the fingerprint

  std::int32_t n_ = 0;
  std::vector<std::size_t> row_start_{0};  // n + 1 offsets into entries_
  std::vector<Entry> entries_;
  std::uint64_t fingerprint_ = 0;
};

class ByteMatrix::Builder {
 public:
  explicit Builder(std::int32_t n, std::size_t expected_entries = 0);
  void add(std::int32_t col, double bytes);
  void end_row();
  [[nodiscard]] ByteMatrix finish() &&;

 private:
  ByteMatrix m_;
};

}  // namespace switchsim::sim
