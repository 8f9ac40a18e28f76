// The radix completion queue (sim/completion_queue.hpp) against a reference:
// a plain list of (key, flow) entries searched in full, under the operations
// and key patterns FlowNetwork uses (keys never below the current time, the
// time only moving forward, stale entries, keys below the last minimum).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "sim/completion_queue.hpp"

using switchsim::sim::CompletionQueue;
using switchsim::sim::FlowId;

namespace {

// What the queue must answer, computed the slow way: `live[f]` is flow f's
// current key (NaN: finished); an entry (key, f) is valid iff live[f] == key.
struct Reference {
  std::vector<double> live;
  std::multiset<std::pair<double, FlowId>> entries;
  [[nodiscard]] bool valid(double key, FlowId f) const { return live[static_cast<std::size_t>(f)] == key; }
  [[nodiscard]] double min_valid() const {
    for (const auto& [k, f] : entries) {
      if (valid(k, f)) return k;
    }
    return HUGE_VAL;
  }
  // Valid flows with key <= horizon, sorted by flow; they leave the reference.
  std::vector<FlowId> take_until(double horizon) {
    std::vector<FlowId> out;
    for (auto it = entries.begin(); it != entries.end() && it->first <= horizon;) {
      if (valid(it->first, it->second)) out.push_back(it->second);
      it = entries.erase(it);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

TEST_CASE("completion queue: smallest key, then everything up to a horizon", "[completion_queue]") {
  CompletionQueue q;
  CHECK(q.min_valid([](const auto&) { return true; }) == HUGE_VAL);
  // Keys 3, 1, 2, 2, 8 for flows 0..4; flow 2's entry is stale (its key is now 5).
  std::vector<double> key = {3.0, 1.0, 2.0, 2.0, 8.0};
  for (FlowId f = 0; f < 5; ++f) q.push(key[static_cast<std::size_t>(f)], f);
  key[2] = 5.0;
  q.push(5.0, 2);
  auto valid = [&](const CompletionQueue::Entry& e) { return key[static_cast<std::size_t>(e.flow)] == e.key; };
  CHECK(q.size() == 6);
  CHECK(q.min_valid(valid) == 1.0);
  std::vector<FlowId> got;
  auto take = [&](FlowId f) { got.push_back(f); };
  q.take_until(2.5, valid, take);  // flows 1 (1.0) and 3 (2.0); flow 2's stale 2.0 is dropped
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<FlowId>{1, 3});
  CHECK(q.min_valid(valid) == 3.0);
  // A key below the last minimum taken (2.0 was taken): served first.
  key[4] = 2.25;
  q.push(2.25, 4);
  CHECK(q.min_valid(valid) == 2.25);
  got.clear();
  q.take_until(10.0, valid, take);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<FlowId>{0, 2, 4});
  CHECK(q.min_valid(valid) == HUGE_VAL);
  CHECK(q.empty());
}

TEST_CASE("completion queue: take_in_order stops at the first valid entry that is not due", "[completion_queue]") {
  CompletionQueue q;
  // Equal keys are visited by flow id; flow 7 (key 1) is not due, so 9 (key 1) and 4 (key 2) stay.
  q.push(2.0, 4);
  q.push(1.0, 9);
  q.push(1.0, 7);
  q.push(1.0, 3);
  q.push(0.5, 8);
  auto valid = [](const CompletionQueue::Entry&) { return true; };
  std::vector<FlowId> got;
  q.take_in_order(valid, [](const CompletionQueue::Entry& e) { return e.flow != 7; },
                  [&](FlowId f) { got.push_back(f); });
  CHECK(got == std::vector<FlowId>{8, 3});
  CHECK(q.size() == 3);
  got.clear();
  q.take_in_order(valid, [](const CompletionQueue::Entry&) { return true; }, [&](FlowId f) { got.push_back(f); });
  CHECK(got == std::vector<FlowId>{7, 9, 4});
}

TEST_CASE("completion queue: random operations match the reference", "[completion_queue]") {
  for (const unsigned seed : {1u, 2u, 3u, 4u}) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    constexpr FlowId kFlows = 3000;
    CompletionQueue q;
    Reference ref;
    ref.live.assign(kFlows, std::nan(""));
    double now = 0.0;
    auto set_key = [&](FlowId f, double k) {
      ref.live[static_cast<std::size_t>(f)] = k;
      ref.entries.insert({k, f});
      q.push(k, f);
    };
    auto valid = [&](const CompletionQueue::Entry& e) { return ref.valid(e.key, e.flow); };
    FlowId next_flow = 0;
    for (int step = 0; step < 4000; ++step) {
      const double r = u(rng);
      if (r < 0.45 && next_flow < kFlows) {
        // New flows finish a little or a lot later than now (some exactly together).
        const double k = u(rng) < 0.2 ? std::floor(now) + 1.0 : now + std::pow(10.0, -3.0 + 4.0 * u(rng));
        set_key(next_flow++, k);
      } else if (r < 0.75 && next_flow > 0) {
        // Re-rate an active flow: a new key not below now, the old entry goes stale.
        const auto f = static_cast<FlowId>(rng() % static_cast<std::uint64_t>(next_flow));
        if (!std::isnan(ref.live[static_cast<std::size_t>(f)])) set_key(f, now + 0.5 * u(rng));
      } else if (r < 0.8) {
        // Compaction as FlowNetwork does it: rebuild from the live keys.
        q.clear(now);
        ref.entries.clear();
        for (FlowId f = 0; f < next_flow; ++f) {
          const double k = ref.live[static_cast<std::size_t>(f)];
          if (!std::isnan(k)) set_key(f, k);
        }
      } else {
        // An event: the smallest valid key, or an earlier time (a delivery),
        // and everything due by a horizon a little past it.
        const double m = ref.min_valid();
        REQUIRE(q.min_valid(valid) == m);
        if (m == HUGE_VAL) continue;
        now = u(rng) < 0.3 ? now + (m - now) * u(rng) : m;
        const double horizon = now + 1e-9 * u(rng);
        std::vector<FlowId> got;
        q.take_until(horizon, valid, [&](FlowId f) { got.push_back(f); });
        std::sort(got.begin(), got.end());
        got.erase(std::unique(got.begin(), got.end()), got.end());
        const std::vector<FlowId> want = ref.take_until(horizon);
        REQUIRE(got == want);
        for (const FlowId f : want) ref.live[static_cast<std::size_t>(f)] = std::nan("");
      }
    }
  }
}
