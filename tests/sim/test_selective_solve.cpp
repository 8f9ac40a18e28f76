// The selective max-min re-solve (flow_network.hpp) against the full one, and
// strict priority between traffic classes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "bench/support/torus_mesh_file.hpp"
#include "sim/collective.hpp"
#include "sim/flow_network.hpp"
#include "topology/mesh_file.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::topology::Link;
using switchsim::topology::LinkId;

namespace {

struct Spec {
  std::vector<LinkId> path;
  double bytes;
  double multiplicity;
  std::uint8_t priority;
  double start_s;  // added at the first event at or after this time
};

// Runs the flows of `specs` (added in waves at their start times) to the end;
// returns each flow's finish time.
std::vector<double> run(const std::vector<Link>& links, const std::vector<Spec>& specs, SolveMode mode, double eps,
                        bool strict, std::int64_t* resolved = nullptr, bool packed = true) {
  FlowNetwork net(links, make_sharing_policy(SharingKind::max_min));
  if (!packed) net.set_pack_limit(0);
  net.set_solve_mode(mode);
  net.set_completion_window(eps);
  net.set_strict_priority(strict);
  std::vector<std::size_t> order(specs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return specs[a].start_s < specs[b].start_s; });
  std::vector<double> finish(specs.size(), -1.0);
  std::vector<std::size_t> spec_of;
  std::size_t next = 0;
  auto add_due = [&] {
    while (next < order.size() && specs[order[next]].start_s <= net.now_s()) {
      const Spec& s = specs[order[next]];
      net.add_flow(s.path, s.bytes, s.multiplicity, s.priority);
      spec_of.push_back(order[next]);
      ++next;
    }
  };
  add_due();
  net.update_rates();
  std::vector<FlowId> done;
  while (!net.active().empty() || next < order.size()) {
    const double arrival = next < order.size() ? specs[order[next]].start_s : INFINITY;
    if (arrival < net.next_completion_s()) {
      net.advance_to(arrival);
    } else {
      net.advance_to(net.next_completion_s());
      done.clear();
      net.collect_finished(done);
      for (const FlowId f : done) finish[spec_of[static_cast<std::size_t>(f)]] = net.now_s();
    }
    add_due();
    net.update_rates();
  }
  if (resolved != nullptr) *resolved = net.flows_resolved();
  return finish;
}

// A random graph of `nodes` vertices and `edges` links, and `flows` random walks over it.
void random_case(unsigned seed, std::vector<Link>& links, std::vector<Spec>& specs, int classes) {
  std::mt19937 rng(seed);
  const int nodes = 12;
  std::uniform_real_distribution<double> bw(10e9, 100e9);
  for (int i = 0; i < 40; ++i) {
    const int a = static_cast<int>(rng() % nodes);
    const int b = (a + 1 + static_cast<int>(rng() % (nodes - 1))) % nodes;
    links.push_back(Link{a, b, bw(rng), 0.0, 1.0, topology::LinkKind::ici});
  }
  std::uniform_real_distribution<double> bytes(1e6, 1e8);
  std::uniform_real_distribution<double> start(0.0, 2e-3);
  for (int f = 0; f < 300; ++f) {
    Spec s;
    const int len = 1 + static_cast<int>(rng() % 5);
    for (int k = 0; k < len; ++k) {
      const auto l = static_cast<LinkId>(rng() % links.size());
      if (std::find(s.path.begin(), s.path.end(), l) == s.path.end()) s.path.push_back(l);
    }
    s.bytes = bytes(rng);
    s.multiplicity = (rng() % 4 == 0) ? 1.0 + static_cast<double>(rng() % 3) : 1.0;
    s.priority = static_cast<std::uint8_t>(rng() % static_cast<unsigned>(classes));
    s.start_s = (rng() % 3 == 0) ? start(rng) : 0.0;
    specs.push_back(std::move(s));
  }
}

double max_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i] > 0.0);
    worst = std::max(worst, std::abs(a[i] - b[i]) / b[i]);
  }
  return worst;
}

}  // namespace

TEST_CASE("selective re-solve: same finish times as the full solve on random flows", "[sim][network][selective]") {
  for (const unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    for (const double eps : {0.0, 0.01}) {
      for (const bool strict : {false, true}) {
        std::vector<Link> links;
        std::vector<Spec> specs;
        random_case(seed, links, specs, strict ? 3 : 1);
        std::int64_t resolved_full = 0, resolved_selective = 0;
        const auto full = run(links, specs, SolveMode::full, eps, strict, &resolved_full);
        const auto selective = run(links, specs, SolveMode::selective, eps, strict, &resolved_selective);
        INFO("seed " << seed << " eps " << eps << " strict " << strict);
        CHECK(max_relative_difference(selective, full) <= 1e-9);
        // And it does less work: fewer flows handed to the solver.
        CHECK(resolved_selective < resolved_full);
        // Paths referenced in place (the large-problem path) give the same times.
        const auto in_place = run(links, specs, SolveMode::selective, eps, strict, nullptr, false);
        CHECK(max_relative_difference(in_place, full) <= 1e-9);
      }
    }
  }
}

TEST_CASE("selective re-solve: collective makespans on torus mesh files equal the full solve", "[sim][collective][selective]") {
  // Shortest-path ECMP on a torus given as a mesh file: many distinct rates and
  // completion times (the case the selective re-solve is for).
  for (const int n : {4, 6}) {
    const auto mesh = topology::mesh_from_json(bench::torus_mesh_json(n), "torus");
    for (const auto op : {CollectiveOp::all_to_all, CollectiveOp::all_reduce}) {
      CollectiveRequest req;
      req.op = op;
      req.bytes_per_device = 16.0 * 1048576;
      req.network.solve = SolveMode::full;
      const auto full = simulate_collective(mesh, req);
      req.network.solve = SolveMode::selective;
      const auto selective = simulate_collective(mesh, req);
      INFO("n " << n << " op " << to_string(op));
      CHECK(full.rate_updates > 10);
      CHECK(std::abs(selective.time_s - full.time_s) <= 1e-9 * full.time_s);
      // (Event counts may differ by a few: completions within 1e-9 of each
      // other are batched, and rounding decides near ties.)
    }
  }
}

TEST_CASE("strict priority: the high class finishes as if alone, the low class gets the residual", "[sim][network][priority]") {
  // One 10 GB/s link; a class-0 flow and a class-1 flow of 1 GB each.
  // Strict: class 0 gets all 10 GB/s and ends at 0.1 s; class 1 waits (rate 0),
  // then gets 10 GB/s: 1 GB more, ends at 0.2 s. Plain max-min: 5 GB/s each, both end at 0.2 s.
  const std::vector<Link> one = {Link{0, 1, 10e9, 0.0, 1.0, topology::LinkKind::ici}};
  const std::vector<Spec> two = {{{0}, 1e9, 1.0, 0, 0.0}, {{0}, 1e9, 1.0, 1, 0.0}};
  for (const auto mode : {SolveMode::selective, SolveMode::full}) {
    const auto strict = run(one, two, mode, 0.0, true);
    CHECK(strict[0] == Approx(0.1).epsilon(1e-12));
    CHECK(strict[1] == Approx(0.2).epsilon(1e-12));
    const auto plain = run(one, two, mode, 0.0, false);
    CHECK(plain[0] == Approx(0.2).epsilon(1e-12));
    CHECK(plain[1] == Approx(0.2).epsilon(1e-12));
  }

  // Residual on a parking lot: links A (10 GB/s) and B (4 GB/s). Class 0: flow
  // x on A+B (2 GB) and flow y on A (3 GB, multiplicity 2). Class 0 alone: A's
  // share 10 / 3 is below B's 4, so x and both copies of y get 10/3. Class 1:
  // flow z on A gets A's residual 0; flow w on B gets B's residual 4 - 10/3 = 2/3.
  const std::vector<Link> lot = {Link{0, 1, 10e9, 0.0, 1.0, topology::LinkKind::ici},
                                 Link{1, 2, 4e9, 0.0, 1.0, topology::LinkKind::ici}};
  {
    FlowNetwork net(lot, make_sharing_policy(SharingKind::max_min));
    net.set_strict_priority(true);
    const std::vector<LinkId> ab = {0, 1}, a = {0}, b = {1};
    const FlowId x = net.add_flow(ab, 2e9, 1.0, 0);
    const FlowId y = net.add_flow(a, 3e9, 2.0, 0);
    const FlowId z = net.add_flow(a, 1e9, 1.0, 1);
    const FlowId w = net.add_flow(b, 1e9, 1.0, 1);
    net.update_rates();
    CHECK(net.rate_Bps(x) == Approx(10e9 / 3));
    CHECK(net.rate_Bps(y) == Approx(10e9 / 3));
    CHECK(net.rate_Bps(z) == 0.0);
    CHECK(net.rate_Bps(w) == Approx(4e9 - 10e9 / 3));
    // x ends at 2e9 / (10e9/3) = 0.6 s; y (1 GB left per copy) then has A to
    // itself: 5 GB/s per copy; w gets all of B, 4 GB/s; z still 0 until y ends
    // at 0.6 + 1e9 / 5e9 = 0.8 s.
    net.advance_to(net.next_completion_s());
    std::vector<FlowId> done;
    net.collect_finished(done);
    REQUIRE(done == std::vector<FlowId>{x});
    CHECK(net.now_s() == Approx(0.6));
    net.update_rates();
    CHECK(net.rate_Bps(y) == Approx(5e9));
    CHECK(net.rate_Bps(w) == Approx(4e9));
    CHECK(net.rate_Bps(z) == 0.0);
    CHECK(net.next_completion_s() == Approx(0.6 + (1e9 - 0.6 * (4e9 - 10e9 / 3)) / 4e9));
  }
  {
    // Plain mode ignores the classes: x, w share B (2 each); A: x has 2, y's
    // two copies and z share 8: 8/3 each.
    FlowNetwork net(lot, make_sharing_policy(SharingKind::max_min));
    const std::vector<LinkId> ab = {0, 1}, a = {0}, b = {1};
    const FlowId x = net.add_flow(ab, 2e9, 1.0, 0);
    const FlowId y = net.add_flow(a, 3e9, 2.0, 0);
    const FlowId z = net.add_flow(a, 1e9, 1.0, 1);
    const FlowId w = net.add_flow(b, 1e9, 1.0, 1);
    net.update_rates();
    CHECK(net.rate_Bps(x) == Approx(2e9));
    CHECK(net.rate_Bps(w) == Approx(2e9));
    CHECK(net.rate_Bps(y) == Approx(8e9 / 3));
    CHECK(net.rate_Bps(z) == Approx(8e9 / 3));
  }
}

TEST_CASE("strict priority: random high-class flows finish exactly as without the low class", "[sim][network][priority]") {
  for (const unsigned seed : {11u, 12u, 13u}) {
    std::vector<Link> links;
    std::vector<Spec> specs;
    random_case(seed, links, specs, 2);
    std::vector<Spec> high;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].priority == 0) {
        high.push_back(specs[i]);
        index.push_back(i);
      }
    }
    REQUIRE(!high.empty());
    REQUIRE(high.size() < specs.size());
    // Exact model only: a completion window would let high-class flows end
    // early at the low class's completion events, which the run alone lacks.
    for (const auto mode : {SolveMode::selective, SolveMode::full}) {
      const auto both = run(links, specs, mode, 0.0, true);
      const auto alone = run(links, high, mode, 0.0, true);
      for (std::size_t i = 0; i < high.size(); ++i) CHECK(both[index[i]] == Approx(alone[i]).epsilon(1e-9));
      for (std::size_t i = 0; i < specs.size(); ++i) CHECK(both[i] > 0.0);  // the low class ends too
    }
  }
}
