// Outputs that mean what they say in dropless mode: no capacity factor or expert
// capacity (they play no role), the busiest device's load instead, and a
// capacity sweep that collapses to one row.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "workloads/simulate.hpp"
#include "workloads/step_request.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

ResolvedStep small_step(const std::string& mode) {
  StepRequest q;
  q.model = "switch-base";
  q.mesh = "tpuv3-2x2";
  q.layout = "dp=8,ep=8";
  q.batch_tokens = 16 * 512;
  q.mode = mode;
  return resolve_step_request(q);
}

}  // namespace

TEST_CASE("dropless output: no capacity figures, the busiest device's load instead", "[dropless]") {
  ResolvedStep d = small_step("dropless");
  const StepResult r = simulate_step(d.model, *d.mesh, d.layout, d.options, *d.cost);
  const json j = to_json(r);
  CHECK_FALSE(j.contains("capacity_factor"));
  CHECK_FALSE(j.contains("expert_capacity"));
  CHECK_FALSE(j.contains("decoder_expert_capacity"));
  // The busiest device receives at least the mean load: k x local tokens per Switch layer
  // (top-1, 2 sequences of 512 tokens per device), and the ratio says by how much more.
  const double mean_slots = 1.0 * 2 * 512;
  CHECK(j.at("busiest_device_slots").get<double>() >= mean_slots);
  // The ratio is the largest over encoder and decoder layers (decoder groups are smaller and vary more).
  CHECK(r.max_expert_load_ratio >= j.at("busiest_device_slots").get<double>() / mean_slots - 1e-12);
  CHECK(j.at("decoder_busiest_device_slots").get<double>() >= 1.0 * 2 * 114);
  const std::string text = to_text(r);
  CHECK(text.find("expert capacity") == std::string::npos);
  CHECK(text.find("capacity factor 1 (") == std::string::npos);  // the capacity-mode header line
  CHECK(text.find("drop fraction") == std::string::npos);
  CHECK(text.find("dropless mode") != std::string::npos);
  // Dropless on TPU runs the grouped GEMM, which the platform may not run as priced.
  CHECK(j.contains("platform_caveat"));
  CHECK(text.find("NOTE: grouped GEMM on TPU") != std::string::npos);

  ResolvedStep c = small_step("capacity");
  const json jc = to_json(simulate_step(c.model, *c.mesh, c.layout, c.options, *c.cost));
  CHECK(jc.contains("capacity_factor"));
  CHECK(jc.contains("expert_capacity"));
  CHECK_FALSE(jc.contains("platform_caveat"));  // einsum: what the paper's TPU runs executed
}

TEST_CASE("dropless output: a capacity sweep in dropless mode is one row", "[dropless]") {
  ResolvedStep d = small_step("dropless");
  const auto rows = capacity_sweep(d.model, *d.mesh, d.layout, d.options, {0.5, 1.0, 2.0}, 1, *d.cost);
  REQUIRE(rows.size() == 1);
  const json j = to_json(rows);
  REQUIRE(j.at("rows").size() == 1);
  CHECK_FALSE(j.at("rows")[0].contains("capacity_factor"));
  CHECK(j.at("rows")[0].at("mode") == "dropless");
  ResolvedStep c = small_step("capacity");
  CHECK(capacity_sweep(c.model, *c.mesh, c.layout, c.options, {0.5, 1.0, 2.0}, 1, *c.cost).size() == 3);
}

TEST_CASE("text output of a decoder-only model names one stack, no T5 decoder figures", "[dropless][decoder]") {
  for (const std::string mode : {"capacity", "dropless"}) {
    StepRequest q;
    q.model = "olmoe-1b-7b";
    q.mesh = "dgx-h100-1";
    q.layout = "dp=8,ep=8";
    q.batch_tokens = 8 * 4096;
    q.mode = mode;
    ResolvedStep d = resolve_step_request(q);
    const StepResult r = simulate_step(d.model, *d.mesh, d.layout, d.options, *d.cost);
    CHECK(r.decoder_only);
    const std::string text = to_text(r);
    INFO(text);
    CHECK(text.find("(decoder") == std::string::npos);
    CHECK(text.find("encoder") == std::string::npos);
  }
  // The encoder-decoder family keeps both stacks' figures.
  ResolvedStep t = small_step("capacity");
  const std::string t5 = to_text(simulate_step(t.model, *t.mesh, t.layout, t.options, *t.cost));
  CHECK(t5.find("(decoder") != std::string::npos);
  CHECK(t5.find("encoder") != std::string::npos);
}
