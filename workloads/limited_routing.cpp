#include "workloads/limited_routing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "common/errors.hpp"
#include "topology/mesh.hpp"
#include "workloads/layout.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {

const char* to_string(Dispatch d) {
  switch (d) {
    case Dispatch::automatic: return "auto";
    case Dispatch::direct: return "direct";
    case Dispatch::per_node: return "per-node";
  }
  return "?";
}

Dispatch parse_dispatch(const std::string& text, const std::string& field) {
  if (text == "auto") return Dispatch::automatic;
  if (text == "direct") return Dispatch::direct;
  if (text == "per-node") return Dispatch::per_node;
  throw InputError(field, "must be 'auto', 'direct' or 'per-node' (got '" + text + "')");
}

RoutingPlan resolve_routing_plan(const RoutingLimit& limit, Dispatch dispatch, const topology::Mesh& mesh,
                                 const Layout& layout, const Model& model, MoeImpl impl, const RoutingSpec& spec) {
  RoutingPlan p;
  p.limit = limit;
  const char* kNodes = "--max-nodes-per-token";
  const char* kDevices = "--max-devices-per-token";
  if (limit.max_nodes < 0) throw InputError(kNodes, "must be at least 1");
  if (limit.max_devices < 0) throw InputError(kDevices, "must be at least 1");
  const bool limited = limit.max_nodes > 0 || limit.max_devices > 0;
  const bool asked = limited || dispatch == Dispatch::per_node;
  const std::string flag = limit.max_nodes > 0 ? kNodes : limit.max_devices > 0 ? kDevices : "--dispatch";
  if (!model.is_moe()) {
    if (asked) throw InputError(flag, "needs a mixture-of-experts model (" + model.name + " is dense)");
    p.dispatch = Dispatch::direct;
    return p;
  }
  if (asked && spec.kind == RoutingKind::trace) {
    throw InputError(flag, "a routing trace gives per-group expert counts, not per-token choices; use uniform, "
                           "zipf:S or dirichlet:ALPHA");
  }
  const bool cluster = mesh.structure.family == topology::MeshFamily::gpu_cluster;
  const std::int64_t ep = layout.ep;
  const std::int64_t per_index = model.experts / ep;
  const bool needs_nodes = limit.max_nodes > 0 || dispatch == Dispatch::per_node;
  const std::string nodes_flag = limit.max_nodes > 0 ? kNodes : "--dispatch";
  if (needs_nodes && !cluster) {
    throw InputError(nodes_flag, "needs a GPU-cluster mesh (nodes of NVLink-connected GPUs on a scale-out network); "
                                 "mesh '" + mesh.name + "' has no nodes (use --max-devices-per-token)");
  }
  if (cluster) {
    // Node of each ep index, per replica; every mp shard of an expert slice on the same node.
    p.node_of.resize(static_cast<std::size_t>(layout.replicas()));
    for (std::int64_t r = 0; r < layout.replicas(); ++r) {
      std::map<int, std::int32_t> dense;
      auto& row = p.node_of[static_cast<std::size_t>(r)];
      for (std::int64_t e = 0; e < ep; ++e) {
        const int node = mesh.node_of(layout.device(r, e, 0));
        for (std::int64_t m = 1; m < layout.expert_tp() && needs_nodes; ++m) {
          if (mesh.node_of(layout.device(r, e, m)) != node) {
            throw InputError(nodes_flag, "the mp (etp) shards of one expert slice span nodes in layout " +
                                             layout.to_string() + "; keep mp (etp) inside a node");
          }
        }
        const auto it = dense.emplace(node, static_cast<std::int32_t>(dense.size())).first;
        row.push_back(it->second);
      }
      if (r == 0) p.nodes = static_cast<std::int32_t>(dense.size());
      if (needs_nodes && static_cast<std::int32_t>(dense.size()) != p.nodes) {
        throw InputError(nodes_flag, "expert-parallel groups span different node counts in layout " + layout.to_string());
      }
    }
  }
  if (limit.max_nodes > 0) {
    const std::int64_t M = limit.max_nodes;
    if (M > p.nodes) {
      throw InputError(kNodes, "is " + std::to_string(M) + " but an expert-parallel group spans only " +
                                   std::to_string(p.nodes) + " node(s) (layout " + layout.to_string() + ")");
    }
    std::vector<std::int64_t> on_node(static_cast<std::size_t>(p.nodes), 0);
    for (std::int32_t n : p.node_of.front()) on_node[static_cast<std::size_t>(n)] += per_index;
    std::sort(on_node.begin(), on_node.end());
    std::int64_t reach = 0;  // experts on the M smallest nodes
    for (std::int64_t i = 0; i < M; ++i) reach += on_node[static_cast<std::size_t>(i)];
    if (reach < model.top_k) {
      throw InputError(kNodes, std::to_string(M) + " node(s) hold " + std::to_string(reach) +
                                   " experts, fewer than top_k " + std::to_string(model.top_k));
    }
    p.nodes_limit = M < p.nodes ? M : 0;
  }
  if (limit.max_devices > 0) {
    const std::int64_t M = limit.max_devices;
    if (M > ep) {
      throw InputError(kDevices, "is " + std::to_string(M) + " but the experts are spread over only " +
                                     std::to_string(ep) + " device(s) (ep = " + std::to_string(ep) + ")");
    }
    if (M * per_index < model.top_k) {
      throw InputError(kDevices, std::to_string(M) + " device(s) x " + std::to_string(per_index) +
                                     " experts each < top_k " + std::to_string(model.top_k));
    }
    p.devices_limit = M < ep ? M : 0;
  }
  const bool grouped = impl == MoeImpl::grouped;
  if (dispatch == Dispatch::per_node && !grouped) {
    throw InputError("--dispatch", "per-node needs routed loads (--moe-impl grouped, or --mode dropless); " +
                                       std::string(to_string(impl)) + " sends padded buffers to every device");
  }
  if (dispatch == Dispatch::automatic) {
    dispatch = limit.max_nodes > 0 && grouped ? Dispatch::per_node : Dispatch::direct;
  }
  p.dispatch = dispatch;
  return p;
}

TokenRouter::TokenRouter(std::vector<double> weights, std::int64_t experts, std::int64_t top_k, std::int64_t ep,
                         std::vector<std::int32_t> node_of_index, std::int64_t nodes_limit, std::int64_t devices_limit)
    : weights_(std::move(weights)),
      E_(experts),
      k_(top_k),
      ep_(ep),
      per_index_(experts / ep),
      node_of_index_(std::move(node_of_index)),
      nodes_limit_(nodes_limit),
      devices_limit_(devices_limit),
      r_(nodes_limit > 0 ? (top_k + nodes_limit - 1) / nodes_limit : 0) {
  SWITCHSIM_ASSERT(experts > 0 && top_k > 0 && top_k <= experts && ep > 0 && experts % ep == 0, "router shape");
  if (node_of_index_.empty()) node_of_index_.assign(static_cast<std::size_t>(ep), 0);
  SWITCHSIM_ASSERT(static_cast<std::int64_t>(node_of_index_.size()) == ep, "a node per ep index");
  nodes_ = 1 + *std::max_element(node_of_index_.begin(), node_of_index_.end());
  for (std::int64_t e = 0; e < E_; ++e) node_of_expert_.push_back(node_of_index_[static_cast<std::size_t>(e / per_index_)]);
  members_.resize(static_cast<std::size_t>(nodes_));
  for (std::int64_t e = 0; e < E_; ++e) members_[static_cast<std::size_t>(node_of_expert_[static_cast<std::size_t>(e)])].push_back(e);
  xs_.resize(static_cast<std::size_t>(nodes_ * k_));
  have_.resize(static_cast<std::size_t>(nodes_));
  score_.resize(static_cast<std::size_t>(E_));
  order_.reserve(static_cast<std::size_t>(E_));
  allowed_.resize(static_cast<std::size_t>(E_));
  group_score_.resize(static_cast<std::size_t>(std::max<std::int64_t>(nodes_, ep_)));
  group_order_.reserve(group_score_.size());
}

namespace {
// Keeps `ids` (groups with a score) ordered by score, highest first, ties by id; returns the first m.
void keep_best(std::vector<std::int32_t>& ids, const std::vector<double>& score, std::int64_t m) {
  const auto mid = ids.begin() + std::min<std::ptrdiff_t>(m, static_cast<std::ptrdiff_t>(ids.size()));
  std::partial_sort(ids.begin(), mid, ids.end(), [&](std::int32_t a, std::int32_t b) {
    const double sa = score[static_cast<std::size_t>(a)], sb = score[static_cast<std::size_t>(b)];
    return sa != sb ? sa > sb : a < b;
  });
  ids.erase(mid, ids.end());
}
}  // namespace

// Uniform popularity without a device limit: the affinities a = 1/X of a node's n experts are
// drawn as order statistics, smallest X first (Renyi: X_(1) = E_1 / n, X_(i+1) = X_(i) +
// E_{i+1} / (n - i), E ~ Exp(1)), and the experts holding them are a uniformly random ordering of
// the node's experts, independent of the values. Exactly the law of drawing every X, at
// nodes x r + M x k exponentials and k expert draws per token instead of E uniforms.
void TokenRouter::route_uniform(Rng& rng, std::int64_t* out) {
  auto exp1 = [&rng] { return -std::log1p(-rng.uniform01()); };
  const std::int32_t groups = nodes_limit_ > 0 ? nodes_ : 1;  // no limit: all experts one group
  const std::int64_t r = nodes_limit_ > 0 ? r_ : k_;
  // xs_[g * k_ + i]: the (i+1)-th smallest X of group g; filled to `have_[g]`.
  auto extend = [&](std::int32_t g, std::int64_t upto) {
    const std::int64_t n = nodes_limit_ > 0 ? static_cast<std::int64_t>(members_[static_cast<std::size_t>(g)].size()) : E_;
    std::int64_t& h = have_[static_cast<std::size_t>(g)];
    upto = std::min(upto, n);
    double x = h > 0 ? xs_[static_cast<std::size_t>(g * k_ + h - 1)] : 0.0;
    for (; h < upto; ++h) {
      x += exp1() / static_cast<double>(n - h);
      xs_[static_cast<std::size_t>(g * k_ + h)] = x;
    }
  };
  std::fill(have_.begin(), have_.begin() + groups, std::int64_t{0});
  group_order_.clear();
  for (std::int32_t g = 0; g < groups; ++g) {
    extend(g, r);
    if (nodes_limit_ > 0) {
      double sum = 0.0;
      for (std::int64_t i = 0; i < have_[static_cast<std::size_t>(g)]; ++i) {
        sum += 1.0 / std::max(xs_[static_cast<std::size_t>(g * k_ + i)], 0x1.0p-60);
      }
      group_score_[static_cast<std::size_t>(g)] = sum;
    }
    group_order_.push_back(g);
  }
  if (nodes_limit_ > 0) keep_best(group_order_, group_score_, nodes_limit_);
  // The k smallest X over the kept groups: each kept group's first k, merged.
  cand_.clear();
  for (std::int32_t g : group_order_) {
    extend(g, k_);
    for (std::int64_t i = 0; i < have_[static_cast<std::size_t>(g)]; ++i) {
      cand_.push_back({xs_[static_cast<std::size_t>(g * k_ + i)], g});
    }
  }
  SWITCHSIM_ASSERT(static_cast<std::int64_t>(cand_.size()) >= k_, "limits validated to leave top_k experts");
  std::partial_sort(cand_.begin(), cand_.begin() + k_, cand_.end(),
                    [](const Cand& a, const Cand& b) { return a.x != b.x ? a.x < b.x : a.group < b.group; });
  // Who holds them: distinct uniform experts of each group, in order.
  for (std::int64_t c = 0; c < k_; ++c) {
    const std::int32_t g = cand_[static_cast<std::size_t>(c)].group;
    const auto n = nodes_limit_ > 0 ? static_cast<std::uint32_t>(members_[static_cast<std::size_t>(g)].size())
                                    : static_cast<std::uint32_t>(E_);
    std::int64_t e = 0;
    for (;;) {
      const std::uint32_t pick = rng.below32(n);
      e = nodes_limit_ > 0 ? members_[static_cast<std::size_t>(g)][pick] : static_cast<std::int64_t>(pick);
      if (std::find(out, out + c, e) == out + c) break;
    }
    out[c] = e;
  }
}

void TokenRouter::route(Rng& rng, std::int64_t* out) {
  if (weights_.empty() && devices_limit_ == 0) {
    route_uniform(rng, out);
    return;
  }
  // a_e = p_e / X_e, X_e ~ Exp(1) = -log(1 - U), U in [0, 1). With uniform popularity the order of
  // the a_e is that of 1 - U (a = -1 / log(1 - U) is increasing in it), so the scores kept are
  // 1 - U and only the node sums below take logarithms (nodes x r of them instead of E).
  const bool uniform = weights_.empty();
  if (uniform) {
    for (std::int64_t e = 0; e < E_; ++e) score_[static_cast<std::size_t>(e)] = 1.0 - rng.uniform01();
  } else {
    for (std::int64_t e = 0; e < E_; ++e) {
      const double x = std::max(-std::log1p(-rng.uniform01()), 0x1.0p-60);
      score_[static_cast<std::size_t>(e)] = weights_[static_cast<std::size_t>(e)] / x;
    }
  }
  std::fill(allowed_.begin(), allowed_.end(), char{1});
  if (nodes_limit_ > 0) {
    // Node score: the sum of its r = ceil(K / M) highest affinities.
    best_.assign(static_cast<std::size_t>(nodes_ * r_), -1.0);
    for (std::int64_t e = 0; e < E_; ++e) {
      double s = score_[static_cast<std::size_t>(e)];
      double* b = best_.data() + static_cast<std::ptrdiff_t>(node_of_expert_[static_cast<std::size_t>(e)]) * r_;
      for (std::int64_t i = 0; i < r_ && s > b[r_ - 1]; ++i) {  // insertion into the node's descending top r
        if (s > b[i]) std::swap(s, b[i]);
      }
    }
    group_order_.clear();
    for (std::int32_t n = 0; n < nodes_; ++n) {
      double sum = 0.0;
      for (std::int64_t i = 0; i < r_; ++i) {
        const double b = best_[static_cast<std::size_t>(n * r_ + i)];
        if (b <= 0.0) continue;  // a node with fewer than r experts
        sum += uniform ? (b >= 1.0 ? 0x1.0p60 : -1.0 / std::log(b)) : b;
      }
      group_score_[static_cast<std::size_t>(n)] = sum;
      group_order_.push_back(n);
    }
    keep_best(group_order_, group_score_, nodes_limit_);
    kept_node_.assign(static_cast<std::size_t>(nodes_), char{0});
    for (std::int32_t n : group_order_) kept_node_[static_cast<std::size_t>(n)] = 1;
    for (std::int64_t e = 0; e < E_; ++e) {
      allowed_[static_cast<std::size_t>(e)] = kept_node_[static_cast<std::size_t>(node_of_expert_[static_cast<std::size_t>(e)])];
    }
  }
  if (devices_limit_ > 0) {
    // Device score: its highest allowed affinity.
    group_order_.clear();
    for (std::int64_t j = 0; j < ep_; ++j) {
      double best = -1.0;
      for (std::int64_t e = j * per_index_; e < (j + 1) * per_index_; ++e) {
        if (allowed_[static_cast<std::size_t>(e)] != 0) best = std::max(best, score_[static_cast<std::size_t>(e)]);
      }
      group_score_[static_cast<std::size_t>(j)] = best;
      if (best >= 0.0) group_order_.push_back(static_cast<std::int32_t>(j));
    }
    keep_best(group_order_, group_score_, devices_limit_);
    std::fill(allowed_.begin(), allowed_.end(), char{0});
    for (std::int32_t j : group_order_) {
      std::fill(allowed_.begin() + j * per_index_, allowed_.begin() + (j + 1) * per_index_, char{1});
    }
    // The node restriction holds: a device's experts share its node, and only devices with an
    // allowed expert were candidates.
  }
  order_.clear();
  for (std::int64_t e = 0; e < E_; ++e) {
    if (allowed_[static_cast<std::size_t>(e)] != 0) order_.push_back(e);
  }
  SWITCHSIM_ASSERT(static_cast<std::int64_t>(order_.size()) >= k_, "limits validated to leave top_k experts");
  std::partial_sort(order_.begin(), order_.begin() + k_, order_.end(), [&](std::int64_t a, std::int64_t b) {
    const double sa = score_[static_cast<std::size_t>(a)], sb = score_[static_cast<std::size_t>(b)];
    return sa != sb ? sa > sb : a < b;
  });
  std::copy(order_.begin(), order_.begin() + k_, out);
}

std::int64_t claim_capacity(const std::vector<std::int64_t>& choices, std::int64_t top_k, std::int64_t experts,
                            std::int64_t capacity, ExecutionMode mode, std::vector<char>& processed,
                            std::vector<std::int64_t>& counts) {
  const auto n = static_cast<std::int64_t>(choices.size());
  const std::int64_t tokens = n / top_k;
  processed.assign(choices.size(), char{0});
  counts.assign(static_cast<std::size_t>(experts), 0);
  std::int64_t dropped = 0;
  for (std::int64_t c = 0; c < top_k; ++c) {  // first choices before second choices (GShard)
    for (std::int64_t t = 0; t < tokens; ++t) {
      const auto a = static_cast<std::size_t>(t * top_k + c);
      std::int64_t& used = counts[static_cast<std::size_t>(choices[a])];
      if (mode == ExecutionMode::dropless || used < capacity) {
        ++used;
        processed[a] = 1;
      } else {
        ++dropped;
      }
    }
  }
  return dropped;
}

NodeMap::NodeMap(std::vector<std::int32_t> node_of_index) : node_of(std::move(node_of_index)) {
  const std::int32_t nodes = node_of.empty() ? 0 : 1 + *std::max_element(node_of.begin(), node_of.end());
  members.resize(static_cast<std::size_t>(nodes));
  rank.resize(node_of.size());
  for (std::size_t j = 0; j < node_of.size(); ++j) {
    auto& m = members[static_cast<std::size_t>(node_of[j])];
    rank[j] = static_cast<std::int32_t>(m.size());
    m.push_back(static_cast<std::int32_t>(j));
  }
}

void add_token_dispatch(Dispatch dispatch, const NodeMap& nodes, std::int64_t source, const std::int64_t* dest,
                        std::int64_t n, std::vector<double>& copies) {
  const auto ep = static_cast<std::int64_t>(nodes.node_of.size());
  auto at = [&](std::int64_t i, std::int64_t j) -> double& { return copies[static_cast<std::size_t>(i * ep + j)]; };
  if (dispatch != Dispatch::per_node) {
    for (std::int64_t a = 0; a < n; ++a) at(source, dest[a]) += 1.0;
    return;
  }
  // Distinct destination devices, ascending.
  static thread_local std::vector<std::int64_t> d;  // reused: this runs once per token
  static thread_local std::vector<std::int32_t> crossed;  // remote nodes already sent to
  d.assign(dest, dest + n);
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  crossed.clear();
  const std::int32_t home = nodes.node_of[static_cast<std::size_t>(source)];
  for (std::int64_t j : d) {
    const std::int32_t node = nodes.node_of[static_cast<std::size_t>(j)];
    if (node == home) {
      at(source, j) += 1.0;  // NVLink, one copy per device
      continue;
    }
    const std::int32_t relay = nodes.relay(source, node);
    if (std::find(crossed.begin(), crossed.end(), node) == crossed.end()) {
      crossed.push_back(node);
      at(source, relay) += 1.0;  // the node's one scale-out copy, to the device of the same rank
    }
    if (j != relay) at(relay, j) += 1.0;  // forwarded over NVLink inside the node
  }
}

}  // namespace switchsim::workloads
