#include <catch2/catch.hpp>

#include <variant>

#include "fixtures.hpp"
#include "reports/rejections.hpp"

using namespace switchsim::reports;

namespace {

RejectedLayout rejection(const std::string& layout, const std::string& cf, const std::string& mode,
                         const std::string& reason) {
  RejectedLayout r;
  r.layout = layout;
  r.capacity_factor_text = cf;
  r.mode = mode;
  r.reason = reason;
  return r;
}

std::vector<const RejectedLayout*> pointers(const std::vector<RejectedLayout>& v) {
  std::vector<const RejectedLayout*> out;
  for (const RejectedLayout& r : v) out.push_back(&r);
  return out;
}

}  // namespace

TEST_CASE("numbers are blanked whole: decimals, thousands separators, exponents", "[reports]") {
  CHECK(reason_without_numbers("needs 41.3 GiB per core, the device has 16 GiB") == "needs # GiB per core, the device has # GiB");
  CHECK(reason_without_numbers("1,024 tokens, 3e-5 s and .5 x") == "# tokens, # s and # x");
  CHECK(reason_without_numbers("mp=16 does not divide 12 heads") == "mp=# does not divide # heads");
  CHECK(reason_without_numbers("no numbers") == "no numbers");
}

TEST_CASE("a layout rejected at several factors for the same reason is one row listing the factors", "[reports]") {
  const std::string why = "parameters alone need 55.30 GiB but the limit is 14.40 GiB";
  const std::vector<RejectedLayout> rejected = {
      rejection("dp=32 ep=1 mp=1", "1.0", "capacity", why), rejection("dp=32 ep=1 mp=1", "1.25", "capacity", why),
      rejection("dp=32 ep=2 mp=1", "1.0", "capacity", "parameters alone need 28.27 GiB but the limit is 14.40 GiB"),
      rejection("dp=32 ep=1 mp=1", "2.0", "capacity", why), rejection("dp=32 ep=1 mp=1", "", "dropless", why)};
  const auto rows = group_rejections(pointers(rejected));
  // Five rejections, two layouts: one row each, in first-seen order.
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].layout == "dp=32 ep=1 mp=1");
  CHECK(rows[0].variants == std::vector<std::string>{"1.0", "1.25", "2.0", "dropless"});
  CHECK(rows[0].reason == why);  // identical reasons: shown once, unchanged
  CHECK(rows[1].layout == "dp=32 ep=2 mp=1");
  CHECK(rows[1].variants == std::vector<std::string>{"1.0"});
}

TEST_CASE("numbers that differ between the factors are kept, in the factors' order", "[reports]") {
  const std::vector<RejectedLayout> rejected = {
      rejection("dp=16 ep=2 mp=2", "1.0", "capacity", "needs 14.64 GiB (activations 0.50) but the limit is 14.40 GiB"),
      rejection("dp=16 ep=2 mp=2", "1.25", "capacity", "needs 14.67 GiB (activations 0.53) but the limit is 14.40 GiB"),
      rejection("dp=16 ep=2 mp=2", "", "dropless", "needs 14.59 GiB (activations 0.45) but the limit is 14.40 GiB")};
  const auto rows = group_rejections(pointers(rejected));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].variants == std::vector<std::string>{"1.0", "1.25", "dropless"});
  // 14.40 is the same in all three and appears once; the others in the order 1.0, 1.25, dropless.
  CHECK(rows[0].reason == "needs 14.64/14.67/14.59 GiB (activations 0.50/0.53/0.45) but the limit is 14.40 GiB");
}

TEST_CASE("different reasons of one layout stay apart, and a rejection without factor or mode shows a dash", "[reports]") {
  const std::vector<RejectedLayout> rejected = {rejection("dp=2 ep=2 mp=16", "1.0", "", "mp=16 does not divide 12 heads"),
                                                rejection("dp=2 ep=2 mp=16", "1.25", "", "needs 41.3 GiB per core"),
                                                rejection("dp=2 ep=2 mp=16", "", "", "mp=16 does not divide 12 heads")};
  const auto rows = group_rejections(pointers(rejected));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].variants == std::vector<std::string>{"1.0", "—"});
  CHECK(rows[0].reason == "mp=16 does not divide 12 heads");
  CHECK(rows[1].reason == "needs 41.3 GiB per core");
}

TEST_CASE("the real recommend output's 30 rejections are 6 layout rows", "[reports]") {
  // fixtures/real/recommend.json: 6 layouts, each rejected at 4 factors and dropless.
  const auto view = std::get<RecommendView>(load_result(fixture("real/recommend.json")).view);
  REQUIRE(view.rejected.size() == 30);
  std::vector<const RejectedLayout*> all;
  for (const RejectedLayout& r : view.rejected) all.push_back(&r);
  const auto rows = group_rejections(all);
  REQUIRE(rows.size() == 6);
  for (const RejectedRow& row : rows) {
    CHECK(row.variants == std::vector<std::string>{"1.0", "1.25", "1.5", "2.0", "dropless"});
    CHECK(row.layout.find("cf=") == std::string::npos);
  }
}
