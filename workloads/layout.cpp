#include "workloads/layout.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "workloads/model.hpp"

namespace switchsim::workloads {
namespace {

const char* axis_name(Axis a) { return a == Axis::mp ? "mp" : a == Axis::ep ? "ep" : "rep"; }

std::int64_t parse_count(const std::string& value, const std::string& field) {
  if (value.empty() || value.size() > 12 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw InputError(field, "must be a positive integer (got '" + value + "')");
  }
  const std::int64_t v = std::stoll(value);
  if (v <= 0) throw InputError(field, "must be a positive integer (got '" + value + "')");
  return v;
}

// Folded layouts (etp != mp): etp | mp and ep x etp | mp x dp (the expert grid fills the stage).
void check_folded_grid(const Layout& layout, const std::string& field) {
  const std::int64_t etp = layout.expert_tp();
  if (layout.mp % etp != 0) {
    throw InputError(field + ".etp", "etp=" + std::to_string(etp) + " does not divide tp=" + std::to_string(layout.mp) +
                                         " (an expert-tp group must sit inside one tp group)");
  }
  if (layout.stage_devices() % (layout.ep * etp) != 0) {
    throw InputError(field + ".etp", "ep x etp = " + std::to_string(layout.ep) + " x " + std::to_string(etp) +
                                        " does not divide the tp x dp = " + std::to_string(layout.stage_devices()) +
                                        " devices of a stage");
  }
}

}  // namespace

std::int32_t Layout::device(std::int64_t rep, std::int64_t e, std::int64_t m, std::int64_t stage) const {
  std::int64_t id = stage * stage_devices();
  // Folded (etp != mp): expert coordinates (edp x = rep, ep e, etp rank t = m), etp innermost.
  if (folded()) return static_cast<std::int32_t>(id + m + expert_tp() * (e + ep * rep));
  std::int64_t stride = 1;
  for (Axis a : order) {
    const std::int64_t coord = a == Axis::mp ? m : a == Axis::ep ? e : rep;
    const std::int64_t size = a == Axis::mp ? mp : a == Axis::ep ? ep : replicas();
    id += coord * stride;
    stride *= size;
  }
  return static_cast<std::int32_t>(id);
}

std::vector<std::vector<std::int32_t>> Layout::mp_groups(std::int64_t stage) const {
  std::vector<std::vector<std::int32_t>> out;
  if (folded()) {  // dense id m + mp x d
    for (std::int64_t d = 0; d < dp; ++d) {
      auto& g = out.emplace_back();
      for (std::int64_t m = 0; m < mp; ++m) g.push_back(static_cast<std::int32_t>(stage * stage_devices() + m + mp * d));
    }
    return out;
  }
  for (std::int64_t r = 0; r < replicas(); ++r)
    for (std::int64_t e = 0; e < ep; ++e) {
      auto& g = out.emplace_back();
      for (std::int64_t m = 0; m < mp; ++m) g.push_back(device(r, e, m, stage));
    }
  return out;
}

std::vector<std::vector<std::int32_t>> Layout::ep_groups(std::int64_t stage) const {
  std::vector<std::vector<std::int32_t>> out;
  for (std::int64_t r = 0; r < replicas(); ++r)
    for (std::int64_t m = 0; m < expert_tp(); ++m) {
      auto& g = out.emplace_back();
      for (std::int64_t e = 0; e < ep; ++e) g.push_back(device(r, e, m, stage));
    }
  return out;
}

std::vector<std::vector<std::int32_t>> Layout::dp_groups(std::int64_t stage) const {
  std::vector<std::vector<std::int32_t>> out;
  if (folded()) {
    for (std::int64_t m = 0; m < mp; ++m) {
      auto& g = out.emplace_back();
      for (std::int64_t d = 0; d < dp; ++d) g.push_back(static_cast<std::int32_t>(stage * stage_devices() + m + mp * d));
    }
    return out;
  }
  for (std::int64_t m = 0; m < mp; ++m) {
    auto& g = out.emplace_back();
    for (std::int64_t r = 0; r < replicas(); ++r)
      for (std::int64_t e = 0; e < ep; ++e) g.push_back(device(r, e, m, stage));
  }
  return out;
}

std::vector<std::vector<std::int32_t>> Layout::expert_replica_groups(std::int64_t stage) const {
  std::vector<std::vector<std::int32_t>> out;
  for (std::int64_t e = 0; e < ep; ++e)
    for (std::int64_t m = 0; m < expert_tp(); ++m) {
      auto& g = out.emplace_back();
      for (std::int64_t r = 0; r < replicas(); ++r) g.push_back(device(r, e, m, stage));
    }
  return out;
}

std::vector<std::vector<std::int32_t>> Layout::etp_groups(std::int64_t stage) const {
  std::vector<std::vector<std::int32_t>> out;
  for (std::int64_t r = 0; r < replicas(); ++r)
    for (std::int64_t e = 0; e < ep; ++e) {
      auto& g = out.emplace_back();
      for (std::int64_t m = 0; m < expert_tp(); ++m) g.push_back(device(r, e, m, stage));
    }
  return out;
}

std::vector<std::vector<std::int32_t>> Layout::token_slice_groups(std::int64_t stage) const {
  // Tp group d's ranks with etp rank t: tp ranks t + etp x slice, slice = 0 .. tp / etp - 1.
  std::vector<std::vector<std::int32_t>> out;
  const std::int64_t etp_ = expert_tp();
  for (std::int64_t d = 0; d < dp; ++d)
    for (std::int64_t t = 0; t < etp_; ++t) {
      auto& g = out.emplace_back();
      for (std::int64_t sl = 0; sl < token_slices(); ++sl) {
        g.push_back(static_cast<std::int32_t>(stage * stage_devices() + t + etp_ * sl + mp * d));
      }
    }
  return out;
}

std::vector<std::int32_t> Layout::stage_members(std::int64_t stage) const {
  std::vector<std::int32_t> out(static_cast<std::size_t>(stage_devices()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int32_t>(stage * stage_devices() + static_cast<std::int64_t>(i));
  return out;
}

std::vector<std::vector<std::int32_t>> Layout::stage_pairs(std::int64_t from, std::int64_t to) const {
  std::vector<std::vector<std::int32_t>> out;
  if (folded()) {  // the same stage-local id on both stages
    for (std::int64_t i = 0; i < stage_devices(); ++i) {
      out.push_back({static_cast<std::int32_t>(from * stage_devices() + i), static_cast<std::int32_t>(to * stage_devices() + i)});
    }
    return out;
  }
  for (std::int64_t r = 0; r < replicas(); ++r)
    for (std::int64_t e = 0; e < ep; ++e)
      for (std::int64_t m = 0; m < mp; ++m) out.push_back({device(r, e, m, from), device(r, e, m, to)});
  return out;
}

std::string Layout::to_string() const {
  std::string s = "dp=" + std::to_string(dp) + ",ep=" + std::to_string(ep) + ",mp=" + std::to_string(mp);
  if (folded()) s += ",etp=" + std::to_string(etp);
  if (pp != 1) s += ",pp=" + std::to_string(pp);
  if (vpp != 1) s += ",vpp=" + std::to_string(vpp);
  s += std::string(",order=") + axis_name(order[0]) + "." + axis_name(order[1]) + "." + axis_name(order[2]);
  if (pp != 1) s += ".pp";
  return s;
}

std::int64_t pipeline_layers(const Model& model) { return model.encoder_layers + model.decoder_layers; }

std::int64_t chunk_first_layer(std::int64_t layers, std::int64_t chunks, std::int64_t chunk) {
  const std::int64_t base = layers / chunks;
  const std::int64_t extra = layers % chunks;
  return chunk * base + std::min(chunk, extra);
}

Layout parse_layout(const std::string& text, const std::string& field) {
  Layout layout;
  bool have_dp = false;
  std::size_t pos = 0;
  std::vector<std::string> seen;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw InputError(field, "'" + item + "' is not KEY=VALUE (e.g. dp=32,ep=32,mp=1)");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) throw InputError(field + "." + key, "given twice");
    seen.push_back(key);
    if (key == "dp") {
      layout.dp = parse_count(value, field + ".dp");
      have_dp = true;
    } else if (key == "ep") {
      layout.ep = parse_count(value, field + ".ep");
    } else if (key == "mp" || key == "tp") {
      // tp is mp's other name (the same key: both given is "given twice").
      if (std::find(seen.begin(), seen.end(), key == "mp" ? "tp" : "mp") != seen.end()) {
        throw InputError(field + ".mp", "given twice (tp is another name for mp)");
      }
      layout.mp = parse_count(value, field + ".mp");
    } else if (key == "etp") {
      layout.etp = parse_count(value, field + ".etp");
    } else if (key == "pp") {
      layout.pp = parse_count(value, field + ".pp");
    } else if (key == "vpp") {
      layout.vpp = parse_count(value, field + ".vpp");
    } else if (key == "order") {
      // The stage axis may be named, only last (outermost): order=mp.ep.rep.pp.
      std::string inner = value;
      if (inner.size() > 3 && inner.compare(inner.size() - 3, 3, ".pp") == 0) inner.resize(inner.size() - 3);
      if (inner.find("pp") != std::string::npos) {
        throw InputError(field + ".order", "the pipeline axis pp can only be the outermost (last) one (got '" + value + "')");
      }
      std::array<Axis, 3> order{};
      std::size_t p = 0;
      for (int i = 0; i < 3; ++i) {
        if (p > inner.size()) {
          throw InputError(field + ".order", "must list each of mp, ep, rep once (got '" + value + "')");
        }
        const std::size_t dot = std::min(inner.find('.', p), inner.size());
        const std::string name = inner.substr(p, dot - p);
        p = dot + 1;
        if (name == "mp" || name == "tp") order[static_cast<std::size_t>(i)] = Axis::mp;
        else if (name == "ep") order[static_cast<std::size_t>(i)] = Axis::ep;
        else if (name == "rep") order[static_cast<std::size_t>(i)] = Axis::rep;
        else throw InputError(field + ".order", "must list mp, ep, rep separated by '.', innermost first (got '" + value + "')");
      }
      if (p <= inner.size() || order[0] == order[1] || order[0] == order[2] || order[1] == order[2]) {
        throw InputError(field + ".order", "must list each of mp, ep, rep once (got '" + value + "')");
      }
      layout.order = order;
    } else {
      throw InputError(field, "unknown key '" + key + "' (dp, ep, mp or tp, etp, pp, vpp, order)");
    }
    if (comma == text.size()) break;
  }
  if (!have_dp) throw InputError(field + ".dp", "missing (e.g. dp=32,ep=32,mp=1)");
  if (layout.folded()) {
    check_folded_grid(layout, field);
  } else if (layout.dp % layout.ep != 0) {
    throw InputError(field + ".ep", "ep=" + std::to_string(layout.ep) + " does not divide dp=" + std::to_string(layout.dp));
  }
  if (layout.vpp > 1 && layout.pp == 1) throw InputError(field + ".vpp", "virtual stages (vpp > 1) need pp > 1");
  return layout;
}

void validate_layout(const Layout& layout, const Model& model, std::int64_t devices, const std::string& field) {
  if (layout.pp == 1 && layout.dp * layout.mp != devices) {
    throw InputError(field, "dp x mp = " + std::to_string(layout.dp) + " x " + std::to_string(layout.mp) + " = " +
                                std::to_string(layout.dp * layout.mp) + " but the mesh has " + std::to_string(devices) +
                                " devices");
  }
  if (layout.pp > 1 && layout.devices() != devices) {
    throw InputError(field, "dp x mp x pp = " + std::to_string(layout.dp) + " x " + std::to_string(layout.mp) + " x " +
                                std::to_string(layout.pp) + " = " + std::to_string(layout.devices()) +
                                " but the mesh has " + std::to_string(devices) + " devices");
  }
  const std::int64_t layers = pipeline_layers(model);
  if (layout.pp > layers) {
    throw InputError(field + ".pp", "pp=" + std::to_string(layout.pp) + " is more stages than the " +
                                        std::to_string(layers) + " layers of " + model.name);
  }
  if (layout.vpp > 1) {
    if (layout.pp == 1) throw InputError(field + ".vpp", "virtual stages (vpp > 1) need pp > 1");
    if (layers % layout.pp != 0 || (layers / layout.pp) % layout.vpp != 0) {
      throw InputError(field + ".vpp", "vpp=" + std::to_string(layout.vpp) + " does not divide the layers per stage (" +
                                           std::to_string(layers) + " layers / pp=" + std::to_string(layout.pp) +
                                           (layers % layout.pp != 0 ? " is not whole)" : ")"));
    }
  }
  if (layout.folded()) {
    if (!model.is_moe()) {
      throw InputError(field + ".etp", model.name + " has no experts: etp must be left out or equal tp");
    }
    check_folded_grid(layout, field);
    if (layout.order[0] != Axis::mp) {
      throw InputError(field + ".etp", "etp != tp needs the tp axis innermost (order=mp....)");
    }
    if (model.expert_width() % layout.expert_tp() != 0) {
      throw InputError(field + ".etp", "etp=" + std::to_string(layout.expert_tp()) + " does not divide expert_d_ff=" +
                                           std::to_string(model.expert_width()));
    }
  } else if (layout.dp % layout.ep != 0) {
    throw InputError(field + ".ep", "ep=" + std::to_string(layout.ep) + " does not divide dp=" + std::to_string(layout.dp));
  }
  if (model.is_moe()) {
    if (model.experts % layout.ep != 0) {
      throw InputError(field + ".ep", "ep=" + std::to_string(layout.ep) + " does not divide the " +
                                          std::to_string(model.experts) + " experts of " + model.name);
    }
  } else if (layout.ep != 1) {
    throw InputError(field + ".ep", model.name + " has no experts: ep must be 1");
  }
  if (model.heads % layout.mp != 0) {
    throw InputError(field + ".mp", "mp=" + std::to_string(layout.mp) + " does not divide the " +
                                        std::to_string(model.heads) + " heads");
  }
  if (model.d_ff % layout.mp != 0) {
    throw InputError(field + ".mp", "mp=" + std::to_string(layout.mp) + " does not divide d_ff=" + std::to_string(model.d_ff));
  }
  if (model.is_moe() && !layout.folded() && model.expert_width() % layout.mp != 0) {
    throw InputError(field + ".mp", "mp=" + std::to_string(layout.mp) + " does not divide expert_d_ff=" +
                                        std::to_string(model.expert_width()));
  }
  if (model.kv_head_count() % layout.mp != 0) {
    throw InputError(field + ".mp", "mp=" + std::to_string(layout.mp) + " does not divide the " +
                                        std::to_string(model.kv_head_count()) + " K/V heads");
  }
}

}  // namespace switchsim::workloads
