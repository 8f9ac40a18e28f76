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
  auto none = [](const CompletionQueue::Entry&) { return false; };
  CHECK(q.min_valid([](const auto&) { return true; }, none) == HUGE_VAL);
  // Keys 3, 1, 2, 2, 8 for flows 0..4; flow 2's entry is stale (its key is now 5).
  std::vector<double> key = {3.0, 1.0, 2.0, 2.0, 8.0};
  for (FlowId f = 0; f < 5; ++f) q.push(key[static_cast<std::size_t>(f)], f, 0);
  key[2] = 5.0;
  q.push(5.0, 2, 0);
  auto valid = [&](const CompletionQueue::Entry& e) { return key[static_cast<std::size_t>(e.flow)] == e.key; };
  CHECK(q.size() == 6);
  CHECK(q.min_valid(valid, none) == 1.0);
  std::vector<FlowId> got;
  auto take = [&](FlowId f) { got.push_back(f); };
  q.take_until(2.5, valid, none, take);  // flows 1 (1.0) and 3 (2.0); flow 2's stale 2.0 is dropped
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<FlowId>{1, 3});
  CHECK(q.min_valid(valid, none) == 3.0);
  // A key below the last minimum taken (2.0 was taken): served first.
  key[4] = 2.25;
  q.push(2.25, 4, 0);
  CHECK(q.min_valid(valid, none) == 2.25);
  got.clear();
  q.take_until(10.0, valid, none, take);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<FlowId>{0, 2, 4});
  CHECK(q.min_valid(valid, none) == HUGE_VAL);
  CHECK(q.empty());
}

TEST_CASE("completion queue: take_in_order stops at the first valid entry that is not due", "[completion_queue]") {
  CompletionQueue q;
  // Equal keys are visited by flow id; flow 7 (key 1) is not due, so 9 (key 1) and 4 (key 2) stay.
  q.push(2.0, 4, 0);
  q.push(1.0, 9, 0);
  q.push(1.0, 7, 0);
  q.push(1.0, 3, 0);
  q.push(0.5, 8, 0);
  auto valid = [](const CompletionQueue::Entry&) { return true; };
  auto none = [](const CompletionQueue::Entry&) { return false; };
  std::vector<FlowId> got;
  q.take_in_order(valid, none, [](const CompletionQueue::Entry& e) { return e.flow != 7; },
                  [&](FlowId f) { got.push_back(f); });
  CHECK(got == std::vector<FlowId>{8, 3});
  CHECK(q.size() == 3);
  got.clear();
  q.take_in_order(valid, none, [](const CompletionQueue::Entry&) { return true; }, [&](FlowId f) { got.push_back(f); });
  CHECK(got == std::vector<FlowId>{7, 9, 4});
}

TEST_CASE("completion queue: drop_stale keeps exactly the entries that are not stale", "[completion_queue]") {
  CompletionQueue q;
  // 2000 entries over many buckets (keys 1 .. 2^20), a few below the last minimum later on.
  std::vector<std::uint16_t> tag(2000, 0);
  for (FlowId f = 0; f < 2000; ++f) q.push(1.0 + static_cast<double>(f) * f / 4.0, f, 0);
  auto stale = [&](const CompletionQueue::Entry& e) { return tag[static_cast<std::size_t>(e.flow)] != e.tag; };
  auto valid = [&](const CompletionQueue::Entry& e) { return !stale(e); };
  std::vector<FlowId> got;
  q.take_until(1.0, valid, stale, [&](FlowId f) { got.push_back(f); });  // flow 0 (key 1)
  CHECK(got == std::vector<FlowId>{0});
  q.push(0.5, 0, 1);  // below the last minimum: the early heap
  tag[0] = 1;
  for (FlowId f = 1; f < 2000; f += 3) tag[static_cast<std::size_t>(f)] = 7;  // every third goes stale
  q.drop_stale(stale);
  std::size_t kept = 1;  // flow 0's new entry
  for (FlowId f = 1; f < 2000; ++f) kept += tag[static_cast<std::size_t>(f)] == 0 ? 1 : 0;
  CHECK(q.size() == kept);
  got.clear();
  q.take_until(HUGE_VAL, valid, stale, [&](FlowId f) { got.push_back(f); });
  std::sort(got.begin(), got.end());
  REQUIRE(got.size() == kept);
  CHECK(got.front() == 0);
  for (std::size_t i = 1; i < got.size(); ++i) CHECK(tag[static_cast<std::size_t>(got[i])] == 0);
}

TEST_CASE("completion queue: random operations match the reference", "[completion_queue]") {
  for (const unsigned seed : {1u, 2u, 3u, 4u}) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    constexpr FlowId kFlows = 3000;
    CompletionQueue q;
    Reference ref;
    ref.live.assign(kFlows, std::nan(""));
    std::vector<std::uint16_t> gen(kFlows, 0);  // as FlowNetwork: bumped at each push and at the end
    double now = 0.0;
    auto set_key = [&](FlowId f, double k) {
      ref.live[static_cast<std::size_t>(f)] = k;
      ref.entries.insert({k, f});
      q.push(k, f, ++gen[static_cast<std::size_t>(f)]);
    };
    auto stale = [&](const CompletionQueue::Entry& e) { return gen[static_cast<std::size_t>(e.flow)] != e.tag; };
    auto valid = [&](const CompletionQueue::Entry& e) { return !stale(e) && ref.valid(e.key, e.flow); };
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
        q.drop_stale(stale);  // compaction, as FlowNetwork does it
      } else {
        // An event: the smallest valid key, or an earlier time (a delivery),
        // and everything due by a horizon a little past it.
        const double m = ref.min_valid();
        REQUIRE(q.min_valid(valid, stale) == m);
        if (m == HUGE_VAL) continue;
        now = u(rng) < 0.3 ? now + (m - now) * u(rng) : m;
        const double horizon = now + 1e-9 * u(rng);
        std::vector<FlowId> got;
        q.take_until(horizon, valid, stale, [&](FlowId f) { got.push_back(f); });
        std::sort(got.begin(), got.end());
        got.erase(std::unique(got.begin(), got.end()), got.end());
        const std::vector<FlowId> want = ref.take_until(horizon);
        REQUIRE(got == want);
        for (const FlowId f : want) {
          ref.live[static_cast<std::size_t>(f)] = std::nan("");
          ++gen[static_cast<std::size_t>(f)];
        }
      }
    }
  }
}
