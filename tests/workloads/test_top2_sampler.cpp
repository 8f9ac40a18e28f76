// Uniform top-2 routing over a power-of-two expert count (workloads/routing.cpp): the fast path
// draws the same bits in the same order as the general top-k loop, so the same counts.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "workloads/routing.hpp"

using namespace switchsim;

TEST_CASE("routing: uniform top-2 over 2^n experts draws as the general top-k loop", "[workloads][routing]") {
  // routing.cpp's k = 2 path against the general loop written here: the same bits, the same counts.
  for (std::int64_t E : {2, 8, 64}) {
    int log2E = 0;
    while ((std::int64_t{1} << log2E) < E) ++log2E;
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      workloads::Rng a(seed), b(seed);
      workloads::RoutingSpec spec;
      const workloads::RoutingSampler sampler(spec, E, 2, a);
      std::vector<std::int64_t> fast(static_cast<std::size_t>(E), 0), slow(fast);
      sampler.sample_group(a, 4096, 0, fast.data());
      for (int t = 0; t < 4096; ++t) {
        const auto e0 = static_cast<std::int64_t>(b.bits(log2E));
        auto e1 = static_cast<std::int64_t>(b.bits(log2E));
        int tries = 0;
        while (e1 == e0) e1 = ++tries < 64 ? static_cast<std::int64_t>(b.bits(log2E)) : (e1 + 1) % E;
        slow[static_cast<std::size_t>(e0)] += 1;
        slow[static_cast<std::size_t>(e1)] += 1;
      }
      CHECK(fast == slow);
      CHECK(a.next64() == b.next64());  // the same bits consumed
    }
  }
}
