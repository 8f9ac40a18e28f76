#include "topology/mesh_catalog.hpp"

#include <charconv>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "topology/gpu_cluster.hpp"
#include "topology/mesh_file.hpp"
#include "topology/torus.hpp"

namespace switchsim::topology {

namespace {

// Smallest dimension that wraps around in catalog TPU slices.
constexpr int kMinWrapChips = 4;

std::optional<int> parse_positive(std::string_view text) {
  int value = 0;
  if (text.empty() || text.size() > 7) return std::nullopt;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1) return std::nullopt;
  return value;
}

std::optional<std::vector<int>> parse_dims(std::string_view text, std::size_t count) {
  std::vector<int> dims;
  while (true) {
    const auto x = text.find('x');
    const auto v = parse_positive(text.substr(0, x));
    if (!v) return std::nullopt;
    dims.push_back(*v);
    if (x == std::string_view::npos) break;
    text.remove_prefix(x + 1);
  }
  if (dims.size() != count) return std::nullopt;
  return dims;
}

std::optional<Mesh> build_tpu(const std::string& name, std::string_view rest, const std::string& kind,
                              std::size_t ndims) {
  auto dims = parse_dims(rest, ndims);
  if (!dims) {
    throw InputError("--mesh", fmt::format("'{}': expected {}-{} with positive chip counts", name, kind,
                                           ndims == 2 ? "AxB" : "AxBxC"));
  }
  const DeviceSpec& dev = device_spec(kind);
  TorusSpec spec;
  spec.dims = *dims;
  for (int n : spec.dims) spec.wraparound.push_back(n >= kMinWrapChips);
  spec.cores_per_chip = dev.cores_per_chip;
  spec.ici = dev.link(LinkKind::ici);
  if (dev.cores_per_chip > 1) spec.on_chip = dev.link(LinkKind::on_chip);
  spec.device_kind = kind;
  return build_torus(name, spec);
}

std::optional<Mesh> build_gpu(const std::string& name, std::string_view rest, const std::string& kind) {
  FabricKind fabric = FabricKind::fat_tree;
  constexpr std::string_view rail = "-rail";
  if (rest.size() > rail.size() && rest.substr(rest.size() - rail.size()) == rail) {
    fabric = FabricKind::rail_optimized;
    rest.remove_suffix(rail.size());
  }
  const auto nodes = parse_positive(rest);
  if (!nodes) throw InputError("--mesh", fmt::format("'{}': expected a positive node count", name));
  const DeviceSpec& dev = device_spec(kind);
  GpuClusterSpec spec;
  spec.nodes = *nodes;
  spec.gpus_per_node = 8;
  spec.fabric = fabric;
  spec.nvlink = dev.link(LinkKind::nvlink);
  spec.nic = dev.link(LinkKind::nic);
  spec.fabric_port = dev.link(LinkKind::fabric);
  spec.device_kind = kind;
  spec.switch_reduction = dev.nvswitch_reduction;
  spec.nvls_efficiency = dev.nvls_efficiency;
  return build_gpu_cluster(name, spec);
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

Mesh build_mesh(const std::string& name_or_path) {
  const std::string& name = name_or_path;
  if (name.empty()) throw InputError("--mesh", "empty mesh name");
  struct Family {
    std::string_view prefix;
    std::string kind;
    int torus_dims;  // 0: GPU cluster
  };
  static const Family families[] = {
      {"tpuv3-", "tpuv3", 2}, {"tpuv4-", "tpuv4", 3}, {"dgx-a100-", "a100", 0},
      {"dgx-h100-", "h100", 0}, {"hgx-h200-", "h200", 0},
  };
  for (const Family& f : families) {
    if (!starts_with(name, f.prefix)) continue;
    const std::string_view rest = std::string_view(name).substr(f.prefix.size());
    if (f.torus_dims > 0) return *build_tpu(name, rest, f.kind, static_cast<std::size_t>(f.torus_dims));
    return *build_gpu(name, rest, f.kind);
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(name, ec) || name.ends_with(".json")) {
    return load_mesh_file(name);
  }
  throw InputError("--mesh", fmt::format("unknown mesh '{}' (names: {}; or a mesh JSON file)", name,
                                         fmt::join(mesh_name_grammar(), ", ")));
}

std::vector<std::string> catalog_mesh_names() {
  return {"tpuv3-4x4",    "tpuv3-8x8",     "tpuv3-16x16",     "tpuv3-32x32",  "tpuv4-4x4x4",
          "tpuv4-8x8x8",  "tpuv4-16x16x16", "dgx-a100-1",     "dgx-a100-16",  "dgx-h100-1",
          "dgx-h100-2",   "dgx-h100-16",   "dgx-h100-16-rail", "hgx-h200-1",  "hgx-h200-16"};
}

std::vector<std::string> mesh_name_grammar() {
  return {"tpuv3-AxB", "tpuv4-AxBxC", "dgx-a100-N[-rail]", "dgx-h100-N[-rail]", "hgx-h200-N[-rail]"};
}

}  // namespace switchsim::topology
