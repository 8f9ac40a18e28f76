// validate --step's two sides (workloads/step_validation.hpp): the simulated step of the tiny CPU
// model priced by a synthetic profile whose every kind costs work x rate (an analytical oracle),
// the op categories, the real CPU step (its loss falls under Adam on a fixed batch: the assembled
// backward points downhill), and the result's fields.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/errors.hpp"
#include "kernels/cpu/switch_model_step_cpu.hpp"
#include "kernels/profile.hpp"
#include "tests/kernels/synthetic_profile.hpp"
#include "workloads/model.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/step_validation.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/layout.hpp"
#include "workloads/simulate.hpp"
#include "workloads/training.hpp"

namespace {

using namespace switchsim;
using kernels::cpu::SwitchModelConfig;

std::unique_ptr<kernels::CostModel> synthetic_model(const std::vector<std::string>& without = {}) {
  return kernels::cost_model_from_profile_json(testing::synthetic_cpu_profile(without), "cpu", "synthetic", "--profile");
}

SwitchModelConfig small_config() {
  SwitchModelConfig c;
  c.sequences = 2;
  c.input_length = 16;
  c.target_length = 8;
  c.d_model = 16;
  c.heads = 2;
  c.d_kv = 8;
  c.d_ff = 32;
  c.experts = 4;
  c.vocab = 32;
  return c;
}

}  // namespace

TEST_CASE("step_op_category maps the simulator's op names", "[step_validation]") {
  using workloads::step_op_category;
  CHECK(step_op_category("enc0.self.qkv.dgrad") == "matmul");
  CHECK(step_op_category("dec0.cross.kv.wgrad") == "matmul");
  CHECK(step_op_category("dec0.cross.attention.bwd") == "attention");
  CHECK(step_op_category("enc0.switch.expert_act.fwd") == "expert_ffn");
  CHECK(step_op_category("enc0.switch.router.wgrad") == "router");
  CHECK(step_op_category("enc.embed.lookup.fwd") == "elementwise");
  CHECK(step_op_category("lm_head.loss.bwd") == "elementwise");
  CHECK(step_op_category("optimizer.update") == "optimizer");
  CHECK(step_op_category("enc0.switch.dispatch_a2a.fwd") == "other");
}

TEST_CASE("the tiny CPU model file matches the step's default config", "[step_validation]") {
  const std::filesystem::path file = std::filesystem::path(SWITCHSIM_SOURCE_DIR) / "data/examples/switch-tiny-cpu.json";
  const workloads::Model from_file = workloads::load_model(file.string());
  const workloads::Model from_code = workloads::model_of(SwitchModelConfig{});
  CHECK(from_file.name == from_code.name);
  CHECK(from_file.d_model == from_code.d_model);
  CHECK(from_file.d_ff == from_code.d_ff);
  CHECK(from_file.d_kv == from_code.d_kv);
  CHECK(from_file.heads == from_code.heads);
  CHECK(from_file.encoder_layers == from_code.encoder_layers);
  CHECK(from_file.decoder_layers == from_code.decoder_layers);
  CHECK(from_file.experts == from_code.experts);
  CHECK(from_file.expert_every == from_code.expert_every);
  CHECK(from_file.top_k == from_code.top_k);
  CHECK(from_file.vocab == from_code.vocab);
  CHECK(from_file.input_length == from_code.input_length);
  CHECK(from_file.target_length == from_code.target_length);
  CHECK(from_file.ffn == from_code.ffn);
}

TEST_CASE("predict_step: a linear profile gives the closed forms", "[step_validation]") {
  const SwitchModelConfig c = small_config();
  const auto cost = synthetic_model();
  const json p = workloads::predict_step(c, *cost);
  const double sum = p["phases"]["forward"].get<double>() + p["phases"]["backward"].get<double>() +
                     p["phases"]["optimizer"].get<double>();
  CHECK(p["step_s"].get<double>() == Approx(sum).epsilon(1e-12));
  CHECK(p["collectives"] == 0);
  // Adam: 28 B per parameter, the real step's parameter count.
  kernels::cpu::SwitchModelStepCpu real(c, 1);
  CHECK(p["parameters"].get<double>() == static_cast<double>(real.parameters()));
  CHECK(p["phases"]["optimizer"].get<double>() ==
        Approx(28.0 * static_cast<double>(real.parameters()) * testing::kSyntheticSecondsPerByte).epsilon(1e-9));
  // Attention: per block and head (x sequences) 4 L_q L_k d_kv + 5 L_q L_k FLOPs forward
  // (OpShape::flops), twice that backward (priced as two forward-sized calls); blocks: encoder
  // self (16 x 16), decoder self (8 x 8), cross (8 x 16).
  const double heads = static_cast<double>(c.sequences * c.heads), dk = static_cast<double>(c.d_kv);
  const double fwd = heads * (4.0 * dk + 5.0) * (16.0 * 16.0 + 8.0 * 8.0 + 8.0 * 16.0);
  CHECK(p["categories"]["attention"]["seconds"].get<double>() ==
        Approx(3.0 * fwd * testing::kSyntheticSecondsPerFlop).epsilon(1e-9));
  CHECK(p["categories"]["attention"]["time_source"] == "profile");
  // Expert FFN (relu, capacity C = ceil(T / E) per expert, one group): 2 products of 2 C d f
  // FLOPs per expert forward, 4 backward (dgrad + wgrad), plus the activation's bytes
  // (2 matrices x rows x f x 4 B, forward and backward).
  double expert = 0.0;
  for (const double T : {32.0, 16.0}) {
    const double C = std::ceil(T / 4.0), rows = 4.0 * C;
    expert += 3.0 * 2.0 * (2.0 * rows * 16.0 * 32.0) * testing::kSyntheticSecondsPerFlop;
    expert += 2.0 * (2.0 * rows * 32.0 * 4.0) * testing::kSyntheticSecondsPerByte;
  }
  CHECK(p["categories"]["expert_ffn"]["seconds"].get<double>() == Approx(expert).epsilon(1e-9));
  CHECK_FALSE(p["categories"].contains("other"));
}

TEST_CASE("predict_step names the op kind a profile lacks", "[step_validation]") {
  const auto cost = synthetic_model({"attention"});
  try {
    (void)workloads::predict_step(small_config(), *cost);
    FAIL("an incomplete profile was accepted");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("attention") != std::string::npos);
  }
}

TEST_CASE("the real CPU step: the loss falls under Adam on a fixed batch", "[step_validation]") {
  SwitchModelConfig c = small_config();
  kernels::cpu::SwitchModelStepCpu step(c, 3);
  std::vector<kernels::cpu::StepOpTime> ops;
  const double first = step.step(&ops);
  double last = first;
  for (int i = 0; i < 15; ++i) last = step.step(nullptr);
  CHECK(std::isfinite(first));
  CHECK(last < first - 1e-3);
  // Every op has a phase and a category the comparison knows.
  bool saw_optimizer = false;
  for (const auto& op : ops) {
    CHECK(op.seconds >= 0.0);
    CHECK((op.category == "elementwise" || op.category == "matmul" || op.category == "attention" ||
           op.category == "router" || op.category == "dispatch" || op.category == "expert_ffn" ||
           op.category == "combine" || op.category == "optimizer"));
    if (op.category != "expert_ffn" && op.category != "optimizer") {
      CHECK(workloads::step_op_category(op.name) == op.category);  // named as the simulator names it
    }
    saw_optimizer = saw_optimizer || op.phase == kernels::cpu::StepPhase::optimizer;
  }
  CHECK(saw_optimizer);
}

TEST_CASE("validate_step_cpu: every field, both sides positive", "[step_validation]") {
  workloads::StepValidationOptions o;
  o.config = small_config();
  o.warmup_steps = 1;
  o.timed_steps = 2;
  o.pause_s = 0.0;
  const auto cost = synthetic_model();
  const json r = workloads::validate_step_cpu(*cost, o);
  for (const char* k : {"backend", "model", "protocol", "cost_model", "measured", "predicted", "errors", "not_priced", "not_run"}) {
    CHECK(r.contains(k));
  }
  CHECK(r["measured"]["step"]["median_s"].get<double>() > 0.0);
  CHECK(r["predicted"]["step_s"].get<double>() > 0.0);
  for (const char* phase : {"forward", "backward", "optimizer"}) {
    CHECK(r["measured"]["phases"][phase]["median_s"].get<double>() > 0.0);
    CHECK(r["measured"]["phases"][phase]["p10_s"].get<double>() <= r["measured"]["phases"][phase]["p90_s"].get<double>());
    CHECK(r["predicted"]["phases"][phase].get<double>() > 0.0);
    CHECK(r["errors"]["phases"].contains(phase));
  }
  CHECK(r["errors"]["categories"].contains("attention"));
  CHECK(r["errors"]["categories"].contains("expert_ffn"));
  // Attention reads and writes the heads in place: no real op the simulator does not price.
  CHECK(r["not_priced"]["ops"].empty());
  // The same op list: every real op has a simulated counterpart, and the counterparts' predictions
  // add up to the whole simulated step (each simulated op is matched by exactly one real op, so
  // none of them lacks a real kernel).
  double matched = 0.0;
  for (const auto& op : r["op_times"]) {
    INFO(op["name"].get<std::string>());
    CHECK(op["category"] != "unpriced");
    REQUIRE(op.contains("predicted_s"));
    matched += op["predicted_s"].get<double>();
  }
  CHECK(matched == Approx(r["predicted"]["step_s"].get<double>()).epsilon(1e-12));

  o.timed_steps = 0;
  CHECK_THROWS_AS(workloads::validate_step_cpu(*cost, o), InputError);
}

TEST_CASE("simulate on cpu-1 with a profile: the sum of the ops' times, no collectives", "[step_validation][cpu]") {
  const SwitchModelConfig c = small_config();
  const auto dir = std::filesystem::temp_directory_path() / "switchsim-test-cpu-1";
  std::filesystem::create_directories(dir);
  const auto path = dir / "synthetic-cpu.json";
  {
    std::ofstream f(path);
    f << testing::synthetic_cpu_profile().dump();
  }
  // The catalog's `cpu` is profile-only: its cost model is the profile's (no catalog geometry).
  const auto cost = workloads::make_cost_model("cpu", path.string());
  const topology::Mesh mesh = topology::build_mesh("cpu-1");
  CHECK(mesh.device_kind == "cpu");
  CHECK(mesh.topology.num_devices() == 1);
  CHECK(mesh.topology.num_links() == 0);
  workloads::StepOptions so;
  so.training.batch_tokens = c.encoder_tokens();
  so.training.micro_batches = 1;
  so.training.moe_impl = workloads::MoeImpl::gather;
  so.training.precision = workloads::Precision::fp32;
  so.training.optimizer = workloads::Optimizer::adam;
  const workloads::StepResult r =
      workloads::simulate_step(workloads::model_of(c), mesh, workloads::parse_layout("dp=1,ep=1,mp=1"), so, *cost);
  CHECK(r.exposed_communication_s == 0.0);
  CHECK(r.overlapped_communication_s == 0.0);
  // Every op costs work x rate (1e-10 s per FLOP or byte): the step is the rate times the compute
  // kinds' FLOPs plus the memory kinds' bytes, op after op on the one device.
  double linear = 0.0;
  for (const auto& row : r.op_accounting.rows) {
    const bool memory = row.kind == "dispatch" || row.kind == "combine" || row.kind == "elementwise" ||
                        row.kind == "optimizer";
    const bool compute = row.kind == "matmul" || row.kind == "batched_matmul" || row.kind == "router" ||
                         row.kind == "attention";
    if (!memory && !compute) {  // a collective: none on one device
      CHECK(row.count == 0);
      continue;
    }
    linear += (memory ? row.bytes * testing::kSyntheticSecondsPerByte : row.flops * testing::kSyntheticSecondsPerFlop);
  }
  CHECK(r.step_time_s == Approx(linear).epsilon(1e-9));
  CHECK(r.step_time_s == Approx(r.compute_lower_bound_s).epsilon(1e-12));
  // validate --step's prediction is this simulation, and the optimizer's share is 28 B per parameter.
  const json p = workloads::predict_step(c, *cost);
  CHECK(p["step_s"].get<double>() == Approx(r.step_time_s).epsilon(1e-12));
  CHECK(p["mesh"] == "cpu-1");
  CHECK(r.model_flops.mfu == 0.0);  // no catalog peak for a profile-only device
  std::filesystem::remove_all(dir);
}

TEST_CASE("a cpu mesh without a profile: one InputError naming --profile", "[step_validation][cpu]") {
  try {
    (void)workloads::make_cost_model("cpu", "");
    FAIL("priced the cpu without a profile");
  } catch (const InputError& e) {
    CHECK(e.field() == "--profile");
  }
  CHECK_THROWS_AS(topology::build_mesh("cpu-2"), InputError);
}
