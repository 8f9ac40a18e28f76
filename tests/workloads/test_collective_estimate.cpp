// Up-front estimate of one exact collective simulation (workloads/resource_estimate.hpp).
#include <catch2/catch.hpp>

#include <cmath>

#include "bench/support/torus_mesh_file.hpp"
#include "common/errors.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/mesh_file.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/resource_estimate.hpp"

using namespace switchsim;

TEST_CASE("collective estimate: ECMP mesh files cost re-solves, dimension-order tori do not", "[workloads][estimate]") {
  // The 32x32 torus as a mesh file: 1024 x 1023 pairs, ~7.4 shortest paths each
  // (7.78M sub-flows measured); bench_mesh_file measured 50 s of CPU. The
  // estimate must be within a factor 3 of that and below the one-hour limit.
  const auto file32 = topology::mesh_from_json(bench::torus_mesh_json(32), "t32");
  const auto e32 = workloads::estimate_collective_resources(file32, sim::CollectiveOp::all_to_all, {});
  CHECK(e32.cpu_s > 50.0 / 3.0);
  CHECK(e32.cpu_s < 50.0 * 3.0);
  CHECK(e32.cpu_s < kMaxCpuSeconds);
  CHECK_NOTHROW(check_resources("--mesh", e32, false, workloads::kFasterNetworkModels));
  // The catalog torus of the same size routes one path per pair (DOR): flows only.
  const auto dor = topology::build_mesh("tpuv3-32x32");
  const auto e_dor = workloads::estimate_collective_resources(dor, sim::CollectiveOp::all_to_all, {});
  CHECK(e_dor.cpu_s == Approx(workloads::kCpuSecondsPerFlow * 2048.0 * 2047.0));
  // Past the limit the refusal names the approximations.
  ResourceEstimate huge = e32;
  huge.cpu_s = 2.0 * kMaxCpuSeconds;
  try {
    check_resources("--mesh", huge, false, workloads::kFasterNetworkModels);
    FAIL("expected a refusal");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("--network-tolerance") != std::string::npos);
    CHECK(what.find("--load-model-above") != std::string::npos);
    CHECK(what.find("--force") != std::string::npos);
  }
}

TEST_CASE("step estimate: the overlap of gradient buckets and all-to-alls under the shared network",
          "[workloads][estimate]") {
  const workloads::Model model = workloads::load_model("deepseek-v3", "--model");
  workloads::StepOptions o;
  o.training.optimizer = workloads::Optimizer::adam;
  o.training.grad_sync.kind = workloads::GradSyncKind::bucketed;
  o.training.grad_sync.bucket_bytes = 25.0 * 1024 * 1024;
  o.network_model = workloads::NetworkModel::shared;
  workloads::Layout wide;
  wide.dp = 256;
  wide.ep = 256;
  const auto e = workloads::estimate_step_resources(model, wide, o);
  // By hand: ceil(non-expert params x 2 B / 25 MiB) buckets x 2 x 255 ring rounds, each
  // re-solving 256 x 255 all-to-all flows at kCpuSecondsPerResolve.
  const double buckets = std::ceil(workloads::count_params(model).non_expert() * 2.0 / (25.0 * 1024 * 1024));
  const double overlap = workloads::kCpuSecondsPerResolve * buckets * 2.0 * 255.0 * 256.0 * 255.0;
  o.network_model = workloads::NetworkModel::isolated;
  const auto alone = workloads::estimate_step_resources(model, wide, o);
  CHECK(e.cpu_s == Approx(alone.cpu_s + overlap).epsilon(1e-12));
  CHECK(e.cpu_s > kMaxCpuSeconds);
  CHECK(e.faster == workloads::kFasterStepModels);
  CHECK(alone.faster.empty());
  // Fused sync issues no bucket during the backward pass: nothing overlaps.
  o.network_model = workloads::NetworkModel::shared;
  o.training.grad_sync.kind = workloads::GradSyncKind::fused;
  CHECK(workloads::estimate_step_resources(model, wide, o).cpu_s == Approx(alone.cpu_s).epsilon(1e-12));
  // Eight stages of dp = ep = 32: an eighth of the dense gradients per stage, 31-step rings,
  // 32 x 31 flows: well under the limit.
  o.training.grad_sync.kind = workloads::GradSyncKind::bucketed;
  workloads::Layout staged;
  staged.dp = 32;
  staged.ep = 32;
  staged.pp = 8;
  CHECK(workloads::estimate_step_resources(model, staged, o).cpu_s < 60.0);
}
