#pragma once
// N-dimensional torus / mesh builder (TPU pod slices) and its dimension-order
// router.
//
// Layout: chips on a grid dims[0] x dims[1] x ..., chip index
// c = x0 + n0 * (x1 + n1 * (x2 + ...)) (dimension 0 varies fastest). Each chip
// holds `cores_per_chip` devices, numbered d = c * cores_per_chip + core.
// With one core per chip the device is the chip and ICI links join devices
// directly (TPU v4 megacore). With several, each chip is a chip-router vertex
// (ids after the devices) and every core hangs off it by an on-chip duplex
// link, so the cores share the chip's ICI links (TPU v3: 2 cores, 4 links).
//
// Along dimension d, chip x has a duplex ICI link to x+1; with wraparound also
// n-1 to 0. A dimension of size 2 never wraps (the wrap link would join the
// same two chips twice); a dimension of size 1 has no links.
//
// Dimension-order routing (DOR): correct dimension 0 first, then 1, ... Along
// a ring of n chips from x to y, the forward distance is f = (y - x) mod n and
// the backward one n - f; the route goes the shorter way. At exactly half way
// (f == n / 2, n even) it goes forward when the source coordinate x is even
// and backward when it is odd: deterministic, and each direction of every
// ring carries half of the tied traffic. Without wraparound the route goes
// straight. A path is [on-chip up] + ICI hops + [on-chip down]; two cores of
// one chip talk through their router (2 on-chip hops).

#include <string>
#include <vector>

#include "topology/mesh.hpp"

namespace switchsim::topology {

struct TorusSpec {
  std::vector<int> dims;         // chips per dimension, each >= 1
  std::vector<bool> wraparound;  // per dimension (same size as dims)
  int cores_per_chip = 1;        // devices per chip
  LinkSpec ici;                  // each ICI link, per direction
  LinkSpec on_chip;              // core <-> chip router (cores_per_chip > 1)
  std::string device_kind;       // key into the device catalog
};

// Builds the mesh, its structure (family torus, dims, effective wraparound)
// and a DOR router. Throws InputError("mesh", ...) for a bad spec.
[[nodiscard]] Mesh build_torus(const std::string& name, const TorusSpec& spec);

}  // namespace switchsim::topology
