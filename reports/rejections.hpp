#pragma once
// Rejected layouts, grouped for the report: `recommend` rejects a layout once
// per capacity factor (and once more dropless), usually for the same reason.
// One row per layout and reason lists the factors instead.
//
// Two rejections of one layout share a row when their reasons are equal once
// every number is blanked (reason_without_numbers). Numbers that are equal in
// all of them are shown once; numbers that differ are shown in the order of
// the row's factors, separated by '/': "needs 14.64/14.67 GiB" for factors
// "1.0, 1.25". Nothing is rounded, dropped or merged into a range.

#include <string>
#include <string_view>
#include <vector>

#include "reports/result.hpp"

namespace switchsim::reports {

// The reason with every number replaced by '#' ("needs 41.3 GiB" -> "needs # GiB").
// A number is a run of digits with '.' and ',' inside it and an optional exponent.
[[nodiscard]] std::string reason_without_numbers(std::string_view reason);

struct RejectedRow {
  std::string layout;
  std::vector<std::string> variants;  // capacity factors ("1.25") or modes ("dropless"), first-seen order
  std::string reason;                 // merged as described above
};

// Rows in the order their first rejection appears.
[[nodiscard]] std::vector<RejectedRow> group_rejections(const std::vector<const RejectedLayout*>& rejected);

}  // namespace switchsim::reports
