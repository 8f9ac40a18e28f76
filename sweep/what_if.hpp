#pragma once
// Hardware what-ifs of a sweep (docs/sweep.md): scale figures of the machine a
// point runs on, and nothing else.
//
//   bandwidth.<link kind> x s : every link of that kind carries s x its line rate
//   latency.<link kind>   x s : every link of that kind has s x its hop latency
//   peak_flops            x s : the device's bf16 (matrix) and fp32 (vector) peaks
//   hbm_bytes             x s : the device's memory size (micro-batch choice, "fits")
//   hbm_bandwidth         x s : the device's memory bandwidth (the cost model's memory ceiling)
//   nvlink_domain         = n : GPUs per NVLink domain of a dgx-/hgx-/gb200- mesh: the same
//                               GPUs rebuilt as (GPUs / n) nodes of n (nvlink_domain.cpp)
//
// Links are scaled in the built mesh (topology::Link); the routes stay those of
// the machine as built (fabrics route by topology, not by hop latency). Device
// figures are scaled in the cost model's ceilings and in the result's memory
// limit and MFU peak (run_point.cpp); the catalog itself is never changed.

#include <array>
#include <string>

#include "common/json_io.hpp"
#include "topology/mesh.hpp"

namespace switchsim::sweep {

struct WhatIf {
  std::string name = "baseline";
  std::array<double, topology::kNumLinkKinds> bandwidth{1.0, 1.0, 1.0, 1.0, 1.0};
  std::array<double, topology::kNumLinkKinds> latency{1.0, 1.0, 1.0, 1.0, 1.0};
  double peak_flops = 1.0;
  double hbm_bytes = 1.0;
  double hbm_bandwidth = 1.0;
  int nvlink_domain = 0;  // 0: the mesh's own node size

  [[nodiscard]] bool scales_links() const;
  // Changes the mesh (its links or its NVLink domains): checked per mesh (check_applicable).
  [[nodiscard]] bool changes_mesh() const { return scales_links() || nvlink_domain != 0; }
  // Changes the compute cost model's ceilings (cannot apply to a measured profile).
  [[nodiscard]] bool scales_ceilings() const { return peak_flops != 1.0 || hbm_bandwidth != 1.0; }
  [[nodiscard]] bool identity() const { return !changes_mesh() && !scales_ceilings() && hbm_bytes == 1.0; }
};

// Reads one what-if object {"name", "bandwidth": {kind: s}, "latency": {kind: s},
// "peak_flops": s, "hbm_bytes": s, "hbm_bandwidth": s, "nvlink_domain": n}; every
// factor positive and finite, n a positive integer. Errors name
// `where` + the key. A missing name is made from the factors ("nic bandwidth x2").
[[nodiscard]] WhatIf parse_what_if(const json& j, const std::string& where);
// The object as parse_what_if reads it (only the factors that are not 1).
[[nodiscard]] json to_json(const WhatIf& w);
// A short label of the factors: "nic bandwidth x2, peak_flops x1.5" ("baseline" for none).
[[nodiscard]] std::string describe_factors(const WhatIf& w);

// Throws InputError(where + ".bandwidth.<kind>", ...) when `w` scales a link
// kind that `mesh` has no link of, and InputError(where + ".nvlink_domain", ...)
// when `mesh` cannot be rebuilt with that domain size (nvlink_domain.hpp); with
// an NVLink-domain what-if the link kinds checked are the rebuilt mesh's.
void check_applicable(const WhatIf& w, const topology::Mesh& mesh, const std::string& where);

// Scales the links of `mesh` in place (vertices, link ids and routes unchanged).
void apply_to_links(const WhatIf& w, topology::Mesh& mesh);

// The mesh what-ifs in order: the NVLink-domain rebuild, then the link scaling.
void apply_to_mesh(const WhatIf& w, topology::Mesh& mesh);

}  // namespace switchsim::sweep
