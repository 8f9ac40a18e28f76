#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"

namespace fs = std::filesystem;
using switchsim::InputError;
using switchsim::write_file_atomically;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
}  // namespace

TEST_CASE("write_file_atomically writes the whole content and leaves no temporary file", "[common]") {
  const fs::path dir = fs::temp_directory_path() / "switchsim-atomic-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string content(100000, 'x');
  write_file_atomically(dir / "out.json", content);
  CHECK(slurp(dir / "out.json") == content);
  CHECK(entries(dir) == 1);  // the temporary file was renamed, not copied
  write_file_atomically(dir / "out.json", "second");
  CHECK(slurp(dir / "out.json") == "second");
  CHECK(entries(dir) == 1);
  fs::remove_all(dir);
}

TEST_CASE("write_file_atomically into a missing folder is an input error naming --out", "[common]") {
  try {
    write_file_atomically("/nonexistent-switchsim-dir/x.json", "{}");
    FAIL("expected InputError");
  } catch (const InputError& e) {
    CHECK(e.field() == "--out");
    CHECK_FALSE(fs::exists("/nonexistent-switchsim-dir/x.json"));
  }
}
