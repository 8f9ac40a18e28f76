// Up-front estimate of one exact collective simulation (workloads/resource_estimate.hpp).
#include <catch2/catch.hpp>

#include "bench/support/torus_mesh_file.hpp"
#include "common/errors.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/mesh_file.hpp"
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
