#include "sweep/what_if.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/known_keys.hpp"
#include "sweep/nvlink_domain.hpp"

namespace switchsim::sweep {
namespace {

constexpr std::array<topology::LinkKind, topology::kNumLinkKinds> kKinds{
    topology::LinkKind::ici, topology::LinkKind::on_chip, topology::LinkKind::nvlink, topology::LinkKind::nic,
    topology::LinkKind::fabric};

double factor(const json& v, const std::string& where) {
  if (!v.is_number()) throw InputError(where, "must be a number (a scale factor)");
  const double s = v.get<double>();
  if (!(s > 0.0) || !std::isfinite(s)) throw InputError(where, "must be a positive, finite scale factor");
  return s;
}

void read_link_factors(const json& j, const std::string& where,
                       std::array<double, topology::kNumLinkKinds>& out) {
  if (!j.is_object()) throw InputError(where, "must be an object {\"<link kind>\": factor}");
  require_known_keys(j, {"ici", "on_chip", "nvlink", "nic", "fabric"}, where);
  for (const auto& [key, value] : j.items()) {
    topology::LinkKind kind{};
    if (!topology::parse_link_kind(key, kind)) throw InputError(where + "." + key, "unknown link kind");
    out[static_cast<std::size_t>(kind)] = factor(value, where + "." + key);
  }
}

std::string number(double s) { return fmt::format("{:g}", s); }

}  // namespace

bool WhatIf::scales_links() const {
  for (std::size_t k = 0; k < bandwidth.size(); ++k) {
    if (bandwidth[k] != 1.0 || latency[k] != 1.0) return true;
  }
  return false;
}

WhatIf parse_what_if(const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where, "must be an object");
  require_known_keys(j, {"name", "bandwidth", "latency", "peak_flops", "hbm_bytes", "hbm_bandwidth", "nvlink_domain"},
                     where);
  WhatIf w;
  if (j.contains("bandwidth")) read_link_factors(j["bandwidth"], where + ".bandwidth", w.bandwidth);
  if (j.contains("latency")) read_link_factors(j["latency"], where + ".latency", w.latency);
  if (j.contains("peak_flops")) w.peak_flops = factor(j["peak_flops"], where + ".peak_flops");
  if (j.contains("hbm_bytes")) w.hbm_bytes = factor(j["hbm_bytes"], where + ".hbm_bytes");
  if (j.contains("hbm_bandwidth")) w.hbm_bandwidth = factor(j["hbm_bandwidth"], where + ".hbm_bandwidth");
  if (j.contains("nvlink_domain")) {
    const json& n = j["nvlink_domain"];
    if (!n.is_number_integer() || n.get<long long>() < 1 || n.get<long long>() > (1 << 16)) {
      throw InputError(where + ".nvlink_domain", "must be a positive integer (GPUs per NVLink domain)");
    }
    w.nvlink_domain = n.get<int>();
  }
  if (j.contains("name")) {
    w.name = require_string(j, "name", where);
    if (w.name.empty()) throw InputError(where + ".name", "must not be empty");
  } else {
    w.name = describe_factors(w);
  }
  return w;
}

json to_json(const WhatIf& w) {
  json j = json::object();
  j["name"] = w.name;
  json bw = json::object();
  json lat = json::object();
  for (std::size_t k = 0; k < kKinds.size(); ++k) {
    if (w.bandwidth[k] != 1.0) bw[topology::to_string(kKinds[k])] = w.bandwidth[k];
    if (w.latency[k] != 1.0) lat[topology::to_string(kKinds[k])] = w.latency[k];
  }
  if (!bw.empty()) j["bandwidth"] = bw;
  if (!lat.empty()) j["latency"] = lat;
  if (w.peak_flops != 1.0) j["peak_flops"] = w.peak_flops;
  if (w.hbm_bytes != 1.0) j["hbm_bytes"] = w.hbm_bytes;
  if (w.hbm_bandwidth != 1.0) j["hbm_bandwidth"] = w.hbm_bandwidth;
  if (w.nvlink_domain != 0) j["nvlink_domain"] = w.nvlink_domain;
  return j;
}

std::string describe_factors(const WhatIf& w) {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  for (std::size_t k = 0; k < kKinds.size(); ++k) {
    if (w.bandwidth[k] != 1.0) add(fmt::format("{} bandwidth x{}", topology::to_string(kKinds[k]), number(w.bandwidth[k])));
    if (w.latency[k] != 1.0) add(fmt::format("{} latency x{}", topology::to_string(kKinds[k]), number(w.latency[k])));
  }
  if (w.peak_flops != 1.0) add("peak_flops x" + number(w.peak_flops));
  if (w.hbm_bytes != 1.0) add("hbm_bytes x" + number(w.hbm_bytes));
  if (w.hbm_bandwidth != 1.0) add("hbm_bandwidth x" + number(w.hbm_bandwidth));
  if (w.nvlink_domain != 0) add(fmt::format("nvlink_domain {}", w.nvlink_domain));
  return out.empty() ? "baseline" : out;
}

void check_applicable(const WhatIf& w, const topology::Mesh& mesh, const std::string& where) {
  if (w.nvlink_domain != 0) {
    // The link what-ifs apply to the rebuilt mesh (one domain of all GPUs has no NIC links).
    WhatIf links = w;
    links.nvlink_domain = 0;
    if (links.scales_links()) {
      check_applicable(links, rebuild_with_nvlink_domain(mesh, w.nvlink_domain, where + ".nvlink_domain"), where);
    } else {
      check_nvlink_domain(mesh, w.nvlink_domain, where + ".nvlink_domain");
    }
    return;
  }
  std::array<bool, topology::kNumLinkKinds> present{};
  for (const topology::Link& l : mesh.topology.links()) present[static_cast<std::size_t>(l.kind)] = true;
  for (std::size_t k = 0; k < kKinds.size(); ++k) {
    const char* kind = topology::to_string(kKinds[k]);
    if (w.bandwidth[k] != 1.0 && !present[k]) {
      throw InputError(fmt::format("{}.bandwidth.{}", where, kind),
                       fmt::format("mesh '{}' has no {} links", mesh.name, kind));
    }
    if (w.latency[k] != 1.0 && !present[k]) {
      throw InputError(fmt::format("{}.latency.{}", where, kind),
                       fmt::format("mesh '{}' has no {} links", mesh.name, kind));
    }
  }
}

void apply_to_links(const WhatIf& w, topology::Mesh& mesh) {
  if (!w.scales_links()) return;
  const topology::Topology& old = mesh.topology;
  topology::Topology scaled;
  for (topology::VertexId v = 0; v < old.num_vertices(); ++v) (void)scaled.add_vertex(old.vertex(v).kind, old.vertex(v).name);
  for (topology::Link l : old.links()) {
    const auto k = static_cast<std::size_t>(l.kind);
    l.bandwidth_Bps *= w.bandwidth[k];
    l.latency_s *= w.latency[k];
    (void)scaled.add_link(l);  // same order: link ids (and the router's paths) unchanged
  }
  scaled.finalize();
  mesh.topology = std::move(scaled);
}

void apply_to_mesh(const WhatIf& w, topology::Mesh& mesh) {
  if (w.nvlink_domain != 0) mesh = rebuild_with_nvlink_domain(mesh, w.nvlink_domain, "what_if.nvlink_domain");
  apply_to_links(w, mesh);
}

}  // namespace switchsim::sweep
