// TempDir and the terminating-signal cleanup (common/temp_dir.hpp): a
// temporary folder disappears when its owner goes away, and also when the
// process is killed by SIGINT/SIGTERM, which still kills it (128 + signal).

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

// A folder tree with files two levels deep (the shape of a report's work folder).
void fill(const fs::path& dir) {
  fs::create_directories(dir / "charts" / "deeper");
  for (const char* name : {"a.dat", "charts/b.svg", "charts/deeper/c.gp"}) std::ofstream(dir / name) << "data\n";
}

// Forks a child that creates a TempDir under `parent`, fills it, writes its
// path to `report`, then raises `signal_number`. Returns the child's wait status.
int child_killed_by(int signal_number, const fs::path& parent, const fs::path& report) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    // As in a plain process: Catch2 has its own handlers for these signals.
    ::signal(signal_number, SIG_DFL);
    switchsim::TempDir dir(parent, "switchsim-test-signal-");
    fill(dir.path());
    std::ofstream(report) << dir.path().string();
    ::raise(signal_number);
    ::_exit(0);  // not reached: the signal kills the child
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("TempDir: removed with its contents when it goes away, release keeps it", "[common][temp_dir]") {
  fs::path kept;
  fs::path removed;
  {
    switchsim::TempDir dir(fs::temp_directory_path(), "switchsim-test-tempdir-");
    removed = dir.path();
    fill(removed);
    REQUIRE(fs::exists(removed / "charts" / "deeper" / "c.gp"));
  }
  CHECK_FALSE(fs::exists(removed));
  {
    switchsim::TempDir dir(fs::temp_directory_path(), "switchsim-test-tempdir-");
    kept = dir.path();
    dir.release();
  }
  CHECK(fs::is_directory(kept));
  fs::remove_all(kept);
}

TEST_CASE("TempDir: a missing parent folder is an InputError naming --out", "[common][temp_dir]") {
  CHECK_THROWS_WITH(switchsim::TempDir("/nonexistent-switchsim-parent", "x-"), Catch::Contains("--out"));
}

TEST_CASE("TempDir: SIGINT and SIGTERM remove the folder and still kill the process", "[common][temp_dir]") {
  for (const int signal_number : {SIGINT, SIGTERM}) {
    switchsim::TempDir parent(fs::temp_directory_path(), "switchsim-test-parent-");
    const fs::path report = parent.path() / "child-path.txt";
    const int status = child_killed_by(signal_number, parent.path(), report);
    INFO("signal " << signal_number);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == signal_number);
    const fs::path child_dir = read_all(report);
    REQUIRE_FALSE(child_dir.empty());
    CHECK(child_dir.parent_path() == fs::absolute(parent.path()));
    CHECK_FALSE(fs::exists(child_dir));
    // Nothing else of the child's is left under the parent: only the report file.
    int entries = 0;
    for (const auto& e : fs::directory_iterator(parent.path())) {
      (void)e;
      ++entries;
    }
    CHECK(entries == 1);
  }
}

TEST_CASE("TempDir: an ignored SIGHUP stays ignored", "[common][temp_dir]") {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGHUP, SIG_IGN);
    switchsim::TempDir dir(fs::temp_directory_path(), "switchsim-test-hup-");
    ::raise(SIGHUP);   // ignored: the child goes on
    ::_exit(fs::exists(dir.path()) ? 0 : 3);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
