#include "topology/torus.hpp"

#include <array>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace switchsim::topology {

namespace {

constexpr std::int64_t kMaxTorusDevices = 1 << 20;

class TorusRouter final : public Router {
 public:
  TorusRouter(std::vector<int> dims, std::vector<bool> wrap, int cores, std::vector<LinkId> ici_out,
              std::vector<LinkId> up, std::vector<LinkId> down)
      : dims_(std::move(dims)),
        wrap_(std::move(wrap)),
        cores_(cores),
        ici_out_(std::move(ici_out)),
        up_(std::move(up)),
        down_(std::move(down)) {
    int chips = 1;
    for (int n : dims_) chips *= n;
    num_devices_ = chips * cores_;
    if (num_devices_ <= kTabulatedDevices) tabulate();
  }

  [[nodiscard]] std::int32_t path_count(VertexId src, VertexId dst) const override {
    check(src, dst);
    return src == dst ? 0 : 1;
  }

  void append_path(VertexId src, VertexId dst, std::int32_t choice, Path& out) const override {
    check(src, dst);
    SWITCHSIM_ASSERT(src != dst && choice == 0, "torus: no such path");
    if (!table_start_.empty()) {
      const auto pair = static_cast<std::size_t>(src) * static_cast<std::size_t>(num_devices_) + static_cast<std::size_t>(dst);
      out.insert(out.end(), table_links_.begin() + table_start_[pair], table_links_.begin() + table_start_[pair + 1]);
      return;
    }
    dimension_order_path(src, dst, out);
  }

  // Dimension-order routing, computed (the table below holds its results for small tori).
  void dimension_order_path(VertexId src, VertexId dst, Path& out) const {
    const int chip_src = src / cores_;
    const int chip_dst = dst / cores_;
    if (cores_ > 1) out.push_back(up_[static_cast<std::size_t>(src)]);
    const auto ndims = static_cast<int>(dims_.size());
    int cur = chip_src;
    int rest_src = chip_src;
    int rest_dst = chip_dst;
    int stride = 1;
    for (int d = 0; d < ndims; ++d) {
      const int n = dims_[static_cast<std::size_t>(d)];
      const int x = rest_src % n;
      const int y = rest_dst % n;
      rest_src /= n;
      rest_dst /= n;
      if (x != y) {
        int steps = 0;
        int dir = 0;  // 0: +1, 1: -1
        if (wrap_[static_cast<std::size_t>(d)]) {
          const int forward = ((y - x) % n + n) % n;
          const int backward = n - forward;
          if (forward < backward || (forward == backward && x % 2 == 0)) {
            steps = forward;
            dir = 0;
          } else {
            steps = backward;
            dir = 1;
          }
        } else {
          steps = y > x ? y - x : x - y;
          dir = y > x ? 0 : 1;
        }
        int pos = x;
        for (int s = 0; s < steps; ++s) {
          out.push_back(ici_out_[(static_cast<std::size_t>(cur) * static_cast<std::size_t>(ndims) +
                                  static_cast<std::size_t>(d)) *
                                     2 +
                                 static_cast<std::size_t>(dir)]);
          const int next = dir == 0 ? (pos + 1 == n ? 0 : pos + 1) : (pos == 0 ? n - 1 : pos - 1);
          cur += (next - pos) * stride;
          pos = next;
        }
      }
      stride *= n;
    }
    SWITCHSIM_ASSERT(cur == chip_dst, "torus: DOR did not reach the destination chip");
    if (cores_ > 1) out.push_back(down_[static_cast<std::size_t>(dst)]);
  }

  // Cached: each pair's path is computed on first request and kept; the
  // returned span stays valid for the router's lifetime (unordered_map nodes
  // never move). Sharded locks let several threads query at once.
  [[nodiscard]] std::span<const Path> paths(VertexId src, VertexId dst) const override {
    check(src, dst);
    if (src == dst) return {};
    const auto key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(src)) << 32U) |
                     static_cast<std::uint32_t>(dst);
    Shard& shard = shards_[static_cast<std::size_t>(key * 0x9E3779B97F4A7C15ULL >> 58U)];
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.cache.find(key);
    if (it == shard.cache.end()) {
      Path p;
      append_path(src, dst, 0, p);
      it = shard.cache.emplace(key, std::move(p)).first;
    }
    return {&it->second, 1};
  }

 private:
  // Small tori keep every pair's path in one table (at most 256^2 pairs, ~1.5 MB): collective
  // simulations ask for each pair's path again and again, and the arithmetic above costs
  // divisions per dimension. Large tori compute them (an all-to-all over 2048 cores asks for
  // 4 million pairs).
  static constexpr int kTabulatedDevices = 256;
  void tabulate() {
    const auto n = static_cast<std::size_t>(num_devices_);
    table_start_.assign(n * n + 1, 0);
    for (VertexId s = 0; s < num_devices_; ++s) {
      for (VertexId d = 0; d < num_devices_; ++d) {
        const std::size_t pair = static_cast<std::size_t>(s) * n + static_cast<std::size_t>(d);
        if (s != d) dimension_order_path(s, d, table_links_);
        table_start_[pair + 1] = table_links_.size();
      }
    }
  }

  void check(VertexId src, VertexId dst) const {
    SWITCHSIM_ASSERT(src >= 0 && src < num_devices_ && dst >= 0 && dst < num_devices_, "torus: not a device");
  }

  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, Path> cache;
  };

  std::vector<int> dims_;
  std::vector<bool> wrap_;
  int cores_ = 1;
  int num_devices_ = 0;
  std::vector<LinkId> ici_out_;  // [(chip * ndims + d) * 2 + dir], -1 where no link
  std::vector<LinkId> up_;       // device -> its chip router
  std::vector<LinkId> down_;     // chip router -> device
  std::vector<std::size_t> table_start_;  // small tori: pair (src * devices + dst) -> its links in table_links_
  Path table_links_;
  mutable std::array<Shard, 64> shards_;
};

std::string coord_text(const std::vector<int>& coords) {
  return fmt::format("({})", fmt::join(coords, ","));
}

}  // namespace

Mesh build_torus(const std::string& name, const TorusSpec& spec) {
  if (spec.dims.empty()) throw InputError("mesh", "a torus needs at least one dimension");
  if (spec.wraparound.size() != spec.dims.size()) {
    throw InputError("mesh", "wraparound must give one flag per dimension");
  }
  if (spec.cores_per_chip < 1) throw InputError("mesh", "cores per chip must be >= 1");
  std::int64_t chips64 = 1;
  for (int n : spec.dims) {
    if (n < 1) throw InputError("mesh", fmt::format("torus dimension {} must be >= 1", n));
    chips64 *= n;
    if (chips64 * spec.cores_per_chip > kMaxTorusDevices) {
      throw InputError("mesh", fmt::format("torus too large (more than {} devices)", kMaxTorusDevices));
    }
  }
  const auto chips = static_cast<int>(chips64);
  const int cores = spec.cores_per_chip;
  const auto ndims = spec.dims.size();

  Mesh mesh;
  mesh.name = name;
  mesh.device_kind = spec.device_kind;
  mesh.structure.family = MeshFamily::torus;
  mesh.structure.dims = spec.dims;
  mesh.structure.cores_per_chip = cores;
  for (std::size_t d = 0; d < ndims; ++d) {
    mesh.structure.wraparound.push_back(spec.wraparound[d] && spec.dims[d] >= 3);
  }

  auto coords_of = [&](int chip) {
    std::vector<int> c(ndims);
    for (std::size_t d = 0; d < ndims; ++d) {
      c[d] = chip % spec.dims[d];
      chip /= spec.dims[d];
    }
    return c;
  };

  Topology& topo = mesh.topology;
  for (int chip = 0; chip < chips; ++chip) {
    const std::string at = coord_text(coords_of(chip));
    for (int core = 0; core < cores; ++core) {
      topo.add_vertex(VertexKind::device, cores > 1 ? fmt::format("core{}.{}", at, core) : "chip" + at);
    }
  }
  std::vector<LinkId> up;
  std::vector<LinkId> down;
  if (cores > 1) {
    up.resize(static_cast<std::size_t>(chips) * static_cast<std::size_t>(cores));
    down.resize(up.size());
    for (int chip = 0; chip < chips; ++chip) {
      const VertexId router = topo.add_vertex(VertexKind::chip_router, "chip" + coord_text(coords_of(chip)));
      for (int core = 0; core < cores; ++core) {
        const VertexId dev = chip * cores + core;
        const LinkId f = topo.add_duplex_link(dev, router, spec.on_chip.bandwidth_Bps, spec.on_chip.latency_s,
                                              spec.on_chip.efficiency, LinkKind::on_chip);
        up[static_cast<std::size_t>(dev)] = f;
        down[static_cast<std::size_t>(dev)] = f + 1;
      }
    }
  }
  auto chip_vertex = [&](int chip) { return cores > 1 ? chips * cores + chip : chip; };

  std::vector<LinkId> ici_out(static_cast<std::size_t>(chips) * ndims * 2, -1);
  int stride = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    const int n = spec.dims[d];
    const bool wrap = mesh.structure.wraparound[d];
    for (int chip = 0; chip < chips; ++chip) {
      const int x = (chip / stride) % n;
      if (n == 1 || (x + 1 == n && !wrap)) continue;
      const int nbr = x + 1 == n ? chip - x * stride : chip + stride;
      const LinkId f = topo.add_duplex_link(chip_vertex(chip), chip_vertex(nbr), spec.ici.bandwidth_Bps,
                                            spec.ici.latency_s, spec.ici.efficiency, LinkKind::ici);
      ici_out[(static_cast<std::size_t>(chip) * ndims + d) * 2 + 0] = f;
      ici_out[(static_cast<std::size_t>(nbr) * ndims + d) * 2 + 1] = f + 1;
    }
    stride *= n;
  }
  topo.finalize();
  mesh.router = std::make_unique<TorusRouter>(mesh.structure.dims, mesh.structure.wraparound, cores,
                                              std::move(ici_out), std::move(up), std::move(down));
  return mesh;
}

}  // namespace switchsim::topology
