#pragma once
// The parallel layout: dp data-parallel replicas x mp model (tensor) parallel
// shards = devices; experts are sharded over ep of the dp replicas (ep | dp,
// ep | experts), so the dp axis splits into rep = dp / ep expert-group
// replicas x ep. Three logical axes then: mp, ep, rep.
//
// Text form:  dp=32,ep=32,mp=1[,etp=1][,pp=1][,vpp=1][,order=mp.ep.rep]
//   mp, ep, pp and vpp default to 1; `order` lists the axes innermost (fastest varying)
//   first. Logical coordinates (rep, e, m) map to the mesh's device id
//       id = sum over axes of coordinate * stride, strides growing in `order`.
//   Mesh device ids are ordered by the topology builders so that neighbouring
//   ids share the fastest links (the two cores of a TPU chip, then a torus
//   row; the GPUs of one node). The default order mp.ep.rep therefore puts
//   the most talkative axis on the fastest links: tensor-parallel all-reduces
//   of activations (4 per layer, forward and backward) inside a chip or node,
//   then the expert all-to-alls (2 per Switch layer), and the gradient
//   all-reduce (once per step) across the rest.
//
// Pipeline parallelism (pp, vpp):
//   dp=8,ep=8,tp=4,pp=4[,vpp=2][,order=mp.ep.rep.pp]
//   `tp` is accepted for `mp` (the same key: giving both is "given twice"); the printed form
//   keeps `mp` (existing outputs, JSON and the planner's strings are unchanged) and prints
//   pp and vpp only when they are not 1, so a pp = 1 layout prints exactly as before.
//   Devices = dp x mp x pp. The pp axis (stages) is the outermost: stage s owns the device ids
//   [s x dp x mp, (s + 1) x dp x mp), and inside a stage the ids follow `order` as above:
//       id = s x (dp x mp) + sum over (mp, ep, rep) of coordinate x stride.
//   Consecutive stages therefore sit on different chips / nodes when a stage fills them, and the
//   fast links stay with mp and ep. `order` may name pp only last (order=mp.ep.rep.pp); other
//   positions of the stage axis are not implemented and are refused (--layout.order).
//   vpp (virtual stages, Megatron's interleaved schedule) splits each device's layers into vpp
//   model chunks; chunk c of stage s is model chunk c x pp + s.
// Divisibility rules (validate_layout; each error names its field):
//   --layout       dp x mp x pp = devices
//   --layout.ep    ep | dp (folded: see --layout.etp), ep | experts (MoE), ep = 1 (dense)
//   --layout.mp    mp | heads, d_ff, the expert width (MoE) and the K/V heads
//   --layout.pp    pp <= the pipeline's layers (decoder-only: its layers; encoder-decoder: the
//                  encoder layers followed by the decoder layers, one sequence); pp need not
//                  divide them: the first (layers mod pp) stages hold one layer more
//   --layout.etp   etp | tp, ep x etp | tp x dp, etp | the expert width, order starting with mp, a
//                  model with experts (folded layouts; with etp = tp the mp and ep rules apply); the
//                  routing groups must split into tp / etp slices (expert_tensor_parallel.hpp)
//   --layout.vpp   vpp > 1 needs pp > 1 and vpp | layers / pp (which needs pp | layers), as
//                  Megatron-Core requires (num_layers_per_virtual_pipeline_stage)
//
// Expert tensor parallelism (etp; Megatron-Core's "MoE parallel folding", Liu et al. 2025,
// arXiv 2504.14960, and its `expert_tensor_parallel_size`):
//   dp=4,tp=2,ep=8,etp=1   attention / dense layers use (tp, dp), expert layers (etp, ep, edp) over
//   the SAME devices of a stage, with etp x ep x edp = tp x dp. etp not given (or etp = tp) is
//   today's layout exactly (the expert grid is (mp, ep, rep): ep | dp, edp = rep = dp / ep).
//   With etp != tp ("folded"):
//     stage-local id   i = m + tp x d   (m: tp rank, d: dp index 0 .. dp-1; `order` must start
//                      with mp, the tp axis innermost, and ep / rep then play no part in the dense
//                      layout: dp is one axis)
//     expert grid      i = t + etp x (e + ep x x)   (t: etp rank, e: ep rank, x: edp index):
//                      etp innermost, then ep, then edp, Megatron's expert rank order.
//   device(rep, e, m) then takes expert coordinates (rep = x, m = t). Rules (each names --layout.etp
//   unless said): etp | tp (an expert-tp group must sit inside one tp group: this simulator keeps a
//   tp group's tokens replicated on its tp ranks, no sequence parallelism, so only a group inside
//   one tp group holds one set of tokens); ep x etp | tp x dp; etp | the expert width
//   (the width split is priced as tp's is); order starts with mp; the model has experts. Each tp
//   group's tokens split into s = tp / etp slices, one per expert-tp group inside it: a device
//   routes T / s of its T tokens (the step builder refuses routing groups that do not split:
//   expert_tensor_parallel.hpp), and a `token slice group` (the s devices of a tp
//   group with the same etp rank) all-gathers the layer's output back to T tokens.
//
// Communication groups (device id lists), per stage (`stage`, default 0: with pp = 1 the whole mesh):
//   mp groups       same (rep, e): tensor-parallel all-reduces
//   ep groups       same (rep, m): dispatch / combine all-to-alls
//   dp groups       same m: dense-parameter gradient all-reduce over all dp replicas
//   expert replicas same (e, m): expert-gradient all-reduce (only when rep > 1); folded: the edp
//                   groups, same (e, t)
//   etp groups      same (rep, e): the expert output's all-reduce (= mp groups unless folded)
//   token slices    folded only: same (d, t), the s = tp / etp slices of one tp group
//   stage pairs     (stage s, stage s + 1) devices with the same (rep, e, m): point-to-point
//                   activation / gradient sends between neighbouring stages

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace switchsim::workloads {

struct Model;

enum class Axis : std::uint8_t { mp, ep, rep };

struct Layout {
  std::int64_t dp = 1;
  std::int64_t ep = 1;
  std::int64_t mp = 1;
  std::int64_t pp = 1;   // pipeline stages (outermost axis)
  std::int64_t vpp = 1;  // virtual stages (model chunks) per device
  std::int64_t etp = 0;  // expert tensor-parallel degree; 0: not given (= mp)
  std::array<Axis, 3> order{Axis::mp, Axis::ep, Axis::rep};  // innermost first (inside a stage)

  [[nodiscard]] std::int64_t devices() const { return dp * mp * pp; }
  [[nodiscard]] std::int64_t stage_devices() const { return dp * mp; }
  // Expert-tensor-parallel degree (etp, or mp when not given) and whether it differs from mp.
  [[nodiscard]] std::int64_t expert_tp() const { return etp > 0 ? etp : mp; }
  [[nodiscard]] bool folded() const { return expert_tp() != mp; }
  // Slices of a tp group's tokens for the expert layers: tp / etp (1 unless folded).
  [[nodiscard]] std::int64_t token_slices() const { return folded() ? mp / expert_tp() : 1; }
  // Expert-data-parallel replicas edp = (tp x dp) / (ep x etp) (= dp / ep unless folded).
  [[nodiscard]] std::int64_t replicas() const { return folded() ? stage_devices() / (ep * expert_tp()) : dp / ep; }
  // Mesh device id of logical coordinates (rep, e, m) on pipeline stage `stage`.
  [[nodiscard]] std::int32_t device(std::int64_t rep, std::int64_t e, std::int64_t m, std::int64_t stage = 0) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> mp_groups(std::int64_t stage = 0) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> ep_groups(std::int64_t stage = 0) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> dp_groups(std::int64_t stage = 0) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> expert_replica_groups(std::int64_t stage = 0) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> etp_groups(std::int64_t stage = 0) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> token_slice_groups(std::int64_t stage = 0) const;
  // The devices of one stage, ascending.
  [[nodiscard]] std::vector<std::int32_t> stage_members(std::int64_t stage) const;
  // Pairs {device on stage `from`, the same (rep, e, m) on stage `to`}: the p2p send groups.
  [[nodiscard]] std::vector<std::vector<std::int32_t>> stage_pairs(std::int64_t from, std::int64_t to) const;
  [[nodiscard]] std::string to_string() const;  // canonical text, order included
};

// The layers a pipeline splits (decoder-only: its layers; encoder-decoder: encoder then decoder).
[[nodiscard]] std::int64_t pipeline_layers(const Model& model);
// The first layer (index into that sequence) of model chunk `chunk` of `chunks`, and one past its
// last: consecutive blocks, the first (layers mod chunks) blocks one layer longer.
[[nodiscard]] std::int64_t chunk_first_layer(std::int64_t layers, std::int64_t chunks, std::int64_t chunk);

// Parses the text form; InputError("--layout.<key>") names the bad field.
[[nodiscard]] Layout parse_layout(const std::string& text, const std::string& field = "--layout");

// Checks the layout against the mesh size and the model (the rules above):
//   dp * mp * pp == devices, ep | dp, ep | experts (MoE), ep == 1 (dense), mp | heads, mp | d_ff,
//   mp | the expert width (MoE), mp | the K/V heads, pp <= layers, vpp | layers / pp; folded
//   (etp != mp): the etp rules above instead of ep | dp and mp | the expert width.
void validate_layout(const Layout& layout, const Model& model, std::int64_t devices,
                     const std::string& field = "--layout");

}  // namespace switchsim::workloads
