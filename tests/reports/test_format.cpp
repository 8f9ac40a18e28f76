#include <catch2/catch.hpp>

#include "reports/format.hpp"

using namespace switchsim::reports;

TEST_CASE("html_escape makes every special character inert", "[reports]") {
  // Each of & < > " ' becomes its entity; other text is unchanged.
  CHECK(html_escape(R"(<script>alert("x") & 'y'</script>)") ==
        "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;");
  CHECK(html_escape("dp=32 ep=32") == "dp=32 ep=32");
}

TEST_CASE("markdown_cell keeps a table row on one line with its columns", "[reports]") {
  CHECK(markdown_cell("a|b\nc") == "a\\|b c");
  CHECK(markdown_cell("x*y_z <b>") == "x\\*y\\_z &lt;b&gt;");
}

TEST_CASE("gnuplot_label strips what could end a gnuplot string", "[reports]") {
  const std::string label = gnuplot_label("it's \"quoted\" \\ \n");
  CHECK(label.find('\'') == std::string::npos);
  CHECK(label.find('"') == std::string::npos);
  CHECK(label.find('\\') == std::string::npos);
  CHECK(label.find('\n') == std::string::npos);
}

TEST_CASE("base64 matches the RFC 4648 test vectors", "[reports]") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\xff\x00\x10", 3)) == "/wAQ");
}

TEST_CASE("numbers are formatted for people with fixed units", "[reports]") {
  CHECK(format_seconds(0.0123) == "12.3 ms");
  CHECK(format_seconds(2.5e-6) == "2.50 us");
  CHECK(format_seconds(1.0) == "1.00 s");
  CHECK(format_si(1.5e6) == "1.50 M");
  CHECK(format_si(999.0) == "999");
  CHECK(format_bytes(3.0 * 1024 * 1024 * 1024) == "3.00 GiB");
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_percent(0.0123) == "1.23%");
  CHECK(format_fixed(1.25, 2) == "1.25");
  // Shortest round-trip text: reads back to the same double.
  CHECK(std::stod(format_exact(0.1)) == 0.1);
  CHECK(format_exact(1.0 / 3.0) == "0.3333333333333333");
}
