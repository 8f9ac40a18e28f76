// Bytes scaling of dependency-free collectives, the collective memo built on
// it, and the completion-window approximation (transfer_simulation.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/errors.hpp"
#include "sim/collective.hpp"
#include "sim/collective_algorithms.hpp"
#include "sim/step_executor.hpp"
#include "sim/traffic_patterns.hpp"
#include "sim/transfer_simulation.hpp"
#include "tests/sim/test_networks.hpp"
#include "topology/mesh_catalog.hpp"

using namespace switchsim;
using namespace switchsim::sim;

namespace {

CollectiveResult run_matrix(const topology::Mesh& mesh, const ByteMatrix& m, double eps,
                            CollectiveAlgorithm algorithm = CollectiveAlgorithm::direct) {
  CollectiveRequest r;
  r.op = CollectiveOp::all_to_all;
  r.algorithm = algorithm;
  r.participants.resize(static_cast<std::size_t>(m.n()));
  std::iota(r.participants.begin(), r.participants.end(), 0);
  r.matrix = m;
  r.network.completion_window = eps;
  return simulate_collective(mesh, r);
}

double from_classes(const std::vector<DrainClass>& classes, double a) {
  double t = 0.0;
  for (const DrainClass& c : classes) t = std::max(t, a * c.max_drain_s + c.latency_s);
  return t;
}

}  // namespace

TEST_CASE("completion window: flows within eps of their elapsed time finish together", "[sim][window]") {
  // Two devices on one switch, 10 GB/s links, no latency or overhead. 0->1 sends
  // 1.000e9 B (0.1 s alone), 1->0 sends 1.005e9 B on other links (0.1005 s).
  // eps = 0.01: at T = 0.1 the second flow would end by 0.1 + 0.01 * 0.1 = 0.101,
  // so it finishes at 0.1 with 0.0005 s * 1e10 B/s = 5e6 B truncated.
  // eps = 0.001: 0.1005 > 0.1001, so it finishes on its own at 0.1005.
  auto net = testing::make_star(2, 10e9, 0.0, topology::LinkKind::fabric);
  TransferGraph g;
  g.add(0, 1, 1.000e9);
  g.add(1, 0, 1.005e9);
  NetworkOptions o;
  o.message_overhead_s.fill(0.0);
  o.completion_window = 0.01;
  const TransferTimes coarse = simulate_transfers(g, net.links, net.router, o);
  CHECK(coarse.makespan_s == Approx(0.1).epsilon(1e-12));
  CHECK(coarse.bytes_truncated == Approx(5e6).epsilon(1e-6));
  o.completion_window = 0.001;
  const TransferTimes fine = simulate_transfers(g, net.links, net.router, o);
  CHECK(fine.makespan_s == Approx(0.1005).epsilon(1e-12));
  CHECK(fine.bytes_truncated == Approx(0.0).margin(1.0));
  CHECK(fine.events > coarse.events);
}

TEST_CASE("completion window: measured per flow, from the flow's own start", "[sim][window]") {
  // Same star. A: 0->1 1e9 B (0.1 s); B: 0->1 1.0015e9 B after A (0.1 .. 0.20015 s);
  // C: 1->0 2e9 B from t = 0 (ends 0.2 s). At T = 0.2 C ends and B would end
  // 0.00015 s later after 0.1 s of its own: eps = 0.001 allows 0.0001 s (not
  // merged: makespan 0.20015); a window measured from t = 0 would allow 0.0002 s
  // and merge it. eps = 0.002 allows 0.0002 s: B finishes at 0.2.
  auto net = testing::make_star(2, 10e9, 0.0, topology::LinkKind::fabric);
  TransferGraph g;
  const TransferId a = g.add(0, 1, 1e9);
  const std::vector<TransferId> deps = {a};
  g.add(0, 1, 1.0015e9, deps);
  g.add(1, 0, 2e9);
  NetworkOptions o;
  o.message_overhead_s.fill(0.0);
  o.completion_window = 0.001;
  CHECK(simulate_transfers(g, net.links, net.router, o).makespan_s == Approx(0.20015).epsilon(1e-12));
  o.completion_window = 0.002;
  CHECK(simulate_transfers(g, net.links, net.router, o).makespan_s == Approx(0.2).epsilon(1e-12));
}

TEST_CASE("bytes scaling: a direct all-to-all's makespan is max over latency classes of a*drain + L",
          "[sim][window][scaling]") {
  // All flows of a direct all-to-all start at 0 and max-min rates do not depend
  // on bytes, so scaling every entry by a scales every drain by a; the latency is
  // added after the drain. Checked on a skewed (zipf 1.2) 32-way matrix on the
  // 4x4 torus, exact and with a completion window, for scales that are and are
  // not powers of two.
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  const ByteMatrix m = random_all_to_all(32, TrafficPattern::zipf, 1.2, 4096, 1536.0, 7);
  for (const double eps : {0.0, 0.01}) {
    const CollectiveResult base = run_matrix(mesh, m, eps);
    REQUIRE(base.drain_classes.size() >= 2);  // on-chip and ICI paths of several lengths
    // a = 1 reproduces the simulation bit for bit (done = drain + latency both ways).
    CHECK(from_classes(base.drain_classes, 1.0) == base.time_s);
    for (const double a : {0.5, 0.37, 3.1}) {
      INFO("eps " << eps << " scale " << a);
      const double expected = from_classes(base.drain_classes, a);
      const double simulated = run_matrix(mesh, m.scaled(a), eps).time_s;
      CHECK(std::abs(simulated - expected) <= 1e-9 * expected);
    }
  }
}

TEST_CASE("bytes scaling: does not hold for dependency chains (ring all-reduce)", "[sim][window][scaling]") {
  // A ring's makespan is 2(n-1)(L + S/(nB)): doubling S does not double it, and the
  // cache must key such collectives on their bytes. Unidirectional ring of 4,
  // 10 GB/s, 1 us hop, 1 us overhead: S = 1 MB: 6 (2e-6 + 25e-6) = 162e-6 s;
  // S = 2 MB: 6 (2e-6 + 50e-6) = 312e-6 s, not 2 x 162e-6 = 324e-6.
  auto net = testing::make_ring(4, 10e9, 1e-6, topology::LinkKind::ici);
  const std::vector<topology::VertexId> devices = {0, 1, 2, 3};
  TransferGraph g1, g2;
  generate_ring(CollectiveOp::all_reduce, 1e6, devices, g1);
  generate_ring(CollectiveOp::all_reduce, 2e6, devices, g2);
  const double t1 = simulate_transfers(g1, net.links, net.router).makespan_s;
  const double t2 = simulate_transfers(g2, net.links, net.router).makespan_s;
  CHECK(t1 == Approx(162e-6).epsilon(1e-9));
  CHECK(t2 == Approx(312e-6).epsilon(1e-9));
}

TEST_CASE("collective cache: one simulation serves every size of a uniform direct all-to-all",
          "[sim][window][cache]") {
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  CollectiveCache cache(mesh);
  std::vector<topology::VertexId> group(16);
  std::iota(group.begin(), group.end(), 0);
  for (const double bytes : {1.0e6, 3.3e6, 64.0 * 1024 * 1024, 1.7e9}) {
    INFO(bytes);
    CollectiveRequest r;
    r.participants = group;
    r.bytes_per_device = bytes;
    const double direct = simulate_collective(mesh, r).time_s;
    const double memo = cache.duration_s(CollectiveOp::all_to_all, CollectiveAlgorithm::automatic, group, bytes, nullptr);
    CHECK(std::abs(memo - direct) <= 1e-9 * direct);
  }
  CHECK(cache.simulations() == 1);
  CHECK(cache.scaled_hits() == 3);
  // An all-reduce has dependency chains: one simulation per byte size.
  (void)cache.duration_s(CollectiveOp::all_reduce, CollectiveAlgorithm::automatic, group, 1e6, nullptr);
  (void)cache.duration_s(CollectiveOp::all_reduce, CollectiveAlgorithm::automatic, group, 2e6, nullptr);
  CHECK(cache.simulations() == 3);
  // The cache runs with its own network options.
  NetworkOptions coarse;
  coarse.completion_window = 0.05;
  CollectiveCache windowed(mesh, coarse);
  CHECK(windowed.network().completion_window == 0.05);
  NetworkOptions negative;
  negative.completion_window = -1.0;
  CHECK_THROWS_AS(CollectiveCache(mesh, negative), InputError);
}

TEST_CASE("completion window: error on non-uniform all-to-alls and all-reduces stays within 2 eps",
          "[sim][window]") {
  // Measured (bench/collective/bench_window, docs/network.md): on the 4x4 torus the
  // window only ever shortened the makespan, by at most 1.62 eps (eps = 0.001, 0.01,
  // 0.05; uniform, zipf and dirichlet routing). The assertion keeps a margin: 2 eps
  // either way (the all-reduces, with their dependency chains, moved by less).
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  const double eps = 0.01;
  struct Case {
    TrafficPattern pattern;
    double parameter;
    std::uint64_t seed;
  };
  for (const Case c : {Case{TrafficPattern::uniform, 0.0, 11}, Case{TrafficPattern::zipf, 1.0, 12},
                       Case{TrafficPattern::dirichlet, 0.3, 13}, Case{TrafficPattern::dirichlet, 1.0, 14}}) {
    const ByteMatrix m = random_all_to_all(32, c.pattern, c.parameter, 32768, 1536.0, c.seed);
    const CollectiveResult exact = run_matrix(mesh, m, 0.0);
    const CollectiveResult approx = run_matrix(mesh, m, eps);
    INFO("pattern " << static_cast<int>(c.pattern) << " exact " << exact.time_s << " approx " << approx.time_s);
    CHECK(std::abs(approx.time_s - exact.time_s) <= 2.0 * eps * exact.time_s);
    CHECK(approx.events < exact.events);  // the point of it
    CHECK(approx.bytes_truncated <= 2.0 * eps * 32.0 * 32768.0 * 1536.0);
  }
  for (const CollectiveAlgorithm alg : {CollectiveAlgorithm::ring, CollectiveAlgorithm::torus_2d}) {
    CollectiveRequest r;
    r.op = CollectiveOp::all_reduce;
    r.algorithm = alg;
    r.bytes_per_device = 256.0 * 1024 * 1024;
    const double exact = simulate_collective(mesh, r).time_s;
    r.network.completion_window = eps;
    const double approx = simulate_collective(mesh, r).time_s;
    INFO(to_string(alg));
    CHECK(std::abs(approx - exact) <= 2.0 * eps * exact);
  }
}

TEST_CASE("collective cache: translated groups on a wrapped torus share one simulation", "[sim][window][cache]") {
  // tpuv3-4x4: 4x4 chips, both dimensions wrap, 2 cores per chip; device = chip * 2 + core,
  // chip = x + 4 y. Group A: the 8 cores of chips (0..3, y = 0); group B: the same row at
  // y = 2 (devices 16..23): a translate by (0, 2), even, so routes are the same up to
  // relabelling. Group C at y = 1 is a translate by an odd amount: the torus router breaks
  // distance-2 ties by coordinate parity, so C keeps its own simulation.
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  CollectiveCache cache(mesh);
  std::vector<topology::VertexId> a(8), b(8), c(8);
  std::iota(a.begin(), a.end(), 0);
  std::iota(b.begin(), b.end(), 16);
  std::iota(c.begin(), c.end(), 8);
  CHECK(cache.canonical_group(b) == a);
  CHECK(cache.canonical_group(c) == c);
  for (const CollectiveOp op : {CollectiveOp::all_to_all, CollectiveOp::all_reduce}) {
    INFO(to_string(op));
    CollectiveRequest r;
    r.op = op;
    r.participants = b;
    r.bytes_per_device = 8e6;
    const double direct_b = simulate_collective(mesh, r).time_s;
    const std::int64_t before = cache.simulations();
    const double ta = cache.duration_s(op, CollectiveAlgorithm::automatic, a, 8e6, nullptr);
    const double tb = cache.duration_s(op, CollectiveAlgorithm::automatic, b, 8e6, nullptr);
    CHECK(cache.simulations() == before + 1);
    CHECK(ta == tb);
    CHECK(std::abs(tb - direct_b) <= 1e-9 * direct_b);
  }
  // A mesh without wraparound (2x2 chips: too small to wrap) is not canonicalized.
  const auto small = topology::build_mesh("tpuv3-2x2");
  CollectiveCache plain(small);
  const std::vector<topology::VertexId> g = {4, 5, 6, 7};
  CHECK(plain.canonical_group(g) == g);
}

TEST_CASE("load model: a direct all-to-all above the threshold is priced by its busiest link", "[sim][window][load]") {
  // T = max_l load_l / c_l + the largest path latency. Measured against the flow
  // simulation on 32-way random matrices (bench_window): exact / T in [0.997, 1.021].
  // Asserted with margin: within 3% either way. Below the threshold nothing changes.
  const auto mesh = topology::build_mesh("tpuv3-4x4");
  for (const std::uint64_t seed : {21u, 22u}) {
    const ByteMatrix m = random_all_to_all(32, TrafficPattern::dirichlet, 1.0, 32768, 1536.0, seed);
    CollectiveRequest r;
    r.participants.resize(32);
    std::iota(r.participants.begin(), r.participants.end(), 0);
    r.matrix = m;
    const CollectiveResult exact = simulate_collective(mesh, r);
    r.network.load_model_above_devices = 32;  // not above: simulated
    CHECK(simulate_collective(mesh, r).time_s == exact.time_s);
    r.network.load_model_above_devices = 16;
    const CollectiveResult model = simulate_collective(mesh, r);
    CHECK(model.events == 0);
    CHECK(std::abs(exact.time_s / model.time_s - 1.0) <= 0.03);
    // It scales with the bytes like the simulation (one drain class).
    REQUIRE(model.drain_classes.size() == 1);
    CHECK(from_classes(model.drain_classes, 1.0) == model.time_s);
  }
}
