#pragma once
// parallel_for over [0, n) on std::threads: one contiguous chunk per thread,
// threads = min(hardware threads, n / min_chunk), at least 1 (then it runs on
// the calling thread with no thread started). Chunks are fixed by n and the
// thread count, so a reduction that combines per-chunk results in chunk order
// is deterministic on a given machine.

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace switchsim::kernels::cpu {

[[nodiscard]] inline int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// fn(chunk_index, begin, end)
template <class Fn>
void parallel_chunks(std::int64_t n, std::int64_t min_chunk, int chunks, Fn&& fn) {
  if (n <= 0) return;
  if (chunks <= 1) {
    fn(0, std::int64_t{0}, n);
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(chunks - 1));
  const std::int64_t step = (n + chunks - 1) / chunks;
  (void)min_chunk;
  for (int c = 1; c < chunks; ++c) {
    const std::int64_t begin = std::min(n, c * step);
    const std::int64_t end = std::min(n, begin + step);
    threads.emplace_back([&fn, c, begin, end] { fn(c, begin, end); });
  }
  fn(0, std::int64_t{0}, std::min(n, step));
  for (auto& t : threads) t.join();
}

[[nodiscard]] inline int chunk_count(std::int64_t n, std::int64_t min_chunk) {
  const std::int64_t by_work = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, min_chunk));
  return static_cast<int>(std::min<std::int64_t>(hardware_threads(), by_work));
}

// fn(begin, end)
template <class Fn>
void parallel_for(std::int64_t n, std::int64_t min_chunk, Fn&& fn) {
  parallel_chunks(n, min_chunk, chunk_count(n, min_chunk),
                  [&fn](int, std::int64_t begin, std::int64_t end) { fn(begin, end); });
}

}  // namespace switchsim::kernels::cpu
