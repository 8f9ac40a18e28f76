#pragma once
// The parallel layout: dp data-parallel replicas x mp model (tensor) parallel
// shards = devices; experts are sharded over ep of the dp replicas (ep | dp,
// ep | experts), so the dp axis splits into rep = dp / ep expert-group
// replicas x ep. Three logical axes then: mp, ep, rep.
//
// Text form:  dp=32,ep=32,mp=1[,order=mp.ep.rep]
//   mp and ep default to 1; `order` lists the axes innermost (fastest varying)
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
// Communication groups (device id lists):
//   mp groups       same (rep, e): tensor-parallel all-reduces
//   ep groups       same (rep, m): dispatch / combine all-to-alls
//   dp groups       same m: dense-parameter gradient all-reduce over all dp replicas
//   expert replicas same (e, m): expert-gradient all-reduce (only when rep > 1)

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
  std::array<Axis, 3> order{Axis::mp, Axis::ep, Axis::rep};  // innermost first

  [[nodiscard]] std::int64_t devices() const { return dp * mp; }
  [[nodiscard]] std::int64_t replicas() const { return dp / ep; }
  // Mesh device id of logical coordinates (rep, e, m).
  [[nodiscard]] std::int32_t device(std::int64_t rep, std::int64_t e, std::int64_t m) const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> mp_groups() const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> ep_groups() const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> dp_groups() const;
  [[nodiscard]] std::vector<std::vector<std::int32_t>> expert_replica_groups() const;
  [[nodiscard]] std::string to_string() const;  // canonical text, order included
};

// Parses the text form; InputError("--layout.<key>") names the bad field.
[[nodiscard]] Layout parse_layout(const std::string& text, const std::string& field = "--layout");

// Checks the layout against the mesh size and the model:
//   dp * mp == devices, ep | dp, ep | experts (MoE), ep == 1 (dense), mp | heads, mp | d_ff,
//   mp | the expert width (MoE) and mp | the K/V heads.
void validate_layout(const Layout& layout, const Model& model, std::int64_t devices,
                     const std::string& field = "--layout");

}  // namespace switchsim::workloads
