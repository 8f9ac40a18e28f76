// The step builder's decoder-only layers: the forward products are the model's FLOPs, attention
// is causal, and shared experts are local dense products.
#include <catch2/catch.hpp>

#include <string>

#include "decoder_fixture.hpp"
#include "workloads/model.hpp"
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
