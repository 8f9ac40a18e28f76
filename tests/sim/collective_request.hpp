#pragma once
// A collective request for the sim tests: op, bytes per device, algorithm.
#include "sim/collective.hpp"

namespace switchsim::sim::testing {

inline CollectiveRequest request(CollectiveOp op, double bytes,
                                 CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic) {
  CollectiveRequest r;
  r.op = op;
  r.algorithm = algorithm;
  r.bytes_per_device = bytes;
  return r;
}

}  // namespace switchsim::sim::testing
