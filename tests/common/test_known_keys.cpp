// Strict JSON keys (common/known_keys.hpp): the edit distance against hand-computed
// values, the nearest-key suggestion and its cut-off, and the one-line error.
#include <catch2/catch.hpp>

#include "common/errors.hpp"
#include "common/known_keys.hpp"

using switchsim::closest_key;
using switchsim::edit_distance;
using switchsim::InputError;
using switchsim::json;
using switchsim::require_known_keys;

TEST_CASE("known keys: edit distance counts insertions, deletions and substitutions", "[common]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("", "abcd") == 4);
  CHECK(edit_distance("expert_evry", "expert_every") == 1);  // one insertion
  CHECK(edit_distance("kitten", "sitting") == 3);            // the textbook example: 2 substitutions + 1 insertion
  CHECK(edit_distance("notse", "notes") == 2);               // a swap is two substitutions
  CHECK(edit_distance("D_MODEL", "d_model") == 0);           // ASCII case-insensitive
  CHECK(edit_distance("flaw", "lawn") == 2);
}

TEST_CASE("known keys: the closest key is suggested only when it is a likely typo", "[common]") {
  CHECK(closest_key("expert_evry", {"experts", "expert_every", "top_k"}) == "expert_every");
  CHECK(closest_key("bandwith_Bps", {"bandwidth_Bps", "latency_s"}) == "bandwidth_Bps");
  CHECK(closest_key("notse", {"notes", "cases"}) == "notes");
  CHECK(closest_key("kv_heads", {"heads", "d_kv"}) == "");       // 3 edits from heads: a new field, not a typo
  CHECK(closest_key("sliding_window", {"d_model", "d_ff"}) == "");
  CHECK(closest_key("x", {"m", "n", "k"}) == "m");                 // 1 edit: the first of equals, in list order
  CHECK(closest_key("xy", {"mn"}) == "");                          // 2 edits on a 2-letter key is too many
}

TEST_CASE("known keys: the first unknown key in file order is refused, naming it", "[common]") {
  const json ok = json::parse(R"({"d_model": 1, "heads": 2})");
  CHECK_NOTHROW(require_known_keys(ok, {"d_model", "heads", "d_ff"}, "model"));
  CHECK_NOTHROW(require_known_keys(json::array(), {"a"}, "model"));  // not an object: the caller's checks report it

  const json typo = json::parse(R"({"d_model": 1, "expert_evry": 2, "zzz": 3})");
  try {
    require_known_keys(typo, {"d_model", "expert_every"}, "model");
    FAIL("an unknown key was accepted");
  } catch (const InputError& e) {
    CHECK(e.field() == "model.expert_evry");
    CHECK(e.reason() == "unknown key (did you mean 'expert_every'?); known: d_model, expert_every");
  }
  const json other = json::parse(R"({"rack": 3})");
  try {
    require_known_keys(other, {"name", "kind"}, "mesh.vertices[0]");
    FAIL("an unknown key was accepted");
  } catch (const InputError& e) {
    CHECK(e.field() == "mesh.vertices[0].rack");
    CHECK(e.reason() == "unknown key; known: name, kind");
  }
}
