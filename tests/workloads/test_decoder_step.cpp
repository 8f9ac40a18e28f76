// The step builder's decoder-only layers: the forward products are the model's FLOPs, attention
// is causal, and shared experts are local dense products.
#include <catch2/catch.hpp>

#include <string>

#include "decoder_fixture.hpp"
#include "workloads/model.hpp"
#include "workloads/layout.hpp"
#include "workloads/memory.hpp"
#include "workloads/step_builder.hpp"

using namespace switchsim;
using namespace switchsim::workloads;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

TEST_CASE("decoder: the step's forward products are the model's weight and LM-head FLOPs", "[workloads][decoder]") {
  const Model m = model_from_json(test::tiny_decoder_json(), "tiny");
  Layout l;  // one device
  TrainingSetup setup;
  setup.batch_tokens = 64;  // 8 sequences of 8 tokens
  setup.micro_batches = 1;
  setup.moe_impl = MoeImpl::grouped;
  const StepShape shape = derive_step_shape(setup, m, l);
  REQUIRE(shape.local_tokens == 64);
  REQUIRE(shape.local_decoder_tokens == 0);
  RoutingOptions ro;
  ro.mode = ExecutionMode::dropless;  // grouped + dropless on one device: the experts get exactly k T rows
  const BuiltStep step = build_step(m, l, setup, shape, ro, 1);
  double products = 0.0;
  int attention_ops = 0, shared = 0, router = 0;
  for (std::int32_t i = 0; i < step.graph.num_ops(); ++i) {
    const sim::Op& op = step.graph.op(i);
    if (!ends_with(op.name, ".fwd")) continue;
    const kernels::OpKind k = op.shape.kind;
    if (k == kernels::OpKind::matmul || k == kernels::OpKind::batched_matmul) products += op.shape.flops();
    if (k == kernels::OpKind::router) ++router;
    if (k == kernels::OpKind::attention) {
      ++attention_ops;
      CHECK(op.shape.m == 8);                // queries
      CHECK(op.shape.n == causal_keys(8));   // keys: the causal half
      CHECK(op.shape.n == 4);
      CHECK(op.shape.k == 16);
      CHECK(op.shape.batch == 8 * 4);        // sequences x heads
    }
    if (op.name.find("switch.shared_w") != std::string::npos) ++shared;
  }
  // count_forward_flops: per sequence weight_flops + lm_head_flops, 8 sequences (the router is fp32, its own kind).
  const FlopCount f = count_forward_flops(m);
  CHECK(products == Approx(8.0 * (f.weight_flops + f.lm_head_flops)).epsilon(1e-12));
  CHECK(attention_ops == 2);
  CHECK(router == 1);  // layer 0 is dense (first_dense_layers = 1)
  CHECK(shared == 2);  // shared_wi and shared_wo of layer 1
  CHECK(step.drops.dropped == 0.0);
  CHECK(step.drops.assignments == Approx(2.0 * 64.0));  // top-2 of 64 tokens in the one MoE layer
}

TEST_CASE("decoder: mp must divide the K/V heads and the expert width", "[workloads][decoder]") {
  const Model m = model_from_json(test::tiny_decoder_json(), "tiny");  // heads 4, kv_heads 2, expert_d_ff 32
  Layout l;
  l.dp = 2;
  l.mp = 2;
  CHECK_NOTHROW(validate_layout(l, m, 4));
  l.dp = 1;
  l.mp = 4;  // divides heads 4, d_ff 128 and expert_d_ff 32, not the 2 K/V heads
  CHECK_THROWS_WITH(validate_layout(l, m, 4), Catch::Contains("--layout.mp") && Catch::Contains("K/V heads"));
  json j = test::tiny_decoder_json();
  j["expert_d_ff"] = 30;
  j["kv_heads"] = 4;
  const Model odd = model_from_json(j, "odd");
  l.dp = 2;
  l.mp = 2;
  CHECK_NOTHROW(validate_layout(l, odd, 4));  // 2 | 30
  l.dp = 1;
  l.mp = 4;
  CHECK_THROWS_WITH(validate_layout(l, odd, 4), Catch::Contains("expert_d_ff=30"));
}

TEST_CASE("decoder: activation memory keeps no L x L attention scores", "[workloads][decoder]") {
  // Dense decoders with 8- and 32-token sequences, the same 64 tokens per device: fused attention
  // keeps per-token tensors only, so the activations are the same (the T5 estimate's scores grow with L).
  json j = test::tiny_decoder_json();
  for (const char* k : {"experts", "expert_d_ff", "top_k", "shared_experts", "first_dense_layers"}) j.erase(k);
  const Model short_seq = model_from_json(j, "short");
  j["seq_len"] = 32;
  const Model long_seq = model_from_json(j, "long");
  Layout l;
  TrainingSetup setup;
  setup.batch_tokens = 64;
  setup.micro_batches = 1;
  const MemoryEstimate a = estimate_memory(short_seq, l, setup, derive_step_shape(setup, short_seq, l), 0.0, 0.0, 80e9);
  const MemoryEstimate b = estimate_memory(long_seq, l, setup, derive_step_shape(setup, long_seq, l), 0.0, 0.0, 80e9);
  CHECK(a.activations_bytes == b.activations_bytes);
  CHECK(a.parameters_bytes == b.parameters_bytes);
  // Per layer: 64 tokens x (2 d + 4 heads head_dim) x 2 B + 64 x 4 heads x 4 B (log-sum-exp), and
  // the dense SwiGLU FFN 64 x (2 d + 3 d_ff) x 2 B; 2 layers; the fp32 logits 64 x 100 x 4 B.
  const double attn = 64.0 * (2.0 * 64 + 4.0 * 64) * 2.0 + 64.0 * 4 * 4.0;
  const double ffn = 64.0 * (2.0 * 64 + 3.0 * 128) * 2.0;
  CHECK(a.activations_bytes == 2.0 * (attn + ffn) + 64.0 * 100 * 4.0);
}
