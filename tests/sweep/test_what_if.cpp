// Hardware what-ifs change exactly the figures they name, and nothing else.
#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "sweep/device_what_ifs.hpp"
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

TEST_CASE("what-if: HBM bandwidth changes the step time only through the memory ceiling", "[sweep]") {
  // On 8 TPU v3 cores the element-wise ops (layer norms, activations, the optimizer) are
  // memory-bound, so the step time moves; the device's memory size, peak and the model FLOPs do not.
  json inputs = json::parse(R"({"model": "switch-base", "mesh": "tpuv3-2x2", "batch_tokens": 65536,
                               "micro_batches": 1, "network_model": "isolated"})");
  sweep::Point base;
  base.inputs = inputs;
  base.inputs["what_if"] = sweep::to_json(base.what_if);
  sweep::Point faster = base;
  faster.what_if = sweep::parse_what_if(json::parse(R"({"hbm_bandwidth": 4})"), "w");
  CHECK(faster.what_if.name == "hbm_bandwidth x4");
  faster.inputs["what_if"] = sweep::to_json(faster.what_if);
  CHECK(faster.inputs["what_if"]["hbm_bandwidth"] == 4.0);
  const json a = sweep::run_point(base, sweep::Command::simulate, {});
  const json b = sweep::run_point(faster, sweep::Command::simulate, {});
  REQUIRE(a.contains("result"));
  REQUIRE(b.contains("result"));
  const json& ra = a["result"];
  const json& rb = b["result"];
  CHECK(rb["peak_flops_per_device"] == ra["peak_flops_per_device"]);
  CHECK(rb["memory"] == ra["memory"]);
  CHECK(rb["model_flops_per_step"] == ra["model_flops_per_step"]);
  CHECK(rb["step_time_s"].get<double>() < ra["step_time_s"].get<double>());
  // A slower memory makes it slower.
  sweep::Point slower = base;
  slower.what_if = sweep::parse_what_if(json::parse(R"({"hbm_bandwidth": 0.25})"), "w");
  slower.inputs["what_if"] = sweep::to_json(slower.what_if);
  const json c = sweep::run_point(slower, sweep::Command::simulate, {});
  REQUIRE(c.contains("result"));
  CHECK(c["result"]["step_time_s"].get<double>() > ra["step_time_s"].get<double>());
}

TEST_CASE("what-if: HBM bandwidth and peak FLOP/s cannot scale a measured profile", "[sweep]") {
  const sweep::WhatIf w = sweep::parse_what_if(json::parse(R"({"hbm_bandwidth": 2})"), "w");
  CHECK(w.scales_ceilings());
  CHECK(sweep::scaled_cost_model(w, "tpuv3", "") != nullptr);
  CHECK(sweep::scaled_cost_model(sweep::WhatIf{}, "tpuv3", "") == nullptr);  // nothing to scale: the request's own
  try {
    (void)sweep::scaled_cost_model(w, "tpuv3", "measured.json");
    FAIL("no error");
  } catch (const switchsim::InputError& e) {
    CHECK(e.field() == "what_if.hbm_bandwidth");
  }
}

TEST_CASE("what-if: nvlink_domain regroups a DGX mesh's GPUs into larger NVLink domains", "[sweep]") {
  const topo::Mesh before = topo::build_mesh("dgx-h100-4");
  topo::Mesh after = topo::build_mesh("dgx-h100-4");
  const sweep::WhatIf w = sweep::parse_what_if(json::parse(R"({"nvlink_domain": 16})"), "w");
  CHECK(w.name == "nvlink_domain 16");
  CHECK(w.changes_mesh());
  sweep::check_applicable(w, after, "what_ifs[0]");
  sweep::apply_to_mesh(w, after);
  // 4 nodes x 8 GPUs -> 2 nodes x 16: the same 32 GPUs, device kind and fabric kind.
  CHECK(before.structure.nodes == 4);
  CHECK(after.structure.nodes == 2);
  CHECK(after.structure.gpus_per_node == 16);
  CHECK(after.topology.num_devices() == 32);
  CHECK(after.device_kind == before.device_kind);
  CHECK(after.structure.fabric == before.structure.fabric);
  CHECK(after.node_of(15) == 0);
  CHECK(after.node_of(16) == 1);
  CHECK(before.node_of(8) == 1);
  // Each GPU keeps one NVLink and one NIC link each way, at the catalog's figures.
  int nvlink = 0;
  int nic = 0;
  for (const topo::Link& l : after.topology.links()) {
    nvlink += l.kind == topo::LinkKind::nvlink;
    nic += l.kind == topo::LinkKind::nic;
  }
  int nvlink_before = 0;
  int nic_before = 0;
  double nvlink_bw = 0.0;
  double nvlink_bw_before = 0.0;
  for (const topo::Link& l : before.topology.links()) {
    nvlink_before += l.kind == topo::LinkKind::nvlink;
    nic_before += l.kind == topo::LinkKind::nic;
    if (l.kind == topo::LinkKind::nvlink) nvlink_bw_before = l.bandwidth_Bps;
  }
  for (const topo::Link& l : after.topology.links()) {
    if (l.kind == topo::LinkKind::nvlink) nvlink_bw = l.bandwidth_Bps;
  }
  CHECK(nvlink == nvlink_before);
  CHECK(nic == nic_before);
  CHECK(nvlink_bw == nvlink_bw_before);

  // One domain of all 32 GPUs: one node, no fabric.
  topo::Mesh one = topo::build_mesh("dgx-h100-4");
  sweep::apply_to_mesh(sweep::parse_what_if(json::parse(R"({"nvlink_domain": 32})"), "w"), one);
  CHECK(one.structure.nodes == 1);
  CHECK(one.structure.fabric == topo::FabricKind::none);
}

TEST_CASE("what-if: nvlink_domain is refused on a TPU torus and when it does not divide the GPUs", "[sweep]") {
  const sweep::WhatIf w = sweep::parse_what_if(json::parse(R"({"nvlink_domain": 12})"), "what_ifs[1]");
  auto field = [&](const std::string& mesh_name) -> std::string {
    try {
      sweep::check_applicable(w, topo::build_mesh(mesh_name), "what_ifs[1]");
    } catch (const switchsim::InputError& e) {
      return e.field();
    }
    return "";
  };
  CHECK(field("tpuv3-2x2") == "what_ifs[1].nvlink_domain");
  CHECK(field("dgx-h100-4") == "what_ifs[1].nvlink_domain");  // 12 does not divide 32
  CHECK(field("dgx-h100-3") == "");                           // 24 = 2 x 12
  CHECK_THROWS_AS(sweep::parse_what_if(json::parse(R"({"nvlink_domain": 0})"), "w"), switchsim::InputError);
  CHECK_THROWS_AS(sweep::parse_what_if(json::parse(R"({"nvlink_domain": 1.5})"), "w"), switchsim::InputError);
}

TEST_CASE("what-if: a larger NVLink domain speeds up a step whose all-to-all crossed nodes", "[sweep]") {
  sweep::Point base;
  base.inputs = json::parse(R"({"model": "switch-base", "mesh": "dgx-h100-2", "batch_tokens": 65536,
                               "layout": "dp=16,ep=16", "micro_batches": 1, "network_model": "isolated"})");
  base.inputs["what_if"] = sweep::to_json(base.what_if);
  sweep::Point one_domain = base;
  one_domain.what_if = sweep::parse_what_if(json::parse(R"({"nvlink_domain": 16})"), "w");
  one_domain.inputs["what_if"] = sweep::to_json(one_domain.what_if);
  const json a = sweep::run_point(base, sweep::Command::simulate, {});
  const json b = sweep::run_point(one_domain, sweep::Command::simulate, {});
  REQUIRE(a.contains("result"));
  REQUIRE(b.contains("result"));
  // NVLink (450 GB/s per GPU) instead of one 400 Gb/s NIC per GPU for half the traffic.
  CHECK(b["result"]["step_time_s"].get<double>() < a["result"]["step_time_s"].get<double>());
  CHECK(b["result"]["model_flops_per_step"] == a["result"]["model_flops_per_step"]);
}
