#include "reports/format.hpp"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace switchsim::reports {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '|') {
      out += "\\|";
    } else if (c == '\\' || c == '`' || c == '*' || c == '_' || c == '[' || c == ']') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string gnuplot_label(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'' || c == '"') {
      out += '`';
    } else if (c == '\\') {
      out += '/';
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) v |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

std::string three_digits(double value) {
  const double a = std::fabs(value);
  if (a >= 100.0) return fmt::format("{:.0f}", value);
  if (a >= 10.0) return fmt::format("{:.1f}", value);
  return fmt::format("{:.2f}", value);
}

}  // namespace

std::string format_seconds(double seconds) {
  if (!std::isfinite(seconds)) return "n/a";
  const double a = std::fabs(seconds);
  if (a == 0.0) return "0 s";
  if (a >= 1.0) return three_digits(seconds) + " s";
  if (a >= 1e-3) return three_digits(seconds * 1e3) + " ms";
  if (a >= 1e-6) return three_digits(seconds * 1e6) + " us";
  return three_digits(seconds * 1e9) + " ns";
}

std::string format_si(double value) {
  if (!std::isfinite(value)) return "n/a";
  static constexpr std::array<const char*, 6> kPrefix = {"", " k", " M", " G", " T", " P"};
  double v = value;
  std::size_t p = 0;
  while (std::fabs(v) >= 1000.0 && p + 1 < kPrefix.size()) {
    v /= 1000.0;
    ++p;
  }
  return three_digits(v) + kPrefix[p];
}

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "n/a";
  static constexpr std::array<const char*, 6> kPrefix = {" B", " KiB", " MiB", " GiB", " TiB", " PiB"};
  double v = bytes;
  std::size_t p = 0;
  while (std::fabs(v) >= 1024.0 && p + 1 < kPrefix.size()) {
    v /= 1024.0;
    ++p;
  }
  return (p == 0 ? fmt::format("{:.0f}", v) : three_digits(v)) + kPrefix[p];
}

std::string format_percent(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  return fmt::format("{:.2f}%", fraction * 100.0);
}

std::string format_fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  return fmt::format("{:.{}f}", value, decimals);
}

std::string format_exact(double value) {
  if (!std::isfinite(value)) return "NaN";
  return fmt::format("{}", value);
}

}  // namespace switchsim::reports
