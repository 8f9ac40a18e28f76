#pragma once
// Shared by every CLI-level test (tests/*/test_cli_*.cpp, tests/reliability).
// Runs the built `switchsim` executable as a child process (posix_spawn) with
// stdout and stderr captured in files of a scratch folder, for CLI-level tests.
// SWITCHSIM_CLI in the environment overrides the binary (default: this build's
// cli/switchsim).

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace switchsim::testing {

struct CliRun {
  int status = -1;   // exit status; 128 + N when killed by signal N
  std::string out;   // captured stdout
  std::string err;   // captured stderr
};

// Splits a command line on spaces (the tests' arguments hold no quoted spaces).
[[nodiscard]] std::vector<std::string> split_args(const std::string& line);

// Path of the switchsim executable under test.
[[nodiscard]] std::string switchsim_binary();

// Runs switchsim with `args`; stdout/stderr go through files in `scratch`.
[[nodiscard]] CliRun run_cli(const std::vector<std::string>& args, const std::filesystem::path& scratch);

// Starts switchsim in the background (stdout/stderr to /dev/null); returns its pid.
[[nodiscard]] int spawn_cli(const std::vector<std::string>& args);
// Waits for `pid`; returns its exit status (128 + N when killed by signal N).
int wait_cli(int pid);

// A fresh empty folder under the system temp folder, removed on destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Every regular file under `dir` (relative path -> content), and every folder
// (relative path -> "<dir>"): a snapshot to compare before and after a run.
[[nodiscard]] std::map<std::string, std::string> snapshot(const std::filesystem::path& dir);

[[nodiscard]] std::string read_text(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace switchsim::testing
