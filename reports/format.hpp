#pragma once
// Text helpers for reports: escaping for HTML, Markdown tables and gnuplot
// strings, base64 for data URIs, and locale-independent number formatting.

#include <string>
#include <string_view>

namespace switchsim::reports {

// Escapes & < > " ' so any string from a result JSON is inert in HTML text
// and attribute values.
[[nodiscard]] std::string html_escape(std::string_view text);

// A Markdown table cell: '|' escaped, line breaks and other control
// characters turned into spaces, HTML-special characters escaped (Markdown
// renderers pass inline HTML through).
[[nodiscard]] std::string markdown_cell(std::string_view text);

// A string safe inside a single-quoted gnuplot string and a double-quoted
// gnuplot data-file column: quotes, backslashes and control characters are
// replaced (labels only; never used for file names).
[[nodiscard]] std::string gnuplot_label(std::string_view text);

// RFC 4648 base64 (with padding).
[[nodiscard]] std::string base64(std::string_view bytes);

// Numbers for people, independent of the C locale:
//   format_seconds(0.0123)   -> "12.3 ms"     (s, ms, us, ns)
//   format_si(1.5e6)         -> "1.50 M"      (k, M, G, T, P)
//   format_bytes(3 * 2^30)   -> "3.00 GiB"    (binary prefixes)
//   format_percent(0.0123)   -> "1.23%"
//   format_fixed(1.25, 2)    -> "1.25"
[[nodiscard]] std::string format_seconds(double seconds);
[[nodiscard]] std::string format_si(double value);
[[nodiscard]] std::string format_bytes(double bytes);
[[nodiscard]] std::string format_percent(double fraction);
[[nodiscard]] std::string format_fixed(double value, int decimals);
// Shortest form that reads back exactly (for data files handed to gnuplot).
[[nodiscard]] std::string format_exact(double value);

}  // namespace switchsim::reports
