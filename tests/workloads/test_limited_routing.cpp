// Node- and device-limited routing and per-node dispatch (workloads/limited_routing.hpp):
// every token within its limit, capacity claims against sum_e max(0, n_e - C), the per-node
// dispatch by hand on 2 nodes x 2 GPUs, and the step's inter-node bytes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <numeric>
#include <set>
#include <vector>

#include "decoder_fixture.hpp"
#include "helpers.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/layout.hpp"
#include "workloads/limited_routing.hpp"
#include "workloads/step_builder.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

// 64 experts on 16 devices (4 each) in 4 nodes of 4 devices, top-8.
std::vector<std::int32_t> four_nodes() {
  std::vector<std::int32_t> n(16);
  for (std::size_t j = 0; j < n.size(); ++j) n[j] = static_cast<std::int32_t>(j / 4);
  return n;
}

std::vector<double> zipf_weights(std::int64_t E) {
  std::vector<double> w;
  for (std::int64_t e = 0; e < E; ++e) w.push_back(1.0 / static_cast<double>((e * 37) % E + 1));
  return w;
}

}  // namespace

TEST_CASE("node-limited routing: every token's experts on at most M nodes", "[routing][limited]") {
  const auto nodes = four_nodes();
  for (const bool zipf : {false, true}) {
    for (std::int64_t M : {1, 2, 3}) {
      TokenRouter router(zipf ? zipf_weights(64) : std::vector<double>{}, 64, 8, 16, nodes, M, 0);
      Rng rng(42 + static_cast<std::uint64_t>(M));
      std::vector<std::int64_t> out(8);
      std::set<std::int32_t> all_nodes_seen;
      for (int t = 0; t < 4000; ++t) {
        router.route(rng, out.data());
        std::set<std::int64_t> experts(out.begin(), out.end());
        REQUIRE(experts.size() == 8);  // k distinct experts
        std::set<std::int32_t> used;
        for (std::int64_t e : out) {
          REQUIRE(e >= 0);
          REQUIRE(e < 64);
          used.insert(nodes[static_cast<std::size_t>(e / 4)]);
        }
        REQUIRE(static_cast<std::int64_t>(used.size()) <= M);
        all_nodes_seen.insert(used.begin(), used.end());
      }
      CHECK(all_nodes_seen.size() == 4);  // the limit picks nodes, not always the same ones
    }
  }
  // Without the limit, top-8 of 64 uniform experts over 4 nodes almost always spans more than 2.
  TokenRouter free_router({}, 64, 8, 16, nodes, 0, 0);
  Rng rng(7);
  std::vector<std::int64_t> out(8);
  int above_two = 0;
  for (int t = 0; t < 1000; ++t) {
    free_router.route(rng, out.data());
    std::set<std::int32_t> used;
    for (std::int64_t e : out) used.insert(nodes[static_cast<std::size_t>(e / 4)]);
    above_two += used.size() > 2 ? 1 : 0;
  }
  CHECK(above_two > 900);
}

TEST_CASE("device-limited routing: every token's experts on at most M devices", "[routing][limited]") {
  const auto nodes = four_nodes();
  for (std::int64_t M : {2, 3, 5}) {
    // Alone, and under a node limit of 2 as well.
    for (std::int64_t node_limit : {0, 2}) {
      TokenRouter router(zipf_weights(64), 64, 8, 16, nodes, node_limit, M);
      Rng rng(3);
      std::vector<std::int64_t> out(8);
      for (int t = 0; t < 3000; ++t) {
        router.route(rng, out.data());
        REQUIRE(std::set<std::int64_t>(out.begin(), out.end()).size() == 8);
        std::set<std::int64_t> devices;
        std::set<std::int32_t> used_nodes;
        for (std::int64_t e : out) {
          devices.insert(e / 4);
          used_nodes.insert(nodes[static_cast<std::size_t>(e / 4)]);
        }
        REQUIRE(static_cast<std::int64_t>(devices.size()) <= M);
        if (node_limit > 0) REQUIRE(static_cast<std::int64_t>(used_nodes.size()) <= node_limit);
      }
    }
  }
}

TEST_CASE("unrestricted per-token routing draws top-k by popularity", "[routing][limited]") {
  // Gumbel-max: the first choice is expert e with probability p_e.
  const std::vector<double> w = {4.0, 2.0, 1.0, 1.0};  // p = 0.5, 0.25, 0.125, 0.125
  TokenRouter router(w, 4, 2, 2, {}, 0, 0);
  Rng rng(11);
  std::vector<double> first(4, 0.0);
  std::vector<std::int64_t> out(2);
  const int N = 40000;
  for (int t = 0; t < N; ++t) {
    router.route(rng, out.data());
    REQUIRE(out[0] != out[1]);
    first[static_cast<std::size_t>(out[0])] += 1.0 / N;
  }
  CHECK(first[0] == Approx(0.5).margin(0.01));
  CHECK(first[1] == Approx(0.25).margin(0.01));
  CHECK(first[2] == Approx(0.125).margin(0.01));
}

TEST_CASE("capacity claims: first choices first, drops = sum_e max(0, n_e - C) per group", "[routing][limited]") {
  // By hand: 3 tokens, top-2, C = 1. First choices 0, 0, 1: token 1's is dropped; second choices
  // 1, 2, 0: token 0's (expert 1 full) and token 2's (expert 0 full) are dropped.
  const std::vector<std::int64_t> choices = {0, 1, 0, 2, 1, 0};
  std::vector<char> processed;
  std::vector<std::int64_t> counts;
  CHECK(claim_capacity(choices, 2, 3, 1, ExecutionMode::capacity, processed, counts) == 3);
  CHECK(processed == std::vector<char>{1, 0, 0, 1, 1, 0});
  CHECK(counts == std::vector<std::int64_t>{1, 1, 1});
  CHECK(claim_capacity(choices, 2, 3, 1, ExecutionMode::dropless, processed, counts) == 0);
  CHECK(counts == std::vector<std::int64_t>{3, 2, 1});
  // Random node-limited groups: the drops equal the count formula of routing.hpp.
  TokenRouter router({}, 64, 8, 16, four_nodes(), 2, 0);
  Rng rng(5);
  for (int g = 0; g < 50; ++g) {
    const std::int64_t G = 64;
    std::vector<std::int64_t> group(static_cast<std::size_t>(G * 8));
    for (std::int64_t t = 0; t < G; ++t) router.route(rng, group.data() + t * 8);
    std::vector<std::int64_t> n(64, 0);
    for (std::int64_t e : group) n[static_cast<std::size_t>(e)] += 1;
    const std::int64_t C = 1 + g % 9;
    std::int64_t formula = 0;
    for (std::int64_t x : n) formula += std::max<std::int64_t>(0, x - C);
    REQUIRE(claim_capacity(group, 8, 64, C, ExecutionMode::capacity, processed, counts) == formula);
    for (std::size_t e = 0; e < 64; ++e) REQUIRE(counts[e] == std::min(n[e], C));
  }
}

TEST_CASE("per-node dispatch by hand: 2 nodes x 2 GPUs, top-2", "[routing][limited]") {
  const NodeMap nodes({0, 0, 1, 1});
  CHECK(nodes.relay(0, 1) == 2);  // GPU 0 sends to GPU 0 of node 1 (ep index 2)
  CHECK(nodes.relay(1, 1) == 3);
  CHECK(nodes.relay(3, 0) == 1);
  auto inter_node = [&](const std::vector<double>& c) {
    double x = 0.0;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        if (nodes.node_of[static_cast<std::size_t>(i)] != nodes.node_of[static_cast<std::size_t>(j)]) x += c[static_cast<std::size_t>(i * 4 + j)];
    return x;
  };
  // Token on GPU 0 for experts on GPUs 2 and 3 (both on node 1).
  const std::int64_t both_remote[] = {2, 3};
  std::vector<double> direct(16, 0.0), per_node(16, 0.0);
  add_token_dispatch(Dispatch::direct, nodes, 0, both_remote, 2, direct);
  add_token_dispatch(Dispatch::per_node, nodes, 0, both_remote, 2, per_node);
  CHECK(direct == std::vector<double>{0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(per_node == std::vector<double>{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0});  // 0->2, then 2->3 NVLink
  CHECK(inter_node(direct) == 2.0);
  CHECK(inter_node(per_node) == 1.0);
  // Token on GPU 1 for GPUs 0 (local) and 3 (the relay of rank 1 itself): no forward.
  const std::int64_t mixed[] = {0, 3};
  std::vector<double> c(16, 0.0);
  add_token_dispatch(Dispatch::per_node, nodes, 1, mixed, 2, c);
  CHECK(c == std::vector<double>{0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  // Two experts on one device: direct sends two copies, per-node one.
  const std::int64_t same[] = {2, 2};
  std::vector<double> d2(16, 0.0), p2(16, 0.0);
  add_token_dispatch(Dispatch::direct, nodes, 0, same, 2, d2);
  add_token_dispatch(Dispatch::per_node, nodes, 0, same, 2, p2);
  CHECK(d2[2] == 2.0);
  CHECK(p2[2] == 1.0);
  CHECK(std::accumulate(p2.begin(), p2.end(), 0.0) == 1.0);
}

namespace {

// The tiny decoder with 16 experts, top-4, on dgx-h100-2 (2 nodes x 8 GPUs), dp = ep = 16.
struct SixteenGpus {
  Model model;
  topology::Mesh mesh = topology::build_mesh("dgx-h100-2");
  Layout layout;
  TrainingSetup setup;
  StepShape shape;
  SixteenGpus() {
    json j = test::tiny_decoder_json();
    j["experts"] = 16;
    j["top_k"] = 4;
    model = model_from_json(j, "tiny16");
    layout.dp = 16;
    layout.ep = 16;
    setup.batch_tokens = 16 * 64;
    setup.micro_batches = 1;
    setup.moe_impl = MoeImpl::grouped;
    shape = derive_step_shape(setup, model, layout);
  }
  BuiltStep build(RoutingLimit limit, Dispatch dispatch, ExecutionMode mode = ExecutionMode::dropless) const {
    RoutingOptions ro;
    ro.mode = mode;
    ro.capacity_factor = 1.0;
    ro.seed = 9;
    ro.plan = resolve_routing_plan(limit, dispatch, mesh, layout, model, setup.moe_impl, ro.spec);
    return build_step(model, layout, setup, shape, ro, 16);
  }
  // Bytes of the forward dispatch all-to-alls between the two nodes (GPU id / 8).
  static double inter_node_bytes(const BuiltStep& s) {
    double x = 0.0;
    for (std::int32_t i = 0; i < s.graph.num_ops(); ++i) {
      const sim::Op& op = s.graph.op(i);
      if (op.name.find("dispatch_a2a.fwd") == std::string::npos) continue;
      for (const auto& m : op.matrices) {
        for (std::int32_t r = 0; r < m->n(); ++r)
          for (const auto& e : m->row(r))
            if (r / 8 != e.col / 8) x += e.bytes;
      }
    }
    return x;
  }
  static std::vector<std::uint64_t> fingerprints(const BuiltStep& s) {
    std::vector<std::uint64_t> f;
    for (std::int32_t i = 0; i < s.graph.num_ops(); ++i)
      for (const auto& m : s.graph.op(i).matrices) f.push_back(m->fingerprint());
    return f;
  }
};

}  // namespace

TEST_CASE("step: node-limited routing with per-node dispatch lowers the inter-node bytes", "[routing][limited]") {
  const SixteenGpus f;
  const BuiltStep free_direct = f.build({}, Dispatch::automatic);
  const BuiltStep limited_direct = f.build({1, 0}, Dispatch::direct);
  const BuiltStep free_per_node = f.build({}, Dispatch::per_node);
  const BuiltStep limited_per_node = f.build({1, 0}, Dispatch::automatic);  // auto: per-node
  const double base = SixteenGpus::inter_node_bytes(free_direct);
  REQUIRE(base > 0.0);
  // (Node-limited routing alone, M = 1 of 2 nodes, keeps the expected direct crossings: half the
  // tokens' nodes are remote, and then all k copies cross.)
  CHECK(SixteenGpus::inter_node_bytes(free_per_node) < base);
  // M = 1: a token's experts all on one node; per-node sends at most one copy across.
  const double one = SixteenGpus::inter_node_bytes(limited_per_node);
  CHECK(one < SixteenGpus::inter_node_bytes(limited_direct));
  CHECK(one < SixteenGpus::inter_node_bytes(free_per_node));
  const double bytes_per_token = 64.0 * 2.0;  // d_model x bf16
  CHECK(one <= static_cast<double>(f.shape.local_tokens) * 16.0 * bytes_per_token);  // at most one crossing per token
  // Dropless: nothing dropped either way.
  CHECK(limited_per_node.drops.dropped == 0.0);
}

TEST_CASE("step: M = nodes reproduces unrestricted routing exactly", "[routing][limited]") {
  const SixteenGpus f;
  for (const ExecutionMode mode : {ExecutionMode::dropless, ExecutionMode::capacity}) {
    const BuiltStep a = f.build({}, Dispatch::direct, mode);
    const BuiltStep b = f.build({2, 0}, Dispatch::direct, mode);
    const BuiltStep c = f.build({0, 16}, Dispatch::direct, mode);  // M = ep devices
    CHECK(a.drops.dropped == b.drops.dropped);
    CHECK(a.drops.dropped == c.drops.dropped);
    CHECK(a.max_expert_load_ratio == b.max_expert_load_ratio);
    CHECK(SixteenGpus::fingerprints(a) == SixteenGpus::fingerprints(b));
    CHECK(SixteenGpus::fingerprints(a) == SixteenGpus::fingerprints(c));
    // Per-node dispatch: M = nodes routes as no limit does.
    CHECK(SixteenGpus::fingerprints(f.build({2, 0}, Dispatch::per_node, mode)) ==
          SixteenGpus::fingerprints(f.build({}, Dispatch::per_node, mode)));
  }
}

TEST_CASE("step: node-limited capacity drops follow the restricted assignment", "[routing][limited]") {
  const SixteenGpus f;
  const BuiltStep s = f.build({1, 0}, Dispatch::direct, ExecutionMode::capacity);
  // Every assignment counted once: k x tokens per MoE layer (one MoE layer, 16 x 64 tokens).
  CHECK(s.drops.assignments == 4.0 * 16 * 64);
  CHECK(s.drops.dropped > 0.0);  // cf 1 with uneven loads drops some
  CHECK(s.drops.dropped < s.drops.assignments);
}

TEST_CASE("limits and dispatch: bad values name the flag", "[routing][limited]") {
  const SixteenGpus f;
  using test::field_of;
  auto plan = [&](RoutingLimit l, Dispatch d, const topology::Mesh& mesh, MoeImpl impl = MoeImpl::grouped,
                  const RoutingSpec& spec = RoutingSpec{}) {
    return [=, &mesh, &f] { (void)resolve_routing_plan(l, d, mesh, f.layout, f.model, impl, spec); };
  };
  CHECK(field_of(plan({3, 0}, Dispatch::automatic, f.mesh)) == "--max-nodes-per-token");   // 2 nodes
  CHECK(field_of(plan({-1, 0}, Dispatch::automatic, f.mesh)) == "--max-nodes-per-token");
  CHECK(field_of(plan({0, 17}, Dispatch::automatic, f.mesh)) == "--max-devices-per-token");  // ep = 16
  CHECK(field_of(plan({0, 3}, Dispatch::automatic, f.mesh)) == "--max-devices-per-token");   // 3 x 1 < top-4
  CHECK(field_of(plan({0, 0}, Dispatch::per_node, f.mesh, MoeImpl::gather)) == "--dispatch");
  const topology::Mesh tpu = topology::build_mesh("tpuv3-2x4");  // 16 cores, no nodes
  CHECK(field_of(plan({1, 0}, Dispatch::automatic, tpu)) == "--max-nodes-per-token");
  CHECK(field_of(plan({0, 0}, Dispatch::per_node, tpu)) == "--dispatch");
  CHECK(field_of(plan({0, 4}, Dispatch::automatic, tpu)) == "(no error)");
  RoutingSpec trace;
  trace.kind = RoutingKind::trace;
  CHECK(field_of(plan({1, 0}, Dispatch::automatic, f.mesh, MoeImpl::grouped, trace)) == "--max-nodes-per-token");
  CHECK(field_of(plan({1, 0}, Dispatch::automatic, f.mesh)) == "(no error)");
  CHECK(field_of([] { (void)parse_dispatch("sideways"); }) == "--dispatch");
  // auto resolves to per-node only with a node limit and grouped loads.
  CHECK(resolve_routing_plan({1, 0}, Dispatch::automatic, f.mesh, f.layout, f.model, MoeImpl::grouped, {}).dispatch ==
        Dispatch::per_node);
  CHECK(resolve_routing_plan({1, 0}, Dispatch::automatic, f.mesh, f.layout, f.model, MoeImpl::gather, {}).dispatch ==
        Dispatch::direct);
  CHECK(resolve_routing_plan({}, Dispatch::automatic, f.mesh, f.layout, f.model, MoeImpl::grouped, {}).dispatch ==
        Dispatch::direct);
}

TEST_CASE("uniform fast path (order statistics) matches drawing every affinity", "[routing][limited]") {
  // Same law: all-ones weights take the general path (E draws per token), none the fast path.
  const auto nodes = four_nodes();
  for (std::int64_t M : {0, 1, 2, 3}) {
    TokenRouter fast({}, 64, 8, 16, nodes, M, 0);
    TokenRouter general(std::vector<double>(64, 1.0), 64, 8, 16, nodes, M, 0);
    auto stats = [&](TokenRouter& router, std::uint64_t seed) {
      Rng rng(seed);
      std::vector<std::int64_t> out(8);
      const int N = 20000;
      double one_node = 0.0, biggest = 0.0, expert0 = 0.0;
      for (int t = 0; t < N; ++t) {
        router.route(rng, out.data());
        std::vector<int> per_node(4, 0);
        for (std::int64_t e : out) per_node[static_cast<std::size_t>(nodes[static_cast<std::size_t>(e / 4)])] += 1;
        const int most = *std::max_element(per_node.begin(), per_node.end());
        one_node += most == 8 ? 1.0 / N : 0.0;
        biggest += most / static_cast<double>(N);
        expert0 += static_cast<double>(std::count(out.begin(), out.end(), std::int64_t{0})) / N;
      }
      return std::array<double, 3>{one_node, biggest, expert0};
    };
    const auto a = stats(fast, 1), b = stats(general, 2);
    INFO("M = " << M);
    CHECK(a[0] == Approx(b[0]).margin(0.015));
    CHECK(a[1] == Approx(b[1]).margin(0.05));
    CHECK(a[2] == Approx(8.0 / 64).margin(0.01));  // every expert equally likely
    CHECK(b[2] == Approx(8.0 / 64).margin(0.01));
  }
}
