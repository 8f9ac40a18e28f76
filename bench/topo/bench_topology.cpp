// Topology speed: building meshes, metrics, and routing every device pair.
//
// Napkin math: tpuv3-32x32 has 2048 devices, so 2048 * 2047 = 4,192,256
// ordered pairs with ~18 links each (mean hops 18.008): ~75 M link ids. At a
// few ns per link, arithmetic DOR routes all pairs in well under a second;
// storing them would take ~300 MB, which is why the bulk API does not cache.
//
// Usage: bench_topology [repeats]  (prints the median of `repeats` runs)

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "topology/mesh_catalog.hpp"
#include "topology/metrics.hpp"

using namespace switchsim::topology;

namespace {

double median_s(int repeats, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::size_t sink = 0;

  for (const char* name : {"tpuv3-32x32", "tpuv4-16x16x16", "dgx-h100-16", "dgx-h100-128"}) {
    const double t = median_s(repeats, [&] { sink += build_mesh(name).topology.num_links(); });
    fmt::print("build_mesh({}): {:.3f} ms\n", name, t * 1e3);
  }
  {
    const Mesh m = build_mesh("tpuv3-32x32");
    const double t = median_s(repeats, [&] { sink += static_cast<std::size_t>(compute_metrics(m).hops.diameter_hops); });
    fmt::print("compute_metrics(tpuv3-32x32): {:.3f} ms\n", t * 1e3);
    const VertexId n = m.topology.num_devices();
    std::size_t links = 0;
    Path p;
    const double all = median_s(repeats, [&] {
      links = 0;
      for (VertexId s = 0; s < n; ++s) {
        for (VertexId d = 0; d < n; ++d) {
          if (s == d) continue;
          p.clear();
          m.router->append_path(s, d, 0, p);
          links += p.size();
        }
      }
    });
    const double pairs = static_cast<double>(n) * (n - 1);
    fmt::print("tpuv3-32x32 append_path all {:.0f} pairs: {:.3f} s ({:.1f} ns/pair, {} links)\n", pairs, all,
               all / pairs * 1e9, links);
    // Cached API: first touch of 64 sources x all destinations, then a second touch.
    const double first = median_s(1, [&] {
      for (VertexId s = 0; s < 64; ++s)
        for (VertexId d = 0; d < n; ++d) sink += m.router->paths(s, d).size();
    });
    const double again = median_s(repeats, [&] {
      for (VertexId s = 0; s < 64; ++s)
        for (VertexId d = 0; d < n; ++d) sink += m.router->paths(s, d).size();
    });
    const double cached_pairs = 64.0 * n;
    fmt::print("tpuv3-32x32 paths() 64 sources: first {:.1f} ns/pair, cached {:.1f} ns/pair\n",
               first / cached_pairs * 1e9, again / cached_pairs * 1e9);
  }
  for (const char* name : {"dgx-h100-16", "dgx-h100-128"}) {
    {
      const Mesh fresh = build_mesh(name);
      const double t = median_s(1, [&] { sink += static_cast<std::size_t>(compute_metrics(fresh).devices); });
      fmt::print("compute_metrics({}) (fresh router): {:.3f} s\n", name, t);
    }
    const Mesh m = build_mesh(name);
    const VertexId n = m.topology.num_devices();
    const double pairs = static_cast<double>(n) * (n - 1);
    Path p;
    auto bulk = [&] {
      for (VertexId s = 0; s < n; ++s)
        for (VertexId d = 0; d < n; ++d) {
          if (s == d) continue;
          const auto k = m.router->path_count(s, d);
          for (std::int32_t c = 0; c < k; ++c) {
            p.clear();
            m.router->append_path(s, d, c, p);
            sink += p.size();
          }
        }
    };
    const double bulk_first = median_s(1, bulk);
    const double bulk_again = median_s(repeats, bulk);
    fmt::print("{} ECMP path_count+append_path all pairs, every path: first {:.3f} s, again {:.3f} s ({:.0f} ns/pair)\n",
               name, bulk_first, bulk_again, bulk_again / pairs * 1e9);
    auto touch = [&] {
      for (VertexId s = 0; s < n; ++s)
        for (VertexId d = 0; d < n; ++d) sink += m.router->paths(s, d).size();
    };
    const double first = median_s(1, touch);
    const double again = median_s(repeats, touch);
    fmt::print("{} ECMP paths() all pairs: first {:.3f} s ({:.0f} ns/pair, materializes every Path), cached {:.1f} ns/pair\n",
               name, first, first / pairs * 1e9, again / pairs * 1e9);
  }
  fmt::print("(checksum {})\n", sink);
  return 0;
}
