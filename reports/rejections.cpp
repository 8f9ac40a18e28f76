#include "reports/rejections.hpp"

#include <cctype>
#include <cstddef>

namespace switchsim::reports {

namespace {

// A reason cut into alternating text and numbers: texts.size() == numbers.size() + 1.
struct Pieces {
  std::vector<std::string> texts;
  std::vector<std::string> numbers;
};

Pieces split_numbers(std::string_view s) {
  Pieces p;
  p.texts.emplace_back();
  std::size_t i = 0;
  const auto digit = [&](std::size_t k) { return k < s.size() && std::isdigit(static_cast<unsigned char>(s[k])) != 0; };
  while (i < s.size()) {
    if (digit(i) || (s[i] == '.' && digit(i + 1))) {
      const std::size_t start = i;
      while (digit(i) || s[i] == '.' || s[i] == ',') {
        if (s[i] == ',' && !digit(i + 1)) break;
        ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E') &&
          (digit(i + 1) || ((s[i + 1] == '-' || s[i + 1] == '+') && digit(i + 2)))) {
        i += 2;
        while (digit(i)) ++i;
      }
      p.numbers.emplace_back(s.substr(start, i - start));
      p.texts.emplace_back();
    } else {
      p.texts.back() += s[i++];
    }
  }
  return p;
}

std::string variant_of(const RejectedLayout& r) {
  if (!r.capacity_factor_text.empty()) return r.capacity_factor_text;
  return r.mode;
}

// One reason from several with the same skeleton: equal numbers once, others joined by '/'.
std::string merge_reasons(const std::vector<std::string>& reasons) {
  if (reasons.size() == 1) return reasons.front();
  std::vector<Pieces> pieces;
  for (const std::string& r : reasons) pieces.push_back(split_numbers(r));
  const Pieces& first = pieces.front();
  std::string out = first.texts[0];
  for (std::size_t k = 0; k < first.numbers.size(); ++k) {
    bool same = true;
    for (const Pieces& p : pieces) same = same && p.numbers[k] == first.numbers[k];
    if (same) {
      out += first.numbers[k];
    } else {
      for (std::size_t j = 0; j < pieces.size(); ++j) out += (j == 0 ? "" : "/") + pieces[j].numbers[k];
    }
    out += first.texts[k + 1];
  }
  return out;
}

}  // namespace

std::string reason_without_numbers(std::string_view reason) {
  const Pieces p = split_numbers(reason);
  std::string out = p.texts[0];
  for (std::size_t k = 1; k < p.texts.size(); ++k) out += "#" + p.texts[k];
  return out;
}

std::vector<RejectedRow> group_rejections(const std::vector<const RejectedLayout*>& rejected) {
  struct Group {
    std::string layout;
    std::string skeleton;
    std::vector<std::string> variants;
    std::vector<std::string> reasons;
  };
  std::vector<Group> groups;
  for (const RejectedLayout* r : rejected) {
    const std::string skeleton = reason_without_numbers(r->reason);
    Group* g = nullptr;
    for (Group& candidate : groups) {
      if (candidate.layout == r->layout && candidate.skeleton == skeleton) g = &candidate;
    }
    if (g == nullptr) {
      groups.push_back({r->layout, skeleton, {}, {}});
      g = &groups.back();
    }
    const std::string variant = variant_of(*r);
    g->variants.push_back(variant.empty() ? std::string("—") : variant);  // keeps '/' values in step with variants
    g->reasons.push_back(r->reason);
  }
  std::vector<RejectedRow> rows;
  rows.reserve(groups.size());
  for (const Group& g : groups) rows.push_back({g.layout, g.variants, merge_reasons(g.reasons)});
  return rows;
}

}  // namespace switchsim::reports
