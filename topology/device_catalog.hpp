#pragma once
// The device catalog (data/devices.json): compute, memory and link figures of
// each device kind, each with its source. A *device* holds one shard of the
// model: a GPU, a TPU v3 TensorCore (2 per chip) or a TPU v4 megacore (1 per
// chip). Per-device figures = per-chip figures / cores_per_chip.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_io.hpp"
#include "topology/topology.hpp"

namespace switchsim::topology {

struct LinkKindSpec {
  LinkSpec figures;  // per link, per direction
  int links_per_chip = 0;
  std::string bandwidth_source;
  std::string latency_source;
  std::string efficiency_source;
};

struct DeviceSpec {
  std::string kind;  // "tpuv3", "h100", ...
  std::string description;
  int cores_per_chip = 1;        // devices per chip (TPU v3: 2; TPU v4 megacore: 1; GPU: 1)
  int tensorcores_per_chip = 1;  // physical cores (informational; TPU v4: 2)

  // Per device.
  double peak_bf16_flops = 0.0;
  double peak_fp32_flops = 0.0;
  // Dense FP8 matrix peak (optional "chip.peak_fp8_flops"; 0 when the catalog gives none:
  // the device has no FP8 matrix path faster than bf16, and --precision fp8 is refused).
  double peak_fp8_flops = 0.0;
  // Dense INT8 matrix peak (optional "chip.peak_int8_ops"; informational, 0 when absent).
  double peak_int8_ops = 0.0;
  double memory_bytes = 0.0;
  double memory_Bps = 0.0;
  // Per chip.
  double chip_peak_bf16_flops = 0.0;
  double chip_peak_fp32_flops = 0.0;
  double chip_peak_fp8_flops = 0.0;
  double chip_peak_int8_ops = 0.0;
  double chip_memory_bytes = 0.0;
  double chip_memory_Bps = 0.0;

  // How matrix products use the device (kernels/shape_aware_cost_model.hpp),
  // from "chip". TPUs give the systolic arrays (mxu_dim, mxus_per_core,
  // mxu_row_step), GPUs the SM count and the GEMM library's CTA tile (sm_count,
  // gemm_tile_m/n/k); exactly one of the two sets, each field with its source. A device priced
  // only by a measured profile (the host CPU: "profile_only": true instead of either set) has
  // none: its catalog peaks are placeholders, and a cost model for it needs a profile
  // (workloads/device_ceilings.hpp).
  enum class MatrixUnits : std::uint8_t { systolic, gpu_tiles, none };
  MatrixUnits matrix_units = MatrixUnits::gpu_tiles;
  int mxu_dim = 0;
  int mxus_per_core = 0;       // per TensorCore
  int mxus_per_device = 0;     // mxus_per_core x tensorcores_per_chip / devices_per_chip
  int mxu_row_step = 0;
  int sm_count = 0;
  int gemm_tile_m = 0;
  int gemm_tile_n = 0;
  int gemm_tile_k = 0;
  double large_gemm_efficiency = 0.0;  // (0, 1]: fraction of peak of a large, well-shaped product
  double launch_overhead_s = 0.0;      // fixed cost per compute op

  std::array<std::optional<LinkKindSpec>, kNumLinkKinds> link_kinds;

  // GPU nodes: whether the node's NVSwitch reduces in the switch (NVLink SHARP,
  // NCCL's NVLS algorithm). Optional "nvswitch.in_switch_reduction" entry,
  // false when absent.
  bool nvswitch_reduction = false;
  std::string nvswitch_reduction_source;
  // The fraction of the NVLink bandwidth the in-switch reduction path reaches
  // (optional "nvswitch.nvls_efficiency"; 1 when absent): NCCL's NVLS efficiency.
  double nvls_efficiency = 1.0;
  std::string nvls_efficiency_source;

  [[nodiscard]] bool profile_only() const { return matrix_units == MatrixUnits::none; }
  [[nodiscard]] bool supports_fp8() const { return peak_fp8_flops > 0.0; }
  [[nodiscard]] bool has_link(LinkKind link) const { return link_kinds[static_cast<std::size_t>(link)].has_value(); }
  // Throws InputError("device_kind", ...) when this device has no such link.
  [[nodiscard]] const LinkKindSpec& link_kind(LinkKind link) const;
  [[nodiscard]] const LinkSpec& link(LinkKind link) const { return link_kind(link).figures; }

  json catalog_entry;  // the entry as written in devices.json, sources included
};

// The spec of a device kind; InputError("device_kind", ...) when unknown. The
// catalog is read once (thread-safe) and lives for the program's lifetime.
[[nodiscard]] const DeviceSpec& device_spec(const std::string& kind);
// Every kind in catalog order.
[[nodiscard]] std::vector<std::string> device_kinds();

// Parses a catalog document (exposed for tests). Errors name the field.
[[nodiscard]] std::vector<DeviceSpec> parse_device_catalog(const json& doc);

}  // namespace switchsim::topology
