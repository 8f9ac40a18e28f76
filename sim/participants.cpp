#include "sim/participants.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/errors.hpp"

namespace switchsim::sim {

namespace {

long long parse_id(const std::string& text, const std::string& item) {
  long long v = 0;
  const auto* b = text.data();
  const auto* e = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || ptr != e) {
    throw InputError("--participants", "'" + item + "' is not a device id or range a-b");
  }
  if (v < 0 || v > 1'000'000'000) throw InputError("--participants", "device id '" + text + "' out of range");
  return v;
}

}  // namespace

std::vector<topology::VertexId> parse_participants(const std::string& text) {
  std::string clean;
  for (const char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  }
  std::vector<topology::VertexId> out;
  std::size_t pos = 0;
  while (pos <= clean.size()) {
    const auto comma = std::min(clean.find(',', pos), clean.size());
    const std::string item = clean.substr(pos, comma - pos);
    if (item.empty()) throw InputError("--participants", "empty item in '" + text + "'");
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(static_cast<topology::VertexId>(parse_id(item, item)));
    } else {
      const auto a = parse_id(item.substr(0, dash), item);
      const auto b = parse_id(item.substr(dash + 1), item);
      if (b < a) throw InputError("--participants", "range '" + item + "' is empty (end before start)");
      if (b - a > 10'000'000) throw InputError("--participants", "range '" + item + "' is too large");
      // The total is capped too: many large ranges would otherwise allocate gigabytes.
      if (static_cast<long long>(out.size()) + (b - a) > 10'000'000) {
        throw InputError("--participants", "more than 10,000,000 devices listed");
      }
      for (auto v = a; v <= b; ++v) out.push_back(static_cast<topology::VertexId>(v));
    }
    pos = comma + 1;
  }
  if (out.empty()) throw InputError("--participants", "no device listed");
  return out;
}

void validate_participants(std::span<const topology::VertexId> participants, std::int32_t num_devices) {
  std::vector<char> seen(static_cast<std::size_t>(std::max(num_devices, 0)), 0);
  for (const auto d : participants) {
    if (d < 0 || d >= num_devices) {
      throw InputError("--participants",
                       "device " + std::to_string(d) + " is not in the mesh (devices 0-" +
                           std::to_string(num_devices - 1) + ")");
    }
    if (seen[static_cast<std::size_t>(d)]) {
      throw InputError("--participants", "device " + std::to_string(d) + " is listed twice");
    }
    seen[static_cast<std::size_t>(d)] = 1;
  }
}

}  // namespace switchsim::sim
