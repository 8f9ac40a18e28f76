#pragma once
// Routing distributions, expert capacity and dropped tokens (DESIGN.md 2.5).
//
// Tokens are routed in groups of G tokens (default per MoE implementation,
// training.hpp: one device's local batch, the paper's tokens_per_core, or
// Mesh-TF's groups of at most 1024 for einsum). With E experts and top-k routing each token
// makes k assignments to k distinct experts; expert e receives n_e of the k*G
// assignments of a group. The capacity of every expert, per group, is
//     C = ceil(cf * k * G / E)                        (paper eq. 3, per core)
// Slots are claimed in token order (cumulative count, first choices before
// second choices for k = 2, as in GShard), so the first C assignments to an
// expert are processed and the rest are dropped; the count does not depend on
// the order:  dropped = sum_e max(0, n_e - C).  The drop fraction is
// dropped / (k * G * groups): the fraction of token-to-expert assignments no
// expert processes (a dropped token rides the residual connection).
//   mode capacity  buffers padded to C (static shapes): compute and all-to-all
//                  bytes follow C, drops cost quality.
//   mode dropless  nothing is dropped; compute and bytes follow the actual n_e.
//
// Distributions of one token's expert (the k choices drawn without
// replacement, redrawing a repeat):
//   uniform        p_e = 1/E
//   zipf:S         p_e proportional to 1/rank^S, ranks shuffled over experts per layer (seeded)
//   dirichlet:A    p ~ Dirichlet(A, ..., A), drawn once per layer and step (popularity that drifts)
//   trace:FILE     per-group expert counts {"experts": E, "groups": [[n_0 .. n_{E-1}], ...]}, used
//                  in order and cycled; a group whose total differs from k*G is rescaled to k*G
//                  (largest remainder rounding).
// Oracle (tests): uniform top-1, expected drops per group = E * E[max(0, X - C)], X ~ Binomial(G, 1/E).

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/rng.hpp"

namespace switchsim::workloads {

enum class RoutingKind : std::uint8_t { uniform, zipf, dirichlet, trace };
enum class ExecutionMode : std::uint8_t { capacity, dropless };

[[nodiscard]] const char* to_string(ExecutionMode mode);
[[nodiscard]] ExecutionMode parse_mode(const std::string& text, const std::string& field = "--mode");

struct RoutingSpec {
  RoutingKind kind = RoutingKind::uniform;
  double parameter = 0.0;                             // zipf exponent S or dirichlet concentration A
  std::vector<std::vector<double>> trace_groups;      // trace: per-group expert counts
  std::string text = "uniform";                       // as given, for outputs
};

// "uniform", "zipf:1.2", "dirichlet:0.5", "trace:path.json". InputError(field, ...) otherwise;
// a malformed trace file names the JSON field inside it.
[[nodiscard]] RoutingSpec parse_routing(const std::string& text, const std::string& field = "--routing");
// Checks a trace against the model's expert count.
void check_routing_for_model(const RoutingSpec& spec, std::int64_t experts, const std::string& field = "--routing");

// ceil(cf * k * G / E), with a relative tolerance of 1e-12 so that e.g. 1.1 * 1000 / 10
// is 110, not 111 from rounding. Throws InputError("--capacity-factor") when cf <= 0.
[[nodiscard]] std::int64_t expert_capacity(double capacity_factor, std::int64_t top_k, std::int64_t group_tokens,
                                           std::int64_t experts);

// Draws the expert counts of routing groups for one layer.
class RoutingSampler {
 public:
  // Draws the layer's popularity (dirichlet) or rank shuffle (zipf) from `rng`.
  RoutingSampler(const RoutingSpec& spec, std::int64_t experts, std::int64_t top_k, Rng& rng);
  // counts[e] += assignments of one group of `group_tokens` tokens to expert e (sum k * G).
  // `group_index` selects the trace group (cycled).
  void sample_group(Rng& rng, std::int64_t group_tokens, std::int64_t group_index, std::int64_t* counts) const;
  // The layer's expert popularity p_e (zipf, dirichlet; empty: uniform or trace).
  [[nodiscard]] const std::vector<double>& weights() const { return weights_; }

 private:
  static void split_uniform(Rng& rng, std::int64_t n, std::uint32_t first, std::uint32_t size, std::int64_t* counts);
  const RoutingSpec* spec_;
  std::int64_t experts_;
  std::int64_t top_k_;
  std::vector<double> weights_;
  std::vector<AliasTable> table_;  // zero or one
};

struct DropStats {
  double assignments = 0.0;  // token-to-expert assignments made (k per token)
  double dropped = 0.0;      // of them, not processed
  [[nodiscard]] double fraction() const { return assignments > 0.0 ? dropped / assignments : 0.0; }
};

// Processes one group's counts: returns the dropped assignments (0 in dropless) and writes
// processed[e] = min(n_e, C) (capacity) or n_e (dropless).
std::int64_t apply_capacity(const std::int64_t* counts, std::int64_t experts, std::int64_t capacity,
                            ExecutionMode mode, std::int64_t* processed);

// The exact expectation E[max(0, X - C)] for X ~ Binomial(n, p) (log-space pmf, no underflow).
[[nodiscard]] double expected_excess_binomial(std::int64_t n, double p, std::int64_t capacity);
// Expected dropped assignments per group for uniform top-1 routing: E * E[max(0, X - C)].
[[nodiscard]] double expected_uniform_top1_drops(std::int64_t group_tokens, std::int64_t experts,
                                                 std::int64_t capacity);

// A 64-bit mix (splitmix64) to derive independent seeds: seed_for(seed, stream).
[[nodiscard]] std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

}  // namespace switchsim::workloads
