#include <catch2/catch.hpp>

#include <string>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"

using namespace switchsim::topology;

namespace {

// The field a one-entry catalog's parse error names, or "(no error)".
std::string field_of(const switchsim::json& entry) {
  const switchsim::json doc = {{"devices", switchsim::json::array({entry})}};
  try {
    (void)parse_device_catalog(doc);
  } catch (const switchsim::InputError& e) {
    return e.field();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("catalog holds the ten accelerators and the host cpu", "[catalog]") {
  const auto kinds = device_kinds();
  CHECK(kinds == std::vector<std::string>{"tpuv3", "tpuv4", "a100", "h100", "h200", "h800", "b200", "gb200", "tpuv5p",
                                          "tpuv5e", "cpu"});
}

TEST_CASE("the cpu device is profile-only: no geometry, no links, placeholders said so", "[catalog][cpu]") {
  const DeviceSpec& cpu = device_spec("cpu");
  CHECK(cpu.profile_only());
  CHECK(cpu.matrix_units == DeviceSpec::MatrixUnits::none);
  for (int i = 0; i < kNumLinkKinds; ++i) CHECK_FALSE(cpu.has_link(static_cast<LinkKind>(i)));
  CHECK(cpu.catalog_entry["chip"]["peak_fp32_flops"]["source"].get<std::string>().find("placeholder") !=
        std::string::npos);
  for (const auto& kind : device_kinds()) {
    if (kind != "cpu") CHECK_FALSE(device_spec(kind).profile_only());
  }
  switchsim::json off = cpu.catalog_entry;
  off["chip"]["profile_only"]["value"] = false;
  CHECK(field_of(off) == "devices.json.devices[0].chip.profile_only.value");
  switchsim::json with_sms = cpu.catalog_entry;
  with_sms["chip"]["sm_count"] = {{"value", 2}, {"source", "x"}};
  CHECK(field_of(with_sms) == "devices.json.devices[0].chip.profile_only");
  CHECK(field_of(cpu.catalog_entry) == "(no error)");
}

TEST_CASE("TPU v3 per-device figures are half a chip", "[catalog]") {
  const DeviceSpec& d = device_spec("tpuv3");
  CHECK(d.cores_per_chip == 2);
  CHECK(d.chip_peak_bf16_flops == 123e12);
  CHECK(d.peak_bf16_flops == Approx(61.5e12));          // 123 / 2
  CHECK(d.memory_bytes == Approx(16.0 * (1ULL << 30)));  // 32 GiB / 2
  CHECK(d.memory_Bps == Approx(450e9));                  // 900 / 2
  CHECK(d.link(LinkKind::ici).bandwidth_Bps == 100e9);
  CHECK(d.link_kind(LinkKind::ici).links_per_chip == 4);
  CHECK_FALSE(d.has_link(LinkKind::nvlink));
  CHECK_THROWS_AS(d.link(LinkKind::nvlink), switchsim::InputError);
}

TEST_CASE("TPU v4 megacore is one device per chip", "[catalog]") {
  const DeviceSpec& d = device_spec("tpuv4");
  CHECK(d.cores_per_chip == 1);
  CHECK(d.peak_bf16_flops == 275e12);
  CHECK(d.link(LinkKind::ici).bandwidth_Bps == 45e9);
  CHECK(d.link_kind(LinkKind::ici).links_per_chip == 6);
}

TEST_CASE("GPU link figures are per direction", "[catalog]") {
  CHECK(device_spec("a100").link(LinkKind::nvlink).bandwidth_Bps == 300e9);  // 600 GB/s total
  CHECK(device_spec("h100").link(LinkKind::nvlink).bandwidth_Bps == 450e9);  // 900 GB/s total
  CHECK(device_spec("h100").link(LinkKind::nic).bandwidth_Bps == 50e9);      // 400 Gb/s
  CHECK(device_spec("a100").link(LinkKind::nic).bandwidth_Bps == 25e9);      // 200 Gb/s
  CHECK(device_spec("h200").memory_Bps == 4800e9);
  CHECK(device_spec("h100").peak_fp32_flops == 67e12);
}

TEST_CASE("every catalog figure names its source", "[catalog]") {
  for (const auto& kind : device_kinds()) {
    const DeviceSpec& d = device_spec(kind);
    for (const auto& ls : d.link_kinds) {
      if (!ls) continue;
      CHECK_FALSE(ls->bandwidth_source.empty());
      CHECK_FALSE(ls->latency_source.empty());
      CHECK_FALSE(ls->efficiency_source.empty());
    }
  }
}

TEST_CASE("unknown device kind and bad catalog entries name the field", "[catalog][errors]") {
  try {
    (void)device_spec("tpuv9");
    FAIL("no error");
  } catch (const switchsim::InputError& e) {
    CHECK(e.field() == "device_kind");
  }
  switchsim::json doc = {{"devices", switchsim::json::array()}};
  switchsim::json entry = device_spec("h100").catalog_entry;
  entry["chip"]["memory_Bps"].erase("source");
  doc["devices"].push_back(entry);
  try {
    (void)parse_device_catalog(doc);
    FAIL("no error");
  } catch (const switchsim::InputError& e) {
    CHECK(e.field() == "devices.json.devices[0].chip.memory_Bps.source");
  }
}

TEST_CASE("catalog matrix-unit geometry: one family, whole numbers, sourced", "[catalog][errors]") {
  const DeviceSpec& v3 = device_spec("tpuv3");
  CHECK(v3.matrix_units == DeviceSpec::MatrixUnits::systolic);
  CHECK(v3.mxus_per_device == 2);                     // 2 MXUs per TensorCore, 1 TensorCore per device
  CHECK(device_spec("tpuv4").mxus_per_device == 8);  // 4 per TensorCore, megacore = 2 TensorCores
  CHECK(device_spec("a100").matrix_units == DeviceSpec::MatrixUnits::gpu_tiles);
  CHECK(device_spec("a100").sm_count == 108);
  for (const auto& kind : device_kinds()) {
    const DeviceSpec& d = device_spec(kind);
    CHECK(d.large_gemm_efficiency > 0.0);
    CHECK(d.large_gemm_efficiency <= 1.0);
    CHECK(d.launch_overhead_s > 0.0);
  }
  const switchsim::json h100 = device_spec("h100").catalog_entry;
  switchsim::json both = h100;
  both["chip"]["mxu_dim"] = {{"value", 128}, {"source", "x"}};
  CHECK(field_of(both) == "devices.json.devices[0].chip.sm_count");
  switchsim::json neither = h100;
  neither["chip"].erase("sm_count");
  CHECK(field_of(neither) == "devices.json.devices[0].chip.mxu_dim");
  switchsim::json no_tile = h100;
  no_tile["chip"].erase("gemm_tile_k");
  CHECK(field_of(no_tile) == "devices.json.devices[0].chip.gemm_tile_k");
  switchsim::json fraction = h100;
  fraction["chip"]["sm_count"]["value"] = 131.5;
  CHECK(field_of(fraction) == "devices.json.devices[0].chip.sm_count.value");
  switchsim::json too_efficient = h100;
  too_efficient["chip"]["large_gemm_efficiency"]["value"] = 1.2;
  CHECK(field_of(too_efficient) == "devices.json.devices[0].chip.large_gemm_efficiency.value");
  switchsim::json unsourced = device_spec("tpuv3").catalog_entry;
  unsourced["chip"]["mxus_per_core"].erase("source");
  CHECK(field_of(unsourced) == "devices.json.devices[0].chip.mxus_per_core.source");
}
