#include "common/known_keys.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/errors.hpp"

namespace switchsim {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the Wagner-Fischer table: row[j] = distance(a[0..i), b[0..j)).
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];  // distance(a[0..i-1), b[0..j-1))
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      const std::size_t next = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

std::string closest_key(std::string_view key, std::initializer_list<std::string_view> known) {
  // A swapped pair of letters costs 2, so keys of 4 letters or more allow 2 edits (and a third
  // of their length when that is more); shorter ones 1, or every short key would match.
  const std::size_t limit = key.size() <= 3 ? 1 : std::max<std::size_t>(2, key.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (std::string_view k : known) {
    const std::size_t d = edit_distance(key, k);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(k);
    }
  }
  return best;
}

void require_known_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& where) {
  if (!obj.is_object()) return;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known.begin(), known.end(), std::string_view(key)) != known.end()) continue;
    const std::string near = closest_key(key, known);
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw InputError(where + "." + key, "unknown key" + (near.empty() ? std::string() : " (did you mean '" + near + "'?)") +
                                            "; known: " + list);
  }
}

}  // namespace switchsim
