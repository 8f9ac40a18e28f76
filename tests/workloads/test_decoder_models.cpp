// Decoder-only models (family "decoder"): parameter and FLOP counts against hand computations
// and the published totals, and one-line refusals of inconsistent model files.
#include <catch2/catch.hpp>

#include <string>

#include "decoder_fixture.hpp"
#include "helpers.hpp"
#include "workloads/model.hpp"
#include "workloads/model_catalog.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;
using switchsim::workloads::test::tiny_decoder_json;

TEST_CASE("decoder: parameters of a small GQA MoE config by hand", "[workloads][decoder]") {
  const Model m = model_from_json(tiny_decoder_json(), "tiny");
  REQUIRE(m.decoder_only());
  const ParamCount p = count_params(m);
  // Attention per layer: qkv 64 x (4 + 2*2) x 16 = 8192, out 4*16 x 64 = 4096 -> 12288; 2 layers.
  CHECK(p.attention == 24576.0);
  // Layer 0 dense SwiGLU 3 x 64 x 128 = 24576; layer 1's shared expert 3 x 64 x 32 = 6144.
  CHECK(p.dense_ffn == 30720.0);
  CHECK(p.experts == 4.0 * 6144.0);
  CHECK(p.active_experts == 2.0 * 6144.0);
  CHECK(p.router == 64.0 * 4.0);
  CHECK(p.norms == 2.0 * 2.0 * 64.0 + 64.0);
  CHECK(p.embeddings == 2.0 * 100.0 * 64.0);  // untied: input table and output layer
  CHECK(p.total() == 93248.0);
  CHECK(p.active() == 93248.0 - 2.0 * 6144.0);
}

TEST_CASE("decoder: forward FLOPs per token of a small config by hand", "[workloads][decoder]") {
  const Model m = model_from_json(tiny_decoder_json(), "tiny");
  const FlopCount f = count_forward_flops(m);
  // Weights a token multiplies: layer 0 12288 + 24576, layer 1 12288 + (2 routed + 1 shared) x 6144;
  // 2 FLOPs each, 8 tokens.
  CHECK(f.weight_flops == 2.0 * 8.0 * (36864.0 + 30720.0));
  // Causal attention: 8 queries x (8+1)/2 = 4 keys (rounded down) x 4 heads x (16 + 16) x 2, per layer.
  CHECK(f.attention_flops == 2.0 * (2.0 * 8.0 * 4.0 * 4.0 * 32.0));
  CHECK(f.router_flops == 2.0 * 8.0 * 64.0 * 4.0);
  CHECK(f.lm_head_flops == 2.0 * 8.0 * 64.0 * 100.0);
  CHECK(f.cross_kv_extra == 0.0);
  const json s = model_summary_json(m);
  CHECK(s.at("forward_flops_per_token").get<double>() == 1204224.0 / 8.0);
  CHECK(s.at("training_flops_per_token").get<double>() == 3.0 * 1204224.0 / 8.0);
  CHECK(s.at("params").get<double>() == 93248.0);
  CHECK(s.at("active_params").get<double>() == 80960.0);
}

TEST_CASE("decoder: the catalog's models match their published totals", "[workloads][decoder]") {
  struct Published {
    const char* name;
    double total;
    double active;
  };
  // Model cards / papers (data/models.json "source" of each entry).
  const Published published[] = {
      {"mixtral-8x7b", 46.7e9, 12.9e9}, {"mixtral-8x22b", 141e9, 39e9},  {"deepseek-v3", 671e9, 37e9},
      {"qwen3-235b-a22b", 235e9, 22e9}, {"qwen3-30b-a3b", 30.5e9, 3.3e9}, {"olmoe-1b-7b", 6.9e9, 1.3e9},
      {"dbrx", 132e9, 36e9},            {"llama3-8b", 8.0e9, 8.0e9},      {"llama3-70b", 70e9, 70e9},
  };
  for (const Published& x : published) {
    const json s = model_summary_json(load_model(x.name));
    INFO(x.name << ": " << s.at("params").get<double>() / 1e9 << "B total, " << s.at("active_params").get<double>() / 1e9
                << "B active");
    CHECK(s.at("params").get<double>() == Approx(x.total).epsilon(0.02));
    CHECK(s.at("active_params").get<double>() == Approx(x.active).epsilon(0.03));
    CHECK(s.at("family") == "decoder");
  }
  // Dense models: every parameter is active.
  const ParamCount l = count_params(load_model("llama3-8b"));
  CHECK(l.active() == l.total());
  // The T5 family keeps its counts and reports active parameters too (Switch-Base: top-1 of 128).
  const ParamCount sw = count_params(load_model("switch-base"));
  CHECK(sw.active() < sw.total());
  CHECK(sw.active() > sw.non_expert());
}

TEST_CASE("decoder: DeepSeek-V3 layer pattern and MLA widths", "[workloads][decoder]") {
  const Model m = load_model("deepseek-v3");
  CHECK(m.attention == AttentionKind::mla);
  CHECK_FALSE(m.is_switch_layer(2));  // first_k_dense_replace = 3
  CHECK(m.is_switch_layer(3));
  CHECK(m.is_switch_layer(60));
  CHECK(attention_op_dim(m) == (128 + 64 + 128) / 2);
  // MLA per layer: q_a 7168x1536, q_b 1536x128x192, kv_a 7168x576, kv_b 512x128x256, o 128x128x7168.
  const double mla = 7168.0 * 1536 + 1536.0 * 128 * 192 + 7168.0 * 576 + 512.0 * 128 * 256 + 128.0 * 128 * 7168;
  CHECK(count_params(m).attention == 61.0 * mla);
}

TEST_CASE("decoder: inconsistent model files are refused naming the field", "[workloads][decoder]") {
  auto with = [](const char* key, const json& value) {
    json j = tiny_decoder_json();
    j[key] = value;
    return j;
  };
  auto without = [](const char* key) {
    json j = tiny_decoder_json();
    j.erase(key);
    return j;
  };
  auto field = [](const json& j) { return field_of([&] { (void)model_from_json(j, "m"); }); };
  CHECK(field(tiny_decoder_json()) == "(no error)");
  json no_head_dim = without("head_dim");
  no_head_dim["heads"] = 3;
  no_head_dim["kv_heads"] = 3;
  CHECK(field(no_head_dim) == "m.heads");  // 3 does not divide d_model = 64
  CHECK(field(with("top_k", 5)) == "m.top_k");
  CHECK(field(with("kv_heads", 3)) == "m.kv_heads");
  CHECK(field(without("kv_heads")) == "m.kv_heads");  // gqa needs it
  CHECK(field(with("expert_d_ff", -32)) == "m.expert_d_ff");
  CHECK(field(with("d_model", -64)) == "m.d_model");
  CHECK(field(with("shared_experts", -1)) == "m.shared_experts");
  CHECK(field(with("attention", "linear")) == "m.attention");
  CHECK(field(with("ffn", "gelu")) == "m.ffn");
  CHECK(field(with("first_dense_layers", 3)) == "m.first_dense_layers");
  CHECK(field(with("moe_every", 0)) == "m.moe_every");
  CHECK(field(with("encoder_layers", 2)) == "m.encoder_layers");  // a T5 field: unknown here
  CHECK(field(with("mla", json::object())) == "m.mla");           // mla dims without attention "mla"
  json mla = with("attention", "mla");
  CHECK(field(mla) == "m.mla");  // required with "mla"
  mla["mla"] = json::parse(R"({"kv_lora_rank": 16, "qk_nope_head_dim": 0, "qk_rope_head_dim": 8, "v_head_dim": 16})");
  CHECK(field(mla) == "m.mla.qk_nope_head_dim");
  mla["mla"]["qk_nope_head_dim"] = 16;
  CHECK(field(mla) == "(no error)");
}
