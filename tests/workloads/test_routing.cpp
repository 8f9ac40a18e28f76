// The drop model against exact expectations (DESIGN.md 2.5 oracle).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <vector>

#include "common/errors.hpp"
#include "workloads/routing.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

TEST_CASE("capacity is ceil(cf * k * G / E)", "[routing]") {
  CHECK(expert_capacity(1.0, 1, 1024, 128) == 8);     // 1024/128 = 8
  CHECK(expert_capacity(1.25, 1, 1024, 128) == 10);   // 10 exactly
  CHECK(expert_capacity(1.1, 1, 1000, 10) == 110);    // 110.00000000000001 in doubles, still 110
  CHECK(expert_capacity(1.0, 2, 1024, 128) == 16);    // top-2 doubles it
  CHECK(expert_capacity(0.5, 1, 100, 128) == 1);      // ceil(0.39) = 1
  CHECK_THROWS_AS(expert_capacity(0.0, 1, 100, 8), InputError);
  CHECK_THROWS_AS(expert_capacity(-1.0, 1, 100, 8), InputError);
}

TEST_CASE("binomial excess against exact enumeration of every assignment", "[routing]") {
  // G = 6 tokens, E = 3 experts: all 3^6 = 729 assignments equally likely.
  // Expected drops per group = mean over assignments of sum_e max(0, n_e - C).
  const int G = 6;
  const int E = 3;
  for (int C = 0; C <= 6; ++C) {
    double total = 0.0;
    for (int code = 0; code < 729; ++code) {
      int n[3] = {0, 0, 0};
      int c = code;
      for (int t = 0; t < G; ++t) {
        n[c % 3] += 1;
        c /= 3;
      }
      for (int e = 0; e < E; ++e) total += std::max(0, n[e] - C);
    }
    const double enumerated = total / 729.0;
    INFO("C=" << C);
    CHECK(expected_uniform_top1_drops(G, E, C) == Approx(enumerated).margin(1e-12));
  }
}

TEST_CASE("Monte Carlo drops match E * E[max(0, X - C)] within 4 standard errors", "[routing]") {
  struct Case {
    std::int64_t G, E;
    double cf;
  };
  const Case cases[] = {{1024, 128, 1.0}, {1024, 128, 1.25}, {512, 16, 1.0}, {4096, 64, 1.5}, {256, 32, 0.5}};
  RoutingSpec spec;  // uniform
  for (const Case& c : cases) {
    const std::int64_t C = expert_capacity(c.cf, 1, c.G, c.E);
    const double expected = expected_uniform_top1_drops(c.G, c.E, C);
    Rng rng(42);
    RoutingSampler sampler(spec, c.E, 1, rng);
    const int groups = 400;
    double sum = 0.0;
    double sum2 = 0.0;
    std::vector<std::int64_t> counts(static_cast<std::size_t>(c.E));
    std::vector<std::int64_t> processed(counts.size());
    for (int g = 0; g < groups; ++g) {
      std::fill(counts.begin(), counts.end(), 0);
      sampler.sample_group(rng, c.G, g, counts.data());
      const double d = static_cast<double>(apply_capacity(counts.data(), c.E, C, ExecutionMode::capacity, processed.data()));
      sum += d;
      sum2 += d * d;
    }
    const double mean = sum / groups;
    const double var = sum2 / groups - mean * mean;
    const double se = std::sqrt(var / groups);
    INFO("G=" << c.G << " E=" << c.E << " cf=" << c.cf << " C=" << C << " expected=" << expected << " mean=" << mean);
    CHECK(std::abs(mean - expected) <= 4.0 * se + 1e-9);
    CHECK(expected > 0.0);  // each case must drop something, or the check is vacuous
  }
}

TEST_CASE("more capacity never drops more, dropless never drops", "[routing]") {
  RoutingSpec spec = parse_routing("zipf:1.1");
  const std::int64_t E = 64, G = 2048;
  std::vector<std::int64_t> counts(E), processed(E);
  Rng rng(7);
  RoutingSampler sampler(spec, E, 2, rng);
  sampler.sample_group(rng, G, 0, counts.data());
  std::int64_t previous = -1;
  for (double cf : {2.0, 1.5, 1.25, 1.0, 0.75, 0.5}) {  // decreasing capacity: drops must not decrease
    const std::int64_t C = expert_capacity(cf, 2, G, E);
    const std::int64_t d = apply_capacity(counts.data(), E, C, ExecutionMode::capacity, processed.data());
    CHECK(d >= previous);
    previous = d;
    CHECK(apply_capacity(counts.data(), E, C, ExecutionMode::dropless, processed.data()) == 0);
  }
  CHECK(previous > 0);  // zipf at cf 0.5 must drop
}

TEST_CASE("top-2 makes 2G assignments to distinct experts", "[routing]") {
  RoutingSpec spec = parse_routing("dirichlet:0.01");  // very concentrated: repeats get redrawn
  std::vector<std::int64_t> counts(8);
  Rng rng(3);
  RoutingSampler sampler(spec, 8, 2, rng);
  sampler.sample_group(rng, 100, 0, counts.data());
  std::int64_t total = 0;
  for (auto n : counts) {
    total += n;
    CHECK(n <= 100);  // distinct experts: at most one assignment per token per expert
  }
  CHECK(total == 200);
}

TEST_CASE("same seed, same counts", "[routing]") {
  for (const char* text : {"uniform", "zipf:1.3", "dirichlet:0.5"}) {
    RoutingSpec spec = parse_routing(text);
    std::vector<std::int64_t> a(32), b(32);
    Rng r1(99), r2(99);
    RoutingSampler s1(spec, 32, 1, r1), s2(spec, 32, 1, r2);
    s1.sample_group(r1, 1000, 0, a.data());
    s2.sample_group(r2, 1000, 0, b.data());
    CHECK(a == b);
  }
}

TEST_CASE("trace routing rescales recorded counts", "[routing]") {
  const std::string path = "test_routing_trace.json";
  {
    std::ofstream out(path);
    out << R"({"experts": 4, "groups": [[10, 0, 0, 10], [5, 5, 5, 5]]})";
  }
  RoutingSpec spec = parse_routing("trace:" + path);
  Rng rng(1);
  RoutingSampler sampler(spec, 4, 1, rng);
  std::vector<std::int64_t> c(4);
  sampler.sample_group(rng, 8, 0, c.data());  // 10:0:0:10 scaled to 8 tokens -> 4,0,0,4
  CHECK(c == std::vector<std::int64_t>{4, 0, 0, 4});
  CHECK_THROWS_AS(check_routing_for_model(spec, 8), InputError);
  {
    std::ofstream out(path);
    out << R"({"experts": 4, "groups": [[1, 2, 3]]})";
  }
  try {
    (void)parse_routing("trace:" + path);
    FAIL("expected InputError");
  } catch (const InputError& e) {
    CHECK(e.field().find("groups[0]") != std::string::npos);
  }
  std::remove(path.c_str());
}

TEST_CASE("bad routing text is an input error", "[routing]") {
  CHECK_THROWS_AS(parse_routing("zipf"), InputError);
  CHECK_THROWS_AS(parse_routing("zipf:-1"), InputError);
  CHECK_THROWS_AS(parse_routing("gauss:1"), InputError);
  CHECK_THROWS_AS(parse_routing("trace:/nonexistent.json"), InputError);
  CHECK_THROWS_AS(parse_mode("padded"), InputError);
}
