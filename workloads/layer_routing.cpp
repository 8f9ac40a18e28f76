#include "workloads/layer_routing.hpp"

#include <algorithm>

#include "workloads/limited_routing.hpp"
#include "workloads/routing_cache.hpp"
#include "workloads/routing.hpp"

namespace switchsim::workloads {

using sim::ByteMatrix;

namespace {

// Per token (limited_routing.hpp): each token's K experts from the TokenRouter, capacity claimed
// in token order per group, the dispatch matrix from each token's processed experts.
LayerRouting route_layer_per_token(const Model& m, const Layout& layout, std::int64_t G, std::int64_t groups,
                                   std::int64_t capacity, const RoutingOptions& ro, std::uint64_t stream,
                                   double bytes_per_token, bool uneven) {
  LayerRouting r;
  const std::int64_t E = m.experts;
  const std::int64_t k = m.top_k;
  const std::int64_t ep = layout.ep;
  const std::int64_t reps = layout.replicas();
  const std::int64_t per_dev = E / ep;
  const RoutingPlan& plan = ro.plan;
  Rng rng(derive_seed(ro.seed, stream));
  const RoutingSampler sampler(ro.spec, E, k, rng);  // the layer's popularity, drawn as unrestricted
  r.received.assign(static_cast<std::size_t>(reps * ep), 0.0);
  std::vector<std::int64_t> choices(static_cast<std::size_t>(G * k));
  std::vector<char> processed;
  std::vector<std::int64_t> counts;
  std::vector<std::int64_t> dest(static_cast<std::size_t>(k));
  std::vector<double> copies;
  for (std::int64_t rep = 0; rep < reps; ++rep) {
    std::vector<std::int32_t> node_of = plan.node_of.empty() ? std::vector<std::int32_t>(static_cast<std::size_t>(ep), 0)
                                                             : plan.node_of[static_cast<std::size_t>(rep)];
    const NodeMap nodes(node_of);
    TokenRouter router(sampler.weights(), E, k, ep, std::move(node_of), plan.nodes_limit, plan.devices_limit);
    if (uneven) copies.assign(static_cast<std::size_t>(ep * ep), 0.0);
    for (std::int64_t i = 0; i < ep; ++i) {
      for (std::int64_t q = 0; q < groups; ++q) {
        for (std::int64_t t = 0; t < G; ++t) router.route(rng, choices.data() + t * k);
        const std::int64_t dropped = claim_capacity(choices, k, E, capacity, ro.mode, processed, counts);
        r.drops.assignments += static_cast<double>(k * G);
        r.drops.dropped += static_cast<double>(dropped);
        for (std::int64_t e = 0; e < E; ++e) {
          r.received[static_cast<std::size_t>(rep * ep + e / per_dev)] += static_cast<double>(counts[static_cast<std::size_t>(e)]);
        }
        if (!uneven) continue;
        for (std::int64_t t = 0; t < G; ++t) {
          std::int64_t n = 0;
          for (std::int64_t c = 0; c < k; ++c) {
            const auto a = static_cast<std::size_t>(t * k + c);
            if (processed[a] != 0) dest[static_cast<std::size_t>(n++)] = choices[a] / per_dev;
          }
          add_token_dispatch(plan.dispatch, nodes, i, dest.data(), n, copies);
        }
      }
    }
    if (uneven) {
      for (double& x : copies) x *= bytes_per_token;
      r.sent.push_back(ByteMatrix::from_dense(static_cast<std::int32_t>(ep), copies));
    }
  }
  return r;
}

// The key of one layer's draw: everything the draws of route_layer depend on (routing_cache.hpp).
std::string draw_key(const RoutingOptions& ro, std::uint64_t stream, std::int64_t E, std::int64_t top_k,
                     std::int64_t G, std::int64_t groups) {
  std::string key = ro.spec.text;
  key.push_back('\0');
  const std::int64_t numbers[] = {static_cast<std::int64_t>(ro.spec.kind), E, top_k, G, groups};
  key.append(reinterpret_cast<const char*>(numbers), sizeof numbers);
  const std::uint64_t seeds[] = {ro.seed, stream};
  key.append(reinterpret_cast<const char*>(seeds), sizeof seeds);
  key.append(reinterpret_cast<const char*>(&ro.spec.parameter), sizeof ro.spec.parameter);
  return key;
}

// The counts of `groups` groups of G tokens drawn in order, as sample_group draws them.
RoutingCache::Counts sample_counts(const RoutingSampler& sampler, Rng& rng, std::int64_t E, std::int64_t G,
                                   std::int64_t groups) {
  RoutingCache::Counts table(static_cast<std::size_t>(groups * E));
  std::vector<std::int64_t> counts(static_cast<std::size_t>(E));
  for (std::int64_t g = 0; g < groups; ++g) {
    std::fill(counts.begin(), counts.end(), 0);
    sampler.sample_group(rng, G, g, counts.data());
    for (std::int64_t e = 0; e < E; ++e) {  // each count <= top_k * G < 2^32 (checked below)
      table[static_cast<std::size_t>(g * E + e)] = static_cast<std::uint32_t>(counts[static_cast<std::size_t>(e)]);
    }
  }
  return table;
}

}  // namespace

LayerRouting route_layer(const Model& m, const Layout& layout, std::int64_t G, std::int64_t groups,
                         std::int64_t capacity, const RoutingOptions& ro, std::uint64_t stream, double bytes_per_token,
                         bool uneven) {
  if (ro.plan.per_token()) return route_layer_per_token(m, layout, G, groups, capacity, ro, stream, bytes_per_token, uneven);
  LayerRouting r;
  const std::int64_t E = m.experts;
  const std::int64_t ep = layout.ep;
  const std::int64_t reps = layout.replicas();
  const std::int64_t per_dev = E / ep;
  Rng rng(derive_seed(ro.seed, stream));
  RoutingSampler sampler(ro.spec, E, m.top_k, rng);
  // With a cache, the groups' counts come from the table of this draw (routing_cache.hpp): the
  // same numbers sample_group would draw here, in the same order.
  std::shared_ptr<const RoutingCache::Counts> table;
  if (ro.cache != nullptr && m.top_k * G <= std::int64_t{0xffffffff}) {
    table = ro.cache->counts(draw_key(ro, stream, E, m.top_k, G, reps * ep * groups),
                             [&] { return sample_counts(sampler, rng, E, G, reps * ep * groups); });
  }
  r.received.assign(static_cast<std::size_t>(reps * ep), 0.0);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(E));
  std::vector<std::int64_t> processed(static_cast<std::size_t>(E));
  std::vector<double> row(static_cast<std::size_t>(ep), 0.0);  // uneven: source i's assignments per ep index j
  for (std::int64_t rep = 0; rep < reps; ++rep) {
    // A source routes at most top_k * G * groups assignments: rows are sparse when that is below ep.
    sim::ByteMatrix::Builder sent(static_cast<std::int32_t>(uneven ? ep : 0),
                                  uneven ? static_cast<std::size_t>(ep * std::min(ep, m.top_k * G * groups)) : 0);
    for (std::int64_t i = 0; i < ep; ++i) {
      for (std::int64_t q = 0; q < groups; ++q) {
        const std::int64_t g = (rep * ep + i) * groups + q;
        if (table) {
          std::copy_n(table->data() + g * E, E, counts.begin());  // uint32 -> int64
        } else {
          std::fill(counts.begin(), counts.end(), 0);
          sampler.sample_group(rng, G, g, counts.data());
        }
        const std::int64_t dropped = apply_capacity(counts.data(), E, capacity, ro.mode, processed.data());
        r.drops.assignments += static_cast<double>(m.top_k * G);
        r.drops.dropped += static_cast<double>(dropped);
        for (std::int64_t e = 0; e < E; ++e) {
          const auto j = static_cast<std::size_t>(e / per_dev);
          const auto p = static_cast<double>(processed[static_cast<std::size_t>(e)]);
          r.received[static_cast<std::size_t>(rep * ep) + j] += p;
          if (uneven) row[j] += p;
        }
      }
      if (uneven) {
        for (std::int64_t j = 0; j < ep; ++j) {
          double& tokens = row[static_cast<std::size_t>(j)];
          if (tokens != 0.0) sent.add(static_cast<std::int32_t>(j), tokens * bytes_per_token);
          tokens = 0.0;
        }
        sent.end_row();
      }
    }
    if (uneven) r.sent.push_back(std::move(sent).finish());
  }
  return r;
}

}  // namespace switchsim::workloads
