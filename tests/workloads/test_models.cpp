// The model catalog against the paper's Table 9 (REFERENCE.md): parameters
// within 15%, forward FLOPs per sequence (512 input, 114 target tokens) within 10%.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/errors.hpp"
#include "workloads/model_catalog.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {
struct Row {
  const char* name;
  double params;
  double flops;
};
// Table 9 as printed (REFERENCE.md), independent of data/models.json.
constexpr Row kTable9[] = {
    {"t5-base", 0.2e9, 124e9},      {"t5-large", 0.7e9, 425e9},    {"t5-xxl", 11e9, 6.3e12},
    {"switch-base", 7e9, 124e9},    {"switch-large", 26e9, 425e9}, {"switch-xxl", 395e9, 6.3e12},
    {"switch-c", 1571e9, 890e9},
};
}  // namespace

TEST_CASE("every Table 9 row: params within 15%, FLOPs per sequence within 10%", "[models]") {
  for (const Row& row : kTable9) {
    INFO(row.name);
    const Model m = load_model(row.name);
    const double params = count_params(m).total();
    const double flops = count_forward_flops(m).flops_per_sequence();
    CHECK(std::abs(params / row.params - 1.0) <= 0.15);
    CHECK(std::abs(flops / row.flops - 1.0) <= 0.10);
  }
}

TEST_CASE("T5-Base parameters by hand", "[models]") {
  // attention 4*768*768 = 2,359,296; GEGLU FFN 3*768*2048 = 4,718,592
  // encoder 12*(2,359,296 + 4,718,592) = 84,934,656; decoder 12*(2*2,359,296 + 4,718,592) = 113,246,208
  // embeddings 32128*768 = 24,674,304; norms (12*2 + 12*3 + 2) * 768 = 47,616
  const double expected = 84934656.0 + 113246208.0 + 24674304.0 + 47616.0;
  CHECK(count_params(load_model("t5-base")).total() == Approx(expected).epsilon(1e-12));
}

TEST_CASE("Switch-C: 30 Switch layers of 2048 ReLU experts", "[models]") {
  const Model m = load_model("Switch-C");  // names are case-insensitive
  // 30 layers * 2048 experts * 2 * 2080 * 6144 = 1,570,384,527,360 expert weights
  const double experts = 30.0 * 2048.0 * 2.0 * 2080.0 * 6144.0;
  CHECK(count_params(m).experts == Approx(experts).epsilon(1e-12));
  CHECK(m.switch_layers(m.encoder_layers) == 15);
}

TEST_CASE("Switch-XXL follows the configuration that reproduces 395B: 128 experts", "[models]") {
  const Model m = load_model("switch-xxl");
  CHECK(m.experts == 128);
  CHECK(m.switch_layers(24) == 12);
}

TEST_CASE("a Switch model and its dense twin cost the same FLOPs but for the router", "[models]") {
  // Top-1: one expert FFN per token = the dense FFN; only the router differs.
  const FlopCount dense = count_forward_flops(load_model("t5-base"));
  const FlopCount sw = count_forward_flops(load_model("switch-base"));
  CHECK(sw.flops_per_sequence() == Approx(dense.flops_per_sequence()).epsilon(1e-12));
  // router: 2 * 768 * 128 per token per Switch layer; 6 layers x 512 + 6 layers x 114 tokens
  CHECK(sw.router_flops == Approx(2.0 * 768 * 128 * 6 * (512 + 114)).epsilon(1e-12));
}

TEST_CASE("moe-base is top-2: expert FLOPs double", "[models]") {
  const Model moe = load_model("moe-base");
  const Model sw = load_model("switch-base");
  CHECK(moe.top_k == 2);
  // Extra: one more GEGLU FFN (2*3*768*2048 FLOPs/token) on 6 Switch layers of each stack.
  const double extra = 2.0 * 3 * 768 * 2048 * 6 * (512 + 114);
  CHECK(count_forward_flops(moe).weight_flops - count_forward_flops(sw).weight_flops == Approx(extra).epsilon(1e-9));
  CHECK(count_params(moe).total() == count_params(sw).total());
}

TEST_CASE("unknown model and bad model files are input errors naming the field", "[models]") {
  try {
    (void)load_model("switch-z");
    FAIL("expected InputError");
  } catch (const InputError& e) {
    CHECK(e.field() == "--model");
  }
  json j = {{"name", "x"}, {"d_model", 0}, {"d_ff", 8}, {"heads", 1}, {"layers", 2}};
  try {
    (void)model_from_json(j, "m");
    FAIL("expected InputError");
  } catch (const InputError& e) {
    CHECK(e.field() == "m.d_model");
  }
  j["d_model"] = 8;
  j["ffn"] = "swish";
  CHECK_THROWS_AS(model_from_json(j, "m"), InputError);
}

TEST_CASE("list summary has name, params and flops_per_sequence", "[models]") {
  const json s = model_summary_json(load_model("switch-base"));
  CHECK(s.at("name") == "switch-base");
  CHECK(s.at("params").get<double>() > 7e9);
  CHECK(s.at("flops_per_sequence").get<double>() > 1e11);
}
