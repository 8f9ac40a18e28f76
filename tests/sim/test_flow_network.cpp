// Flow-level network model against closed forms and max-min properties.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "sim/flow_network.hpp"
#include "sim/transfer_simulation.hpp"
#include "tests/sim/test_networks.hpp"

using namespace switchsim;
using namespace switchsim::sim;
using switchsim::topology::Link;
using switchsim::topology::LinkId;

namespace {

// Runs a network to completion, checking after every rate update that no link
// carries more than its capacity and that the allocation is max-min (every
// flow has a saturated bottleneck link on which its rate is the largest).
// Returns the completion time of each flow and the bytes delivered.
struct RunOutcome {
  std::vector<double> finish_s;
  double delivered_bytes = 0.0;
  int checks = 0;
};

void check_allocation(const FlowNetwork& net) {
  const auto L = static_cast<std::size_t>(net.num_links());
  std::vector<double> load(L, 0.0);
  std::vector<double> max_rate(L, 0.0);
  for (const FlowId f : net.active()) {
    for (const LinkId l : net.path(f)) {
      load[static_cast<std::size_t>(l)] += net.multiplicity(f) * net.rate_Bps(f);
      max_rate[static_cast<std::size_t>(l)] = std::max(max_rate[static_cast<std::size_t>(l)], net.rate_Bps(f));
    }
  }
  for (std::size_t l = 0; l < L; ++l) {
    // Never more than capacity (1e-9 relative slack for rounding).
    REQUIRE(load[l] <= net.capacity_Bps(static_cast<LinkId>(l)) * (1.0 + 1e-9));
  }
  for (const FlowId f : net.active()) {
    bool bottlenecked = false;
    for (const LinkId l : net.path(f)) {
      const auto li = static_cast<std::size_t>(l);
      const bool saturated = load[li] >= net.capacity_Bps(l) * (1.0 - 1e-6);
      const bool largest = net.rate_Bps(f) >= max_rate[li] * (1.0 - 1e-6);
      bottlenecked = bottlenecked || (saturated && largest);
    }
    REQUIRE(bottlenecked);
  }
}

RunOutcome run_to_completion(FlowNetwork& net, bool check) {
  RunOutcome out;
  out.finish_s.assign(static_cast<std::size_t>(net.num_flows()), -1.0);
  net.update_rates();
  std::vector<FlowId> done;
  while (!net.active().empty()) {
    if (check) {
      check_allocation(net);
      ++out.checks;
    }
    net.advance_to(net.next_completion_s());
    done.clear();
    net.collect_finished(done);
    REQUIRE(!done.empty());
    for (const FlowId f : done) {
      out.finish_s[static_cast<std::size_t>(f)] = net.now_s();
      out.delivered_bytes += net.multiplicity(f) * net.bytes(f);
    }
    net.update_rates();
  }
  return out;
}

}  // namespace

TEST_CASE("network: one flow on one link drains at bandwidth * efficiency", "[sim][network]") {
  // 100 GB/s at efficiency 0.8 = 80 GB/s; 1 GB takes 1e9 / 8e10 = 12.5 ms.
  const std::vector<Link> links = {Link{0, 1, 100e9, 1e-6, 0.8, topology::LinkKind::ici}};
  FlowNetwork net(links, make_sharing_policy(SharingKind::max_min));
  const std::vector<LinkId> path = {0};
  net.add_flow(path, 1e9);
  const auto out = run_to_completion(net, true);
  CHECK(out.finish_s[0] == Approx(12.5e-3).epsilon(1e-12));
}

TEST_CASE("network: two flows sharing a link each get half", "[sim][network]") {
  // One 10 GB/s link; flows of 1 GB and 3 GB. Both get 5 GB/s until the first
  // ends at 1e9/5e9 = 0.2 s; the second then has 2 GB left at 10 GB/s: +0.2 s = 0.4 s.
  const std::vector<Link> links = {Link{0, 1, 10e9, 0.0, 1.0, topology::LinkKind::ici}};
  FlowNetwork net(links, make_sharing_policy(SharingKind::max_min));
  const std::vector<LinkId> path = {0};
  net.add_flow(path, 1e9);
  net.add_flow(path, 3e9);
  net.update_rates();
  CHECK(net.rate_Bps(0) == Approx(5e9));
  CHECK(net.rate_Bps(1) == Approx(5e9));
  const auto out = run_to_completion(net, true);
  CHECK(out.finish_s[0] == Approx(0.2));
  CHECK(out.finish_s[1] == Approx(0.4));
}

TEST_CASE("network: max-min on a parking lot", "[sim][network]") {
  // Links A (10) -> B (4), capacities in GB/s. Flow 0 crosses A and B, flow 1
  // only A, flows 2 and 3 only B. B is the tightest: 4/3 each for 0, 2, 3.
  // A then has 10 - 4/3 left for flow 1 alone: 26/3.
  const std::vector<Link> links = {Link{0, 1, 10e9, 0.0, 1.0, topology::LinkKind::ici},
                                   Link{1, 2, 4e9, 0.0, 1.0, topology::LinkKind::ici}};
  FlowNetwork net(links, make_sharing_policy(SharingKind::max_min));
  const std::vector<LinkId> ab = {0, 1}, a = {0}, b = {1};
  net.add_flow(ab, 1e9);
  net.add_flow(a, 1e9);
  net.add_flow(b, 1e9);
  net.add_flow(b, 1e9);
  net.update_rates();
  CHECK(net.rate_Bps(0) == Approx(4e9 / 3));
  CHECK(net.rate_Bps(2) == Approx(4e9 / 3));
  CHECK(net.rate_Bps(1) == Approx(10e9 - 4e9 / 3));
}

TEST_CASE("network: a flow class of multiplicity m loads links like m flows", "[sim][network]") {
  // One 12 GB/s link: a class of 3 identical flows plus one single flow = 4
  // flows, 3 GB/s each.
  const std::vector<Link> links = {Link{0, 1, 12e9, 0.0, 1.0, topology::LinkKind::ici}};
  FlowNetwork net(links, make_sharing_policy(SharingKind::max_min));
  const std::vector<LinkId> path = {0};
  net.add_flow(path, 1e9, 3.0);
  net.add_flow(path, 1e9);
  net.update_rates();
  CHECK(net.rate_Bps(0) == Approx(3e9));
  CHECK(net.rate_Bps(1) == Approx(3e9));
}

TEST_CASE("network: congestion-unaware bound ignores sharing", "[sim][network]") {
  // Two flows on one 10 GB/s link each get the full 10 GB/s under the bound.
  const std::vector<Link> links = {Link{0, 1, 10e9, 0.0, 1.0, topology::LinkKind::ici}};
  FlowNetwork net(links, make_sharing_policy(SharingKind::uncongested));
  const std::vector<LinkId> path = {0};
  net.add_flow(path, 1e9);
  net.add_flow(path, 1e9);
  net.update_rates();
  CHECK(net.rate_Bps(0) == Approx(10e9));
  CHECK(net.rate_Bps(1) == Approx(10e9));
}

TEST_CASE("network: random flow sets keep capacity, max-min optimality and bytes", "[sim][network][property]") {
  for (const unsigned seed : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u}) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> bw(1e9, 100e9);
    std::uniform_real_distribution<double> size(1e3, 1e9);
    std::uniform_int_distribution<int> nlinks_d(3, 30);
    const int L = nlinks_d(rng);
    std::vector<Link> links;
    for (int l = 0; l < L; ++l) links.push_back(Link{0, 1, bw(rng), 0.0, 0.9, topology::LinkKind::fabric});
    FlowNetwork net(links, make_sharing_policy(SharingKind::max_min));
    std::uniform_int_distribution<int> nflows_d(1, 200);
    std::uniform_int_distribution<int> plen_d(1, std::min(L, 6));
    std::uniform_int_distribution<LinkId> link_d(0, L - 1);
    const int F = nflows_d(rng);
    double sent = 0.0;
    for (int f = 0; f < F; ++f) {
      std::vector<LinkId> path;
      const int len = plen_d(rng);
      while (static_cast<int>(path.size()) < len) {
        const LinkId l = link_d(rng);
        if (std::find(path.begin(), path.end(), l) == path.end()) path.push_back(l);
      }
      const double b = size(rng);
      const double m = (f % 7 == 0) ? 2.0 : 1.0;
      net.add_flow(path, b, m);
      sent += m * b;
    }
    const auto out = run_to_completion(net, true);
    INFO("seed " << seed);
    CHECK(out.checks >= 1);
    // Bytes delivered == bytes sent (every flow finished once), and the bytes
    // dropped by completion batching are negligible.
    CHECK(out.delivered_bytes == Approx(sent).epsilon(1e-12));
    CHECK(net.truncated_bytes() <= 1e-6 * sent);
    // Total drained bytes: the integral of the link loads can never exceed
    // capacity * time; check the makespan is at least the busiest link's work.
    std::vector<double> work(static_cast<std::size_t>(L), 0.0);
    for (FlowId f = 0; f < net.num_flows(); ++f) {
      for (const LinkId l : net.path(f)) work[static_cast<std::size_t>(l)] += net.multiplicity(f) * net.bytes(f);
    }
    double bound = 0.0;
    for (int l = 0; l < L; ++l) bound = std::max(bound, work[static_cast<std::size_t>(l)] / net.capacity_Bps(l));
    CHECK(*std::max_element(out.finish_s.begin(), out.finish_s.end()) >= bound * (1.0 - 1e-9));
  }
}
