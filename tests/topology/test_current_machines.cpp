// The machines of today (issue 15): H800, B200, GB200 NVL72, TPU v5p and v5e. Each device's
// figures as published (data/devices.json sources), and each mesh family's size, link speeds
// and bisection against hand computations.
#include <catch2/catch.hpp>

#include <string>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/metrics.hpp"

using namespace switchsim::topology;

TEST_CASE("the new devices load with their published per-device figures", "[catalog][issue15]") {
  const DeviceSpec& h800 = device_spec("h800");
  CHECK(h800.peak_bf16_flops == 989e12);
  CHECK(h800.peak_fp8_flops == 1978e12);  // 2 x 989: the datasheet rounds 1978.9 up
  CHECK(h800.memory_Bps == 3350e9);
  CHECK(h800.link(LinkKind::nvlink).bandwidth_Bps == 200e9);  // 400 GB/s bidirectional
  CHECK(h800.link(LinkKind::nic).bandwidth_Bps == 50e9);      // CX7 400 Gb/s
  CHECK(h800.sm_count == 132);

  const DeviceSpec& b200 = device_spec("b200");
  CHECK(b200.peak_bf16_flops == 2.25e15);
  CHECK(b200.peak_fp8_flops == 4.5e15);
  CHECK(b200.memory_bytes == 180e9);
  CHECK(b200.memory_Bps == 8e12);
  CHECK(b200.link(LinkKind::nvlink).bandwidth_Bps == 900e9);  // NVLink 5: 1.8 TB/s bidirectional
  CHECK(b200.nvls_efficiency == 0.74);
  CHECK(b200.sm_count == 148);

  const DeviceSpec& gb200 = device_spec("gb200");
  CHECK(gb200.peak_bf16_flops == 2.5e15);
  CHECK(gb200.peak_fp8_flops == 5e15);
  CHECK(gb200.memory_Bps == 8e12);
  CHECK(gb200.link(LinkKind::nvlink).bandwidth_Bps == 900e9);
  CHECK(gb200.link(LinkKind::nic).bandwidth_Bps == 50e9);

  const DeviceSpec& v5p = device_spec("tpuv5p");
  CHECK(v5p.cores_per_chip == 1);  // megacore
  CHECK(v5p.peak_bf16_flops == 459e12);
  CHECK(v5p.peak_int8_ops == 918e12);
  CHECK_FALSE(v5p.supports_fp8());  // Google lists FP8 at the bf16 rate: no faster path
  CHECK(v5p.memory_bytes == 95.0 * 1073741824.0);
  CHECK(v5p.memory_Bps == 2765e9);
  CHECK(v5p.mxus_per_device == 8);  // 2 TensorCores x 4 MXUs
  CHECK(v5p.link_kind(LinkKind::ici).links_per_chip == 6);
  // 1200 GB/s bidirectional per chip over 6 links: 100 GB/s per link per direction.
  CHECK(v5p.link(LinkKind::ici).bandwidth_Bps * 6 * 2 == 1200e9);

  const DeviceSpec& v5e = device_spec("tpuv5e");
  CHECK(v5e.peak_bf16_flops == 197e12);
  CHECK(v5e.peak_int8_ops == 393e12);
  CHECK_FALSE(v5e.supports_fp8());
  CHECK(v5e.memory_Bps == 819e9);
  CHECK(v5e.mxus_per_device == 4);
  CHECK(v5e.link_kind(LinkKind::ici).links_per_chip == 4);
  CHECK(v5e.link(LinkKind::ici).bandwidth_Bps * 4 * 2 == 400e9);  // 400 GB/s bidirectional per chip
}

TEST_CASE("FP8 peaks: twice bf16 on Hopper and Blackwell, none on TPUs and A100", "[catalog][issue15]") {
  for (const char* kind : {"h100", "h200", "h800", "b200", "gb200"}) {
    const DeviceSpec& d = device_spec(kind);
    INFO(kind);
    CHECK(d.supports_fp8());
    CHECK(d.peak_fp8_flops == 2.0 * d.peak_bf16_flops);
  }
  for (const char* kind : {"tpuv3", "tpuv4", "a100", "tpuv5p", "tpuv5e"}) {
    INFO(kind);
    CHECK_FALSE(device_spec(kind).supports_fp8());
  }
}

TEST_CASE("an FP8 peak not above bf16 is refused, naming the field", "[catalog][errors][issue15]") {
  switchsim::json doc = {{"devices", switchsim::json::array({device_spec("h100").catalog_entry})}};
  doc["devices"][0]["chip"]["peak_fp8_flops"]["value"] = 989e12;
  try {
    (void)parse_device_catalog(doc);
    FAIL("no error");
  } catch (const switchsim::InputError& e) {
    CHECK(e.field() == "devices.json.devices[0].chip.peak_fp8_flops.value");
  }
}

namespace {
double bisection(const std::string& mesh) { return compute_metrics(build_mesh(mesh)).bisection_bandwidth_Bps; }
}  // namespace

TEST_CASE("DGX H800 and B200 nodes: 8 GPUs, NVLink per direction, one NIC each", "[gpu][issue15]") {
  const Mesh h800 = build_mesh("dgx-h800-2");
  CHECK(h800.device_kind == "h800");
  CHECK(h800.topology.num_devices() == 16);
  CHECK(h800.structure.gpus_per_node == 8);
  for (const Link& l : h800.topology.links()) {
    if (l.kind == LinkKind::nvlink) CHECK(l.bandwidth_Bps == 200e9);
    if (l.kind == LinkKind::nic) CHECK(l.bandwidth_Bps == 50e9);
  }
  // One node split 4 | 4 through its NVSwitch: 4 x 200 GB/s; two nodes split by node: 8 NICs x 50.
  CHECK(bisection("dgx-h800-1") == Approx(800e9));
  CHECK(bisection("dgx-h800-2") == Approx(400e9));
  CHECK(bisection("dgx-b200-1") == Approx(4 * 900e9));
  CHECK(bisection("dgx-b200-2") == Approx(8 * 50e9));
  CHECK(build_mesh("dgx-b200-4-rail").structure.fabric == FabricKind::rail_optimized);
}

TEST_CASE("GB200 NVL72: racks of 72 GPUs on one NVLink domain, NICs across racks", "[gpu][issue15]") {
  const Mesh one = build_mesh("gb200-nvl72-1");
  CHECK(one.device_kind == "gb200");
  CHECK(one.topology.num_devices() == 72);
  CHECK(one.topology.num_switches() == 1);  // the rack's NVLink Switch system, one vertex
  CHECK(one.topology.num_links() == 2 * 72);
  // 36 | 36 through the NVLink switch: 36 x 900 GB/s = 32.4 TB/s.
  CHECK(compute_metrics(one).bisection_bandwidth_Bps == Approx(36 * 900e9));
  const Mesh two = build_mesh("gb200-nvl72-2");
  CHECK(two.topology.num_devices() == 144);
  CHECK(two.structure.nodes == 2);
  CHECK(two.node_of(71) == 0);
  CHECK(two.node_of(72) == 1);
  // Rack against rack: 72 NICs of 400 Gb/s = 3.6 TB/s.
  CHECK(compute_metrics(two).bisection_bandwidth_Bps == Approx(72 * 50e9));
}

TEST_CASE("TPU v5p slices: whole 4x4x4 cubes are tori, smaller slices are not", "[torus][issue15]") {
  const Mesh cube = build_mesh("tpuv5p-4x4x4");
  CHECK(cube.device_kind == "tpuv5p");
  CHECK(cube.topology.num_devices() == 64);
  CHECK(cube.structure.wraparound == std::vector<bool>{true, true, true});
  // A cut across one dimension: 16 rings x 2 crossings x 100 GB/s = 3.2 TB/s.
  CHECK(compute_metrics(cube).bisection_bandwidth_Bps == Approx(3.2e12));
  const Mesh small = build_mesh("tpuv5p-2x4x4");
  CHECK(small.structure.wraparound == std::vector<bool>{false, false, false});
  // No wraparound: halving a dimension of 4 cuts 2 x 4 = 8 links of 100 GB/s.
  CHECK(compute_metrics(small).bisection_bandwidth_Bps == Approx(800e9));
  CHECK(build_mesh("tpuv5p-8x8x16").structure.wraparound == std::vector<bool>{true, true, true});
}

TEST_CASE("TPU v5e slices: 2-D, an axis wraps only at 16 chips; the pod's published bisection", "[torus][issue15]") {
  const Mesh pod = build_mesh("tpuv5e-16x16");
  CHECK(pod.topology.num_devices() == 256);
  CHECK(pod.structure.wraparound == std::vector<bool>{true, true});
  // Cloud TPU v5e docs: bisection bandwidth per pod 1.6 TB/s = 16 rows x 2 (wrap) x 50 GB/s.
  CHECK(compute_metrics(pod).bisection_bandwidth_Bps == Approx(1.6e12));
  const Mesh s = build_mesh("tpuv5e-4x4");
  CHECK(s.topology.num_devices() == 16);
  CHECK(s.structure.wraparound == std::vector<bool>{false, false});
  CHECK(compute_metrics(s).bisection_bandwidth_Bps == Approx(4 * 50e9));
  CHECK(build_mesh("tpuv5e-8x16").structure.wraparound == std::vector<bool>{false, true});
}

TEST_CASE("slices beyond the published largest and malformed names are refused, naming the mesh", "[errors][issue15]") {
  for (const char* bad : {"tpuv5e-32x8", "tpuv5e-16x17", "tpuv5e-4x4x4", "tpuv5p-16x16x32", "tpuv5p-24x24x24",
                          "tpuv5p-4x4", "gb200-nvl72-0", "gb200-nvl72-911", "dgx-b200-x", "dgx-h800-"}) {
    INFO(bad);
    try {
      (void)build_mesh(bad);
      FAIL("no error");
    } catch (const switchsim::InputError& e) {
      CHECK(e.field() == "--mesh");
      CHECK(std::string(e.what()).find(bad) != std::string::npos);
    }
  }
}
