#pragma once
// A 2D torus written as a custom mesh file (README "Describing a custom mesh",
// topology/mesh_file.hpp): n x n devices, one per chip, each joined to its +x
// and +y neighbours (with wraparound) by a duplex ICI link with the TPU v3
// catalog figures (100 GB/s per direction, 1 us, efficiency 0.9). Devices
// forward traffic, so the mesh is routed by the shortest-path router (ECMP, up
// to 8 equal-cost paths per pair), not by the torus builder's dimension order:
// the case of issue 14 item 6.

#include <string>

#include <fmt/format.h>

#include "common/json_io.hpp"

namespace switchsim::bench {

inline json torus_mesh_json(int n) {
  json doc;
  doc["name"] = fmt::format("torus-file-{}x{}", n, n);
  doc["description"] = "2D torus as a mesh file (bench/support/torus_mesh_file.hpp)";
  doc["device_kind"] = "tpuv3";
  json vertices = json::array();
  json links = json::array();
  auto name = [n](int x, int y) { return fmt::format("c{}_{}", (x + n) % n, (y + n) % n); };
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) vertices.push_back(json{{"name", name(x, y)}, {"kind", "device"}});
  }
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      for (const auto& [dx, dy] : {std::pair{1, 0}, std::pair{0, 1}}) {
        if (n == 2 && ((dx == 1 && x == 1) || (dy == 1 && y == 1))) continue;  // no double link on a ring of 2
        links.push_back(json{{"src", name(x, y)},
                             {"dst", name(x + dx, y + dy)},
                             {"bandwidth_Bps", 100e9},
                             {"latency_s", 1e-6},
                             {"kind", "ici"},
                             {"efficiency", 0.9}});
      }
    }
  }
  doc["vertices"] = std::move(vertices);
  doc["links"] = std::move(links);
  return doc;
}

}  // namespace switchsim::bench
