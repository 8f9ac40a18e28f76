#pragma once
// A small decoder-only MoE model for tests (family "decoder", workloads/model.hpp): GQA, SwiGLU,
// one dense first layer, then MoE layers with 4 routed experts (top-2) and 1 shared expert.
#include "workloads/model_catalog.hpp"

namespace switchsim::workloads::test {

inline json tiny_decoder_json() {
  return json::parse(R"({"name": "tiny-decoder", "family": "decoder", "d_model": 64, "d_ff": 128, "heads": 4,
    "head_dim": 16, "layers": 2, "seq_len": 8, "vocab": 100, "attention": "gqa", "kv_heads": 2, "ffn": "swiglu",
    "experts": 4, "expert_d_ff": 32, "top_k": 2, "shared_experts": 1, "first_dense_layers": 1})");
}

}  // namespace switchsim::workloads::test
