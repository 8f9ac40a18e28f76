#pragma once
// Pipelining a collective over chunks, as NCCL does: the buffer is cut into K
// chunks and every chunk runs the same schedule (the template), one after the
// other through each step's slot. Chunk k's copy of template transfer u waits
// for what u waits for in chunk k (the template's dependencies, renumbered) and
// for chunk k-1's copy of u (a slot carries its chunks in order, as NCCL's
// per-step FIFO buffers do). So chunk k can be in a later phase (the
// inter-node ring, the broadcast down a tree) while chunk k+1 is in an
// earlier one, and the phases' links work at the same time.
//
// In the fluid model a phase that keeps all its links busy (a ring) gains
// nothing from chunks; a schedule whose phases use different links (NVLink then
// NIC then NVLink; a tree's levels) approaches the time of its busiest link
// plus a fill of about (one chunk's time) x (stages - 1): with K chunks the
// fill is a fraction ~ (stages - 1) / K of the time.
//
// K: NCCL moves a pipeline step of at most one buffer slot per channel
// (NCCL_BUFFSIZE 4 MiB split into NCCL_STEPS = 8 slots: 512 KiB, Simple
// protocol; NCCL docs, "Environment Variables"), so K = ceil(largest template
// transfer / 512 KiB); capped at kMaxPipelineChunks and by a transfer budget
// (the simulation's cost grows with K x template size; the cap is a cost
// limit, not a property of NCCL, and leaves a fill of at most ~stages/32).

#include <cstdint>

#include "sim/transfer_graph.hpp"

namespace switchsim::sim {

inline constexpr double kPipelineSlotBytes = 512.0 * 1024.0;
inline constexpr int kMaxPipelineChunks = 32;
inline constexpr std::int64_t kPipelineTransferBudget = std::int64_t{1} << 20;

// The number of chunks for a template whose largest transfer carries
// `largest_transfer_bytes` when the whole buffer goes in one chunk.
[[nodiscard]] int pipeline_chunks(double largest_transfer_bytes, std::int32_t template_transfers);

// Appends `chunks` copies of `tmpl` (built for one chunk's bytes) to `g`, each
// copy waiting for the previous one transfer by transfer (above). Template
// dependencies must point to earlier transfers (every generator adds a
// transfer after what it waits for). Copies after the first are marked
// `streamed` (transfer_graph.hpp): under a library's step costs they follow
// the first chunk through the slot without paying the step latency again.
void append_pipelined(const TransferGraph& tmpl, int chunks, TransferGraph& g);

}  // namespace switchsim::sim
