#include "topology/mesh_catalog.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "topology/device_catalog.hpp"
#include "topology/gpu_cluster.hpp"
#include "topology/mesh_file.hpp"
#include "topology/shortest_path_router.hpp"
#include "topology/torus.hpp"

namespace switchsim::topology {

namespace {

// The GPU cluster builder's own bound (gpu_cluster.cpp).
constexpr long long kMaxClusterGpus = 1 << 16;

// Which dimensions of a TPU slice wrap around (docs/topology.md, "Wraparound"):
//   at_least_4   tpuv3, tpuv4: a dimension of 4 chips or more is a ring
//   whole_cubes  tpuv5p: a slice of whole 4x4x4 cubes (every dimension a multiple of 4) is a full
//                3-D torus, a smaller or ragged one has no wraparound (Cloud TPU v5p docs; jax-ml
//                scaling-book: wraparound "on training chips (v*p) when we have an axis which is a
//                multiple of 4")
//   full_16      tpuv5e: an axis wraps only at its full 16 chips (scaling-book: "no wraparound links
//                for axes with fewer than 16 chips"; the pod is a 16x16 2-D torus, Cloud TPU v5e docs)
enum class WrapRule : std::uint8_t { at_least_4, whole_cubes, full_16 };
constexpr int kMinWrapChips = 4;
constexpr int kCubeChips = 4;
constexpr int kV5eAxisChips = 16;

std::vector<bool> wraparound(const std::vector<int>& dims, WrapRule rule) {
  std::vector<bool> wrap;
  bool cubes = true;
  for (int n : dims) cubes = cubes && n % kCubeChips == 0;
  for (int n : dims) {
    switch (rule) {
      case WrapRule::at_least_4: wrap.push_back(n >= kMinWrapChips); break;
      case WrapRule::whole_cubes: wrap.push_back(cubes); break;
      case WrapRule::full_16: wrap.push_back(n == kV5eAxisChips); break;
    }
  }
  return wrap;
}

// Published slice limits: the largest shape a name may ask for (0: none).
struct SliceLimit {
  int max_dim = 0;         // every dimension at most this many chips
  long long max_chips = 0;  // the product at most this
  const char* why = "";
};

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
                              std::size_t ndims, WrapRule rule, const SliceLimit& limit) {
  auto dims = parse_dims(rest, ndims);
  if (!dims) {
    throw InputError("--mesh", fmt::format("'{}': expected {}-{} with positive chip counts", name, kind,
                                           ndims == 2 ? "AxB" : "AxBxC"));
  }
  long long chips = 1;
  int largest = 0;
  for (int n : *dims) {
    chips *= n;
    largest = std::max(largest, n);
  }
  if ((limit.max_dim > 0 && largest > limit.max_dim) || (limit.max_chips > 0 && chips > limit.max_chips)) {
    throw InputError("--mesh", fmt::format("'{}': larger than the largest {} slice ({})", name, kind, limit.why));
  }
  const DeviceSpec& dev = device_spec(kind);
  TorusSpec spec;
  spec.dims = *dims;
  spec.wraparound = wraparound(spec.dims, rule);
  spec.cores_per_chip = dev.cores_per_chip;
  spec.ici = dev.link(LinkKind::ici);
  if (dev.cores_per_chip > 1) spec.on_chip = dev.link(LinkKind::on_chip);
  spec.device_kind = kind;
  return build_torus(name, spec);
}

std::optional<Mesh> build_gpu(const std::string& name, std::string_view rest, const std::string& kind,
                              int gpus_per_node) {
  FabricKind fabric = FabricKind::fat_tree;
  constexpr std::string_view rail = "-rail";
  if (rest.size() > rail.size() && rest.substr(rest.size() - rail.size()) == rail) {
    fabric = FabricKind::rail_optimized;
    rest.remove_suffix(rail.size());
  }
  const auto nodes = parse_positive(rest);
  if (!nodes) throw InputError("--mesh", fmt::format("'{}': expected a positive node count", name));
  if (static_cast<long long>(*nodes) * gpus_per_node > kMaxClusterGpus) {
    throw InputError("--mesh", fmt::format("'{}': more than {} GPUs", name, kMaxClusterGpus));
  }
  const DeviceSpec& dev = device_spec(kind);
  GpuClusterSpec spec;
  spec.nodes = *nodes;
  spec.gpus_per_node = gpus_per_node;
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

// cpu-1: the host CPU as one device (the catalog's profile-only `cpu` kind): one device vertex,
// no links, so a step on it has no collectives (validate --step's simulated side).
Mesh build_cpu_1() {
  Mesh mesh;
  mesh.name = "cpu-1";
  mesh.device_kind = device_spec("cpu").kind;
  mesh.structure.family = MeshFamily::custom;
  mesh.topology.add_vertex(VertexKind::device, "cpu0");
  mesh.topology.finalize();
  mesh.router = make_shortest_path_router(mesh.topology, true);
  return mesh;
}

}  // namespace

Mesh build_mesh(const std::string& name_or_path) {
  const std::string& name = name_or_path;
  if (name.empty()) throw InputError("--mesh", "empty mesh name");
  if (name == "cpu-1") return build_cpu_1();
  if (starts_with(name, "cpu-")) {
    throw InputError("--mesh", fmt::format("'{}': the host CPU is one device, cpu-1 (no links to model more)", name));
  }
  struct Family {
    std::string_view prefix;
    std::string kind;
    int torus_dims;     // 0: GPU cluster
    int gpus_per_node;  // GPU clusters: GPUs per NVLink domain
    WrapRule wrap = WrapRule::at_least_4;
    SliceLimit limit{};
  };
  static const Family families[] = {
      {"tpuv3-", "tpuv3", 2, 0},
      {"tpuv4-", "tpuv4", 3, 0},
      // Cloud TPU v5p docs: "The maximum v5p shape is 16x16x24 (6144 chips, 96 cubes)".
      {"tpuv5p-", "tpuv5p", 3, 0, WrapRule::whole_cubes, {24, 6144, "16x16x24, 6144 chips, Cloud TPU v5p docs"}},
      // Cloud TPU v5e docs: a pod is 256 chips in a 16x16 2-D torus.
      {"tpuv5e-", "tpuv5e", 2, 0, WrapRule::full_16, {16, 256, "16x16, 256 chips, Cloud TPU v5e docs"}},
      {"dgx-a100-", "a100", 0, 8},
      {"dgx-h100-", "h100", 0, 8},
      {"hgx-h200-", "h200", 0, 8},
      {"dgx-h800-", "h800", 0, 8},
      {"dgx-b200-", "b200", 0, 8},
      // GB200 NVL72: one rack = one 72-GPU NVLink domain (NVIDIA GB200 NVL72 datasheet).
      {"gb200-nvl72-", "gb200", 0, 72},
  };
  for (const Family& f : families) {
    if (!starts_with(name, f.prefix)) continue;
    const std::string_view rest = std::string_view(name).substr(f.prefix.size());
    if (f.torus_dims > 0) {
      return *build_tpu(name, rest, f.kind, static_cast<std::size_t>(f.torus_dims), f.wrap, f.limit);
    }
    return *build_gpu(name, rest, f.kind, f.gpus_per_node);
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(name, ec) || name.ends_with(".json")) {
    return load_mesh_file(name);
  }
  throw InputError("--mesh", fmt::format("unknown mesh '{}' (names: {}; or a mesh JSON file)", name,
                                         fmt::join(mesh_name_grammar(), ", ")));
}

std::vector<std::string> catalog_mesh_names() {
  return {"tpuv3-4x4",    "tpuv3-8x8",      "tpuv3-16x16",      "tpuv3-32x32",   "tpuv4-4x4x4",
          "tpuv4-8x8x8",  "tpuv4-16x16x16", "tpuv5p-4x4x4",     "tpuv5p-8x8x8",  "tpuv5p-16x16x24",
          "tpuv5e-4x4",   "tpuv5e-16x16",   "dgx-a100-1",       "dgx-a100-16",   "dgx-h100-1",
          "dgx-h100-2",   "dgx-h100-16",    "dgx-h100-16-rail", "hgx-h200-1",    "hgx-h200-16",
          "dgx-h800-1",   "dgx-h800-32",    "dgx-b200-1",       "dgx-b200-16",   "gb200-nvl72-1",
          "gb200-nvl72-4", "cpu-1"};
}

std::vector<std::string> mesh_name_grammar() {
  return {"tpuv3-AxB",         "tpuv4-AxBxC",       "tpuv5p-AxBxC",      "tpuv5e-AxB",
          "dgx-a100-N[-rail]", "dgx-h100-N[-rail]", "hgx-h200-N[-rail]", "dgx-h800-N[-rail]",
          "dgx-b200-N[-rail]", "gb200-nvl72-N[-rail]", "cpu-1"};
}

}  // namespace switchsim::topology
