#pragma once
// A simulated step as a Chrome / Perfetto trace (chrome_trace.hpp): one
// process per device with a track per stream ("compute", "communication", and
// "communication 2" when a second communication stream is used), one slice per
// (op, device), and on every slice its `args` (shown when the slice is clicked):
//
//   every op      op (the op's name), kind (compute | all_to_all | all_reduce |
//                 other_communication), layer; micro_batch when the step has
//                 several (the step builder's "mbN." name prefix); pass
//                 (forward | backward | gradient sync | optimizer, from the
//                 step builder's names: ".fwd"; ".bwd", ".dgrad", ".wgrad";
//                 "grads."; "optimizer.")
//   compute       op_kind (matmul, attention, ...), flops (this device's FLOPs,
//                 kernels::OpShape::flops), bytes (the least memory traffic,
//                 OpShape::min_bytes)
//   collective    collective (all-to-all, ...), bytes (this device's buffer as
//                 nccl-tests counts it; an all-to-all with a byte matrix: the
//                 bytes this device sends, its matrix row), partition (id),
//                 group (index in the partition), group_size, members (the
//                 group's devices in ring order, runs written "a-b"), peer (the
//                 other device, in a group of two)
//
// Identical devices are written once. Two devices' timelines are identical when
// they are members of the same ops, and on each of those ops they start and end
// at the same simulated times (bit for bit) and do the same work (the same
// FLOPs and bytes in the args above); they may differ only in which group and
// peers they talk to. Each class of identical devices is one process named
// "devices 0-31 (identical timelines)" (its lowest device's slices and args);
// a device alone in its class is "device 5". Finding the classes costs one pass
// over the schedule: a 64-bit hash per device timeline, devices bucketed by hash,
// then each device compared slot by slot with its bucket's first device (a hash
// collision splits the bucket again, so equal hashes are never trusted alone).

#include <cstdint>
#include <string>
#include <vector>

#include "sim/chrome_trace.hpp"
#include "sim/step_schedule.hpp"

namespace switchsim::sim {

struct StepTraceOptions {
  std::int32_t max_devices = 1 << 30;  // only the first N devices (ids 0 .. N-1)
  bool all_devices = false;            // one process per device even when timelines are identical
};

// Devices [0, n) of `graph` grouped into classes of identical timelines (as
// defined above): each class sorted ascending, classes ordered by their first
// (lowest) device.
[[nodiscard]] std::vector<std::vector<topology::VertexId>> identical_timeline_classes(const OpGraph& graph,
                                                                                     const StepSchedule& schedule,
                                                                                     std::int32_t n);

// "0-3,8,10-11": ids in the given order, consecutive ascending runs of 2+ written a-b.
[[nodiscard]] std::string format_device_list(const std::vector<topology::VertexId>& devices);

// Adds the step to `trace`; returns the classes written, one per process, in
// process order (singletons with options.all_devices).
std::vector<std::vector<topology::VertexId>> add_step_to_trace(const OpGraph& graph, const StepSchedule& schedule,
                                                               TraceWriter& trace, const StepTraceOptions& options = {});

}  // namespace switchsim::sim
