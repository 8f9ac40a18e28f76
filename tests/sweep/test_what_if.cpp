// Hardware what-ifs change exactly the figures they name, and nothing else.
#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "sweep/run_point.hpp"
#include "sweep/what_if.hpp"
#include "topology/mesh_catalog.hpp"

using switchsim::json;
namespace sweep = switchsim::sweep;
namespace topo = switchsim::topology;

TEST_CASE("what-if: scaling one link kind's bandwidth changes only those links' bandwidth", "[sweep]") {
  const topo::Mesh before = topo::build_mesh("dgx-h100-2");
  topo::Mesh after = topo::build_mesh("dgx-h100-2");
  const sweep::WhatIf w = sweep::parse_what_if(json::parse(R"({"bandwidth": {"nic": 2}, "latency": {"nvlink": 0.5}})"), "w");
  CHECK(w.name == "nvlink latency x0.5, nic bandwidth x2");
  sweep::apply_to_links(w, after);
  REQUIRE(after.topology.num_links() == before.topology.num_links());
  REQUIRE(after.topology.num_vertices() == before.topology.num_vertices());
  int nic = 0;
  int nvlink = 0;
  for (topo::LinkId l = 0; l < before.topology.num_links(); ++l) {
    const topo::Link& a = before.topology.link(l);
    const topo::Link& b = after.topology.link(l);
    CHECK(a.src == b.src);
    CHECK(a.dst == b.dst);
    CHECK(a.kind == b.kind);
    CHECK(a.efficiency == b.efficiency);
    const double bw = a.kind == topo::LinkKind::nic ? 2.0 : 1.0;
    const double lat = a.kind == topo::LinkKind::nvlink ? 0.5 : 1.0;
    nic += a.kind == topo::LinkKind::nic;
    nvlink += a.kind == topo::LinkKind::nvlink;
    CHECK(b.bandwidth_Bps == a.bandwidth_Bps * bw);
    CHECK(b.latency_s == a.latency_s * lat);
  }
  CHECK(nic > 0);
  CHECK(nvlink > 0);
  // Routes are those of the machine as built.
  CHECK(after.router->path_count(0, 15) == before.router->path_count(0, 15));
}

TEST_CASE("what-if: on a mesh without the link kind it is refused", "[sweep]") {
  const topo::Mesh mesh = topo::build_mesh("tpuv3-2x2");
  const sweep::WhatIf w = sweep::parse_what_if(json::parse(R"({"latency": {"fabric": 2}})"), "what_ifs[3]");
  try {
    sweep::check_applicable(w, mesh, "what_ifs[3]");
    FAIL("no error");
  } catch (const switchsim::InputError& e) {
    CHECK(e.field() == "what_ifs[3].latency.fabric");
  }
}

TEST_CASE("what-if: peak FLOP/s and HBM size scale the device figures of a point's result", "[sweep]") {
  json inputs = json::parse(R"({"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 65536,
                               "micro_batches": 1})");
  sweep::Point base;
  base.inputs = inputs;
  base.inputs["what_if"] = sweep::to_json(base.what_if);
  sweep::Point faster = base;
  faster.what_if = sweep::parse_what_if(json::parse(R"({"peak_flops": 2, "hbm_bytes": 1.5})"), "w");
  faster.inputs["what_if"] = sweep::to_json(faster.what_if);
  const json a = sweep::run_point(base, sweep::Command::simulate, {});
  const json b = sweep::run_point(faster, sweep::Command::simulate, {});
  REQUIRE(a.contains("result"));
  REQUIRE(b.contains("result"));
  const json& ra = a["result"];
  const json& rb = b["result"];
  CHECK(rb["peak_flops_per_device"].get<double>() == 2.0 * ra["peak_flops_per_device"].get<double>());
  CHECK(rb["memory"]["device_memory_bytes"].get<double>() == 1.5 * ra["memory"]["device_memory_bytes"].get<double>());
  // Same model FLOPs; faster compute cannot make the step slower, and the step is not all compute
  // at peak, so it is less than twice as fast (MFU against the doubled peak is lower).
  CHECK(rb["model_flops_per_step"] == ra["model_flops_per_step"]);
  CHECK(rb["step_time_s"].get<double>() < ra["step_time_s"].get<double>());
  CHECK(rb["step_time_s"].get<double>() > 0.5 * ra["step_time_s"].get<double>());
  CHECK(rb["mfu"].get<double>() < ra["mfu"].get<double>());
  // Communication alone is unchanged by compute and memory what-ifs.
  CHECK(rb["memory"]["total_bytes"] == ra["memory"]["total_bytes"]);
}
