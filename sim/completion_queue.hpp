#pragma once
// The flow network's queue of predicted completion times (flow_network.hpp):
// a radix heap.
//
// Entries are (key, flow), key >= 0 a predicted finish time. A flow's entry
// goes stale when its rate changes (the network pushes a new one and drops the
// old one when it surfaces), so the queue takes one push per rate change and
// is asked only for the smallest valid key and for every entry up to a
// horizon. Two facts make a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan,
// "Faster algorithms for the shortest path problem", JACM 1990) fit:
// the smallest key taken out only grows, and a key pushed is never below the
// current simulated time.
//
// Keys are compared as the bit patterns of non-negative doubles, which order
// like the doubles. With m the bit pattern of the last minimum taken, an entry
// with bits b >= m sits in bucket 0 when b == m, else in bucket
// 1 + floor(log2(b xor m)) (its highest bit that differs from m). Pushing is
// an append. When bucket 0 is empty, the lowest non-empty bucket i is emptied:
// m becomes its smallest key, and its entries, which agree with the new m on
// every bit above i - 1, move to buckets below i. So an entry moves at most 64
// times in its life (a few in practice) and every move is an append, where a
// binary heap pays log n scattered moves per pop (that was 12-16% of the 32x32
// mesh-file all-to-all and of `recommend`; bench/RESULTS.md).
// Every entry of bucket 0 has the key m: the minimum of the radix part.
//
// Buckets above 0 are lists of fixed blocks of entries from one pool: an
// emptied bucket returns its blocks at once, so the queue holds about as much
// memory as it has entries (per-bucket growable arrays would each keep their
// largest size: +25% peak memory on the 32x32 mesh-file all-to-all). Bucket 0
// is a plain array (it is sorted by flow for take_in_order).
//
// A key below m cannot enter a bucket: it happens when a flow is re-rated at
// an event that comes before the last minimum (a delivery, or flows added by
// dependent transfers). Such keys go to `early`, an ordinary 4-ary min-heap;
// all its keys are below m (m only grows), so it is served first.
//
// Stale entries. Each entry carries the caller's tag (FlowNetwork: the flow's
// generation, bumped at every push and when the flow ends), and the
// operations take two predicates: `valid` (the exact test, done on entries
// that reach the front) and `stale` (a cheap one that may miss some: a tag
// that no longer matches). Stale entries are dropped whenever a bucket is
// emptied, and drop_stale() sweeps them all (the network's compaction).
//
// The answers (the smallest valid key; the set of valid entries up to a
// horizon) are those of any exact priority queue: which entries are stale is
// decided by the caller's `valid`, and the caller sorts what it takes.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "sim/sharing_policy.hpp"

namespace switchsim::sim {

class CompletionQueue {
 public:
  struct Entry {
    double key;
    FlowId flow;
    std::uint16_t tag;
  };
  static_assert(sizeof(Entry) == 16);

  void push(double key, FlowId flow, std::uint16_t tag) {
    const Entry e{key, flow, tag};
    const std::uint64_t b = bits(key);
    if (b < last_) {
      early_push(e);
      return;
    }
    const int i = bucket_of(b);
    if (i == 0) {
      zero_.push_back(e);
      zero_sorted_ = false;
    } else {
      append(static_cast<std::size_t>(i), e);
    }
    ++radix_size_;
  }

  [[nodiscard]] std::size_t size() const { return radix_size_ + early_.size(); }
  [[nodiscard]] bool empty() const { return size() == 0; }

  // Drops every entry `stale` names (keeps the others where they are).
  template <class Stale>
  void drop_stale(Stale&& stale) {
    for (std::size_t i = 1; i < kBuckets; ++i) {
      Bucket& bucket = bucket_[i];
      const std::size_t nblocks = bucket.blocks.size();
      if (nblocks == 0) continue;
      // Repack the kept entries to the front of the bucket's blocks.
      std::size_t read = 0;
      std::size_t write = 0;
      const std::size_t total = (nblocks - 1) * kBlock + bucket.tail;
      for (; read < total; ++read) {
        const Entry& e = at(bucket, read);
        if (!stale(e)) at(bucket, write++) = e;
      }
      radix_size_ -= total - write;
      const std::size_t keep_blocks = (write + kBlock - 1) / kBlock;
      free_.insert(free_.end(), bucket.blocks.begin() + static_cast<std::ptrdiff_t>(keep_blocks), bucket.blocks.end());
      bucket.blocks.resize(keep_blocks);
      bucket.tail = keep_blocks == 0 ? kBlock : static_cast<std::uint32_t>(write - (keep_blocks - 1) * kBlock);
      if (keep_blocks == 0) nonempty_ &= ~(std::uint64_t{1} << (i - 1));
    }
    const std::size_t zero_before = zero_.size();
    zero_.erase(std::remove_if(zero_.begin(), zero_.end(), [&](const Entry& e) { return stale(e); }), zero_.end());
    radix_size_ -= zero_before - zero_.size();
    early_.erase(std::remove_if(early_.begin(), early_.end(), [&](const Entry& e) { return stale(e); }), early_.end());
    early_make();
  }

  // Empties the queue; later keys are expected at or above `floor` (smaller
  // ones still work, through `early`).
  void clear(double floor = 0.0) {
    for (std::size_t i = 1; i < kBuckets; ++i) release(i);
    zero_.clear();
    early_.clear();
    radix_size_ = 0;
    zero_sorted_ = false;
    last_ = bits(floor);
  }

  // The smallest key among valid entries (+infinity when there is none);
  // invalid entries met on the way are dropped.
  template <class Valid, class Stale>
  [[nodiscard]] double min_valid(Valid&& valid, Stale&& stale) {
    while (!early_.empty() && !valid(early_.front())) early_pop();
    if (!early_.empty()) return early_.front().key;
    while (settle(stale)) {
      while (!zero_.empty() && !valid(zero_.back())) {
        zero_.pop_back();
        --radix_size_;
      }
      if (!zero_.empty()) return zero_.back().key;
    }
    return std::numeric_limits<double>::infinity();
  }

  // Removes every entry with key <= horizon (and possibly invalid ones
  // beyond) and calls take(flow) for each valid one removed.
  template <class Valid, class Stale, class Take>
  void take_until(double horizon, Valid&& valid, Stale&& stale, Take&& take) {
    while (!early_.empty()) {
      const Entry e = early_.front();
      const bool ok = valid(e);
      if (ok && e.key > horizon) return;  // every radix key is larger still
      early_pop();
      if (ok) take(e.flow);
    }
    while (settle(stale)) {
      if (zero_.front().key > horizon) return;  // bucket 0 holds one key: the minimum
      for (const Entry& e : zero_) {
        if (valid(e)) take(e.flow);
      }
      radix_size_ -= zero_.size();
      zero_.clear();
    }
  }

  // Visits entries in increasing (key, flow) order, removing each and calling
  // take(flow) for the valid ones, and stops at the first valid entry for
  // which due(entry) is false (it stays, with everything after it).
  template <class Valid, class Stale, class Due, class Take>
  void take_in_order(Valid&& valid, Stale&& stale, Due&& due, Take&& take) {
    while (!early_.empty()) {
      const Entry e = early_.front();
      const bool ok = valid(e);
      if (ok && !due(e)) return;
      early_pop();
      if (ok) take(e.flow);
    }
    while (settle(stale)) {
      if (!zero_sorted_) {
        // One key in bucket 0: order by flow id, the smallest at the back.
        std::sort(zero_.begin(), zero_.end(), [](const Entry& a, const Entry& b) { return a.flow > b.flow; });
        zero_sorted_ = true;
      }
      while (!zero_.empty()) {
        const Entry e = zero_.back();
        const bool ok = valid(e);
        if (ok && !due(e)) return;
        zero_.pop_back();
        --radix_size_;
        if (ok) take(e.flow);
      }
    }
  }

 private:
  static constexpr std::size_t kBuckets = 65;
  static constexpr std::uint32_t kBlock = 256;  // entries per block (4 KiB)
  struct Block {
    Entry entry[kBlock];
  };
  struct Bucket {
    std::vector<std::int32_t> blocks;  // pool indices; all full but the last
    std::uint32_t tail = kBlock;       // entries in the last block
  };

  static std::uint64_t bits(double key) { return std::bit_cast<std::uint64_t>(key + 0.0); }  // -0 -> +0
  [[nodiscard]] int bucket_of(std::uint64_t b) const {
    return b == last_ ? 0 : 64 - std::countl_zero(b ^ last_);
  }

  void append(std::size_t i, const Entry& e) {
    Bucket& bucket = bucket_[i];
    if (bucket.tail == kBlock) {
      std::int32_t id = 0;
      if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
      } else {
        id = static_cast<std::int32_t>(pool_.size());
        pool_.push_back(std::unique_ptr<Block>(new Block));  // not zeroed
      }
      bucket.blocks.push_back(id);
      bucket.tail = 0;
      nonempty_ |= std::uint64_t{1} << (i - 1);
    }
    pool_[static_cast<std::size_t>(bucket.blocks.back())]->entry[bucket.tail++] = e;
  }
  Entry& at(const Bucket& bucket, std::size_t index) {
    return pool_[static_cast<std::size_t>(bucket.blocks[index / kBlock])]->entry[index % kBlock];
  }
  void release(std::size_t i) {
    Bucket& bucket = bucket_[i];
    free_.insert(free_.end(), bucket.blocks.begin(), bucket.blocks.end());
    bucket.blocks.clear();
    bucket.tail = kBlock;
    nonempty_ &= ~(std::uint64_t{1} << (i - 1));
  }

  // Makes bucket 0 non-empty when the radix part has entries; false when it has none.
  // Entries `stale` names are dropped from the bucket emptied instead of moved.
  template <class Stale>
  bool settle(Stale&& stale) {
    if (!zero_.empty()) return true;
    while (nonempty_ != 0) {
      const auto i = static_cast<std::size_t>(std::countr_zero(nonempty_) + 1);
      Bucket& from = bucket_[i];
      const std::size_t nblocks = from.blocks.size();
      const std::uint32_t tail = from.tail;
      auto count = [&](std::size_t k) { return k + 1 == nblocks ? tail : kBlock; };
      moving_.swap(from.blocks);
      from.tail = kBlock;
      nonempty_ &= ~(std::uint64_t{1} << (i - 1));
      std::uint64_t m = std::numeric_limits<std::uint64_t>::max();
      std::size_t kept = 0;
      for (std::size_t k = 0; k < nblocks; ++k) {
        Block& block = *pool_[static_cast<std::size_t>(moving_[k])];
        // Compact the entries kept to the front of their block (count(k) becomes `n`).
        std::uint32_t n = 0;
        for (std::uint32_t j = 0; j < count(k); ++j) {
          if (!stale(block.entry[j])) block.entry[n++] = block.entry[j];
        }
        radix_size_ -= count(k) - n;
        counts_.push_back(n);
        kept += n;
        for (std::uint32_t j = 0; j < n; ++j) m = std::min(m, bits(block.entry[j].key));
      }
      if (kept == 0) {  // every entry was stale: the bucket is simply gone
        free_.insert(free_.end(), moving_.begin(), moving_.end());
        moving_.clear();
        counts_.clear();
        continue;
      }
      last_ = m;
      // Every entry moves below i; each block goes back to the pool once read
      // (the moves may reuse it at once).
      for (std::size_t k = 0; k < nblocks; ++k) {
        const Block& block = *pool_[static_cast<std::size_t>(moving_[k])];
        const std::uint32_t n = counts_[k];
        for (std::uint32_t j = 0; j < n; ++j) {
          const Entry& e = block.entry[j];
          const int to = bucket_of(bits(e.key));  // < i
          if (to == 0) {
            zero_.push_back(e);
          } else {
            append(static_cast<std::size_t>(to), e);
          }
        }
        free_.push_back(moving_[k]);
      }
      moving_.clear();
      counts_.clear();
      zero_sorted_ = false;
      return true;
    }
    return false;
  }

  // The 4-ary min-heap of early keys, ties by flow id.
  static bool before(const Entry& a, const Entry& b) { return a.key < b.key || (a.key == b.key && a.flow < b.flow); }
  void early_push(Entry e) {
    std::size_t i = early_.size();
    early_.push_back(e);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!before(e, early_[parent])) break;
      early_[i] = early_[parent];
      i = parent;
    }
    early_[i] = e;
  }
  void early_make() {
    if (early_.size() < 2) return;
    std::vector<Entry> entries;
    entries.swap(early_);
    for (const Entry& e : entries) early_push(e);
  }
  void early_pop() {
    const Entry e = early_.back();
    early_.pop_back();
    const std::size_t n = early_.size();
    if (n == 0) return;
    std::size_t i = 0;
    while (true) {
      const std::size_t c = 4 * i + 1;
      if (c >= n) break;
      std::size_t best = c;
      const std::size_t end = std::min(c + 4, n);
      for (std::size_t j = c + 1; j < end; ++j) {
        if (before(early_[j], early_[best])) best = j;
      }
      if (!before(early_[best], e)) break;
      early_[i] = early_[best];
      i = best;
    }
    early_[i] = e;
  }

  std::array<Bucket, kBuckets> bucket_;       // [0] unused: bucket 0 is zero_
  std::vector<Entry> zero_;                   // bucket 0: entries with key m
  std::vector<std::unique_ptr<Block>> pool_;  // every block ever used
  std::vector<std::int32_t> free_;            // blocks of pool_ not in a bucket
  std::vector<std::int32_t> moving_;          // settle(): the blocks being emptied
  std::vector<std::uint32_t> counts_;         // settle(): the entries kept in each
  std::uint64_t last_ = 0;      // m: bits of the last minimum taken (0 = key 0.0)
  std::uint64_t nonempty_ = 0;  // bit i - 1: bucket i (1..64) has entries
  std::size_t radix_size_ = 0;  // entries in buckets, zero_ included
  bool zero_sorted_ = false;    // zero_ in decreasing flow order (take_in_order)
  std::vector<Entry> early_;
};

}  // namespace switchsim::sim
