#pragma once
// A collective request for the sim tests: op, bytes per device, algorithm.
// The network mechanics tests use `--protocol none` (every transfer pays the
// network's per-message overhead and hop latencies, so times are hand-computed
// from the catalog's links); NCCL's protocols are tested in test_protocols.cpp.
#include "sim/collective.hpp"

namespace switchsim::sim::testing {

inline CollectiveRequest request(CollectiveOp op, double bytes,
                                 CollectiveAlgorithm algorithm = CollectiveAlgorithm::automatic) {
  CollectiveRequest r;
  r.op = op;
  r.algorithm = algorithm;
  r.bytes_per_device = bytes;
  r.network.protocol = ProtocolChoice::none;
  return r;
}

}  // namespace switchsim::sim::testing
