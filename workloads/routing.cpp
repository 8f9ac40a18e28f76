#include "workloads/routing.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "common/json_io.hpp"

namespace switchsim::workloads {

const char* to_string(ExecutionMode mode) { return mode == ExecutionMode::capacity ? "capacity" : "dropless"; }

ExecutionMode parse_mode(const std::string& text, const std::string& field) {
  if (text == "capacity") return ExecutionMode::capacity;
  if (text == "dropless") return ExecutionMode::dropless;
  throw InputError(field, "must be 'capacity' or 'dropless' (got '" + text + "')");
}

namespace {

double parse_positive_number(const std::string& s, const std::string& field) {
  std::size_t used = 0;
  double x = 0.0;
  try {
    x = std::stod(s, &used);
  } catch (const std::exception&) {
    throw InputError(field, "'" + s + "' is not a number");
  }
  if (used != s.size() || !std::isfinite(x)) throw InputError(field, "'" + s + "' is not a number");
  if (!(x > 0.0)) throw InputError(field, "must be positive (got " + s + ")");
  return x;
}

std::vector<std::vector<double>> load_trace(const std::string& path, const std::string& field) {
  const json j = read_json_file(path, field);
  const std::string where = field + "(" + path + ")";
  // `source` and `note` (optional) say where the counts came from; not read.
  require_known_keys(j, {"experts", "groups", "source", "note"}, where);
  const long long experts = require_integer(j, "experts", where);
  if (experts <= 0) throw InputError(where + ".experts", "must be positive");
  const json& groups = require(j, "groups", where);
  if (!groups.is_array() || groups.empty()) throw InputError(where + ".groups", "must be a non-empty array");
  std::vector<std::vector<double>> out;
  out.reserve(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string gw = where + ".groups[" + std::to_string(g) + "]";
    const json& row = groups[g];
    if (!row.is_array() || row.size() != static_cast<std::size_t>(experts)) {
      throw InputError(gw, "must be an array of " + std::to_string(experts) + " expert counts");
    }
    std::vector<double> counts;
    double total = 0.0;
    for (std::size_t e = 0; e < row.size(); ++e) {
      if (!row[e].is_number() || row[e].get<double>() < 0.0 || !std::isfinite(row[e].get<double>())) {
        throw InputError(gw + "[" + std::to_string(e) + "]", "must be a non-negative number");
      }
      counts.push_back(row[e].get<double>());
      total += counts.back();
    }
    if (!(total > 0.0)) throw InputError(gw, "has no assignments");
    out.push_back(std::move(counts));
  }
  return out;
}

}  // namespace

RoutingSpec parse_routing(const std::string& text, const std::string& field) {
  RoutingSpec spec;
  spec.text = text;
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  const std::string arg = colon == std::string::npos ? std::string() : text.substr(colon + 1);
  if (kind == "uniform" && colon == std::string::npos) {
    spec.kind = RoutingKind::uniform;
  } else if (kind == "zipf" && !arg.empty()) {
    spec.kind = RoutingKind::zipf;
    spec.parameter = parse_positive_number(arg, field);
  } else if (kind == "dirichlet" && !arg.empty()) {
    spec.kind = RoutingKind::dirichlet;
    spec.parameter = parse_positive_number(arg, field);
  } else if (kind == "trace" && !arg.empty()) {
    spec.kind = RoutingKind::trace;
    spec.trace_groups = load_trace(arg, field);
  } else {
    throw InputError(field, "'" + text + "' is not one of uniform, zipf:S, dirichlet:ALPHA, trace:FILE");
  }
  return spec;
}

void check_routing_for_model(const RoutingSpec& spec, std::int64_t experts, const std::string& field) {
  if (spec.kind != RoutingKind::trace) return;
  if (static_cast<std::int64_t>(spec.trace_groups.front().size()) != experts) {
    throw InputError(field, "trace has " + std::to_string(spec.trace_groups.front().size()) +
                                " experts per group but the model has " + std::to_string(experts));
  }
}

std::int64_t expert_capacity(double capacity_factor, std::int64_t top_k, std::int64_t group_tokens,
                             std::int64_t experts) {
  if (!(capacity_factor > 0.0) || !std::isfinite(capacity_factor)) {
    throw InputError("--capacity-factor", "must be a positive number");
  }
  SWITCHSIM_ASSERT(experts > 0 && group_tokens > 0 && top_k > 0, "capacity of a non-MoE layer");
  const double x = capacity_factor * static_cast<double>(top_k) * static_cast<double>(group_tokens) /
                   static_cast<double>(experts);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(x * (1.0 - 1e-12))));
}

RoutingSampler::RoutingSampler(const RoutingSpec& spec, std::int64_t experts, std::int64_t top_k, Rng& rng)
    : spec_(&spec), experts_(experts), top_k_(top_k) {
  SWITCHSIM_ASSERT(experts > 0 && top_k > 0 && top_k <= experts, "routing needs 0 < k <= E");
  const auto E = static_cast<std::size_t>(experts);
  switch (spec.kind) {
    case RoutingKind::uniform:
    case RoutingKind::trace:
      break;
    case RoutingKind::zipf: {
      std::vector<std::size_t> rank(E);
      std::iota(rank.begin(), rank.end(), std::size_t{0});
      for (std::size_t i = E - 1; i > 0; --i) std::swap(rank[i], rank[rng.below(i + 1)]);  // Fisher-Yates
      weights_.resize(E);
      for (std::size_t e = 0; e < E; ++e) weights_[e] = std::pow(static_cast<double>(rank[e] + 1), -spec.parameter);
      table_.emplace_back(weights_);
      break;
    }
    case RoutingKind::dirichlet: {
      weights_ = rng.dirichlet(std::vector<double>(E, spec.parameter));
      table_.emplace_back(weights_);
      break;
    }
  }
}

namespace {
// Binomial(n, 1/2): popcount of n random bits.
std::int64_t binomial_half_portable(Rng& rng, std::int64_t n) {
  std::int64_t k = 0;
  for (; n >= 64; n -= 64) k += std::popcount(rng.next64());
  if (n > 0) k += std::popcount(rng.next64() & ((std::uint64_t{1} << n) - 1));
  return k;
}
#if defined(__GNUC__) && defined(__x86_64__)
// The same with the POPCNT instruction: the build targets baseline x86-64, where
// std::popcount is a library call (4% of recommend's instructions); every x86-64
// CPU since about 2008 has POPCNT, checked at run time. Same counts.
__attribute__((target("popcnt"))) std::int64_t binomial_half_popcnt(Rng& rng, std::int64_t n) {
  std::int64_t k = 0;
  for (; n >= 64; n -= 64) k += __builtin_popcountll(rng.next64());
  if (n > 0) k += __builtin_popcountll(rng.next64() & ((std::uint64_t{1} << n) - 1));
  return k;
}
std::int64_t binomial_half(Rng& rng, std::int64_t n) {
  static const bool popcnt = __builtin_cpu_supports("popcnt");
  return popcnt ? binomial_half_popcnt(rng, n) : binomial_half_portable(rng, n);
}
#else
std::int64_t binomial_half(Rng& rng, std::int64_t n) { return binomial_half_portable(rng, n); }
#endif
}  // namespace

void RoutingSampler::split_uniform(Rng& rng, std::int64_t n, std::uint32_t first, std::uint32_t size,
                                   std::int64_t* counts) {
  if (size == 1) {
    counts[first] += n;
    return;
  }
  if (n == 0) return;
  const std::int64_t left = binomial_half(rng, n);
  split_uniform(rng, left, first, size / 2, counts);
  split_uniform(rng, n - left, first + size / 2, size / 2, counts);
}

void RoutingSampler::sample_group(Rng& rng, std::int64_t G, std::int64_t group_index, std::int64_t* counts) const {
  const std::int64_t total = top_k_ * G;
  if (spec_->kind == RoutingKind::trace) {
    const auto& row = spec_->trace_groups[static_cast<std::size_t>(group_index) % spec_->trace_groups.size()];
    const double sum = std::accumulate(row.begin(), row.end(), 0.0);
    // Largest remainder rounding of row * total / sum; ties broken by expert index.
    std::vector<std::pair<double, std::int64_t>> rem;
    std::int64_t given = 0;
    for (std::int64_t e = 0; e < experts_; ++e) {
      const double x = row[static_cast<std::size_t>(e)] * static_cast<double>(total) / sum;
      const auto whole = static_cast<std::int64_t>(std::floor(x));
      counts[e] += whole;
      given += whole;
      rem.emplace_back(-(x - static_cast<double>(whole)), e);
    }
    std::sort(rem.begin(), rem.end());
    for (std::int64_t i = 0; i < total - given; ++i) counts[rem[static_cast<std::size_t>(i)].second] += 1;
    return;
  }
  const auto E = static_cast<std::uint32_t>(experts_);
  // Uniform over a power-of-two expert count: log2(E) raw bits per draw, exactly uniform.
  int log2E = 0;
  while ((std::uint32_t{1} << log2E) < E) ++log2E;
  const bool pow2 = (std::uint32_t{1} << log2E) == E && log2E <= 32;
  auto draw = [&]() -> std::int64_t {
    if (!table_.empty()) return table_.front().sample(rng);
    return pow2 ? static_cast<std::int64_t>(log2E == 0 ? 0 : rng.bits(log2E)) : static_cast<std::int64_t>(rng.below32(E));
  };
  if (top_k_ == 1) {
    if (table_.empty() && pow2 && log2E > 0) {
      // Uniform multinomial over 2^k experts by recursive halving: the tokens of a block of
      // experts split between its two halves as Binomial(n, 1/2) = the popcount of n fair
      // bits. Exactly the distribution of G independent uniform draws, at one popcount per
      // 64 tokens and level instead of one increment per token.
      split_uniform(rng, G, 0, E, counts);
    } else {
      for (std::int64_t t = 0; t < G; ++t) counts[draw()] += 1;
    }
    return;
  }
  if (table_.empty() && pow2 && top_k_ == 2) {
    // The loop below for k = 2 over 2^log2E uniform experts, written out: the same draws from
    // `rng` in the same order (the first expert; the second redrawn while it repeats the first,
    // at most 63 times, then the next expert), so the same counts; no per-draw branching on the
    // distribution (top-2 routing, Mixtral, was a third of a dropless step's CPU).
    const std::int64_t mask = static_cast<std::int64_t>(E) - 1;
    for (std::int64_t t = 0; t < G; ++t) {
      const auto first = static_cast<std::int64_t>(rng.bits(log2E));
      auto second = static_cast<std::int64_t>(rng.bits(log2E));
      for (int tries = 1; second == first; ++tries) {
        second = tries < 64 ? static_cast<std::int64_t>(rng.bits(log2E)) : (second + 1) & mask;
      }
      counts[first] += 1;
      counts[second] += 1;
    }
    return;
  }
  std::vector<std::int64_t> chosen(static_cast<std::size_t>(top_k_));
  for (std::int64_t t = 0; t < G; ++t) {
    for (std::int64_t c = 0; c < top_k_; ++c) {
      std::int64_t e = draw();
      int tries = 0;
      while (std::find(chosen.begin(), chosen.begin() + c, e) != chosen.begin() + c) {
        if (++tries < 64) {
          e = draw();
        } else {  // a distribution concentrated on fewer than k experts: next unused expert
          e = (e + 1) % experts_;
        }
      }
      chosen[static_cast<std::size_t>(c)] = e;
      counts[e] += 1;
    }
  }
}

std::int64_t apply_capacity(const std::int64_t* counts, std::int64_t experts, std::int64_t capacity,
                            ExecutionMode mode, std::int64_t* processed) {
  std::int64_t dropped = 0;
  for (std::int64_t e = 0; e < experts; ++e) {
    if (mode == ExecutionMode::capacity && counts[e] > capacity) {
      processed[e] = capacity;
      dropped += counts[e] - capacity;
    } else {
      processed[e] = counts[e];
    }
  }
  return dropped;
}

double expected_excess_binomial(std::int64_t n, double p, std::int64_t capacity) {
  // E[max(0, X - C)] = E[X] - E[min(X, C)] = n p - sum_{x<=C} x P(x) - C P(X > C).
  if (capacity >= n) return 0.0;
  const double log_p = std::log(p);
  const double log_q = std::log1p(-p);
  const double lg_n1 = std::lgamma(static_cast<double>(n) + 1.0);
  double below_mass = 0.0;
  double below_mean = 0.0;
  for (std::int64_t x = 0; x <= capacity; ++x) {
    const double xd = static_cast<double>(x);
    const double log_pmf = lg_n1 - std::lgamma(xd + 1.0) - std::lgamma(static_cast<double>(n - x) + 1.0) +
                           xd * log_p + static_cast<double>(n - x) * log_q;
    const double pmf = std::exp(log_pmf);
    below_mass += pmf;
    below_mean += xd * pmf;
  }
  const double tail = std::max(0.0, 1.0 - below_mass);
  return std::max(0.0, static_cast<double>(n) * p - below_mean - static_cast<double>(capacity) * tail);
}

double expected_uniform_top1_drops(std::int64_t group_tokens, std::int64_t experts, std::int64_t capacity) {
  return static_cast<double>(experts) *
         expected_excess_binomial(group_tokens, 1.0 / static_cast<double>(experts), capacity);
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace switchsim::workloads
