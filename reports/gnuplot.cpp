#include "reports/gnuplot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "common/errors.hpp"

extern char** environ;

namespace switchsim::reports {

namespace fs = std::filesystem;

namespace {

bool is_executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

fs::path find_gnuplot() {
  if (const char* env = std::getenv("SWITCHSIM_GNUPLOT"); env != nullptr && env[0] != '\0') {
    if (is_executable(env)) return env;
    throw UnavailableError(std::string("gnuplot not found: SWITCHSIM_GNUPLOT='") + env +
                           "' is not an executable file");
  }
  const char* path_env = std::getenv("PATH");
  std::stringstream dirs(path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / "gnuplot";
    if (is_executable(candidate)) return candidate;
  }
  throw UnavailableError(
      "gnuplot not found on PATH: reports draw their charts with it (Debian: apt-get install gnuplot-nox, "
      "or run scripts/setup)");
}

std::string render_svg(const Chart& chart, const fs::path& gnuplot, const fs::path& work_dir) {
  SWITCHSIM_ASSERT(!chart.name.empty() && chart.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                                              std::string::npos,
                   "chart names are [a-z0-9-]");
  const fs::path dir = work_dir / chart.name;
  fs::create_directories(dir);
  for (const auto& [file, contents] : chart.data_files) write_text(dir / file, contents);
  const std::string svg_name = chart.name + ".svg";
  std::string script = fmt::format(
      "set terminal svg size {},{} fixed noenhanced background '#ffffff' font 'DejaVu Sans,12' linewidth 1.2\n"
      "set output '{}'\n",
      chart.width_px, chart.height_px, svg_name);
  script += chart.script;
  script += "set output\n";
  write_text(dir / "chart.gp", script);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string program = gnuplot.string();
  std::string script_arg = "chart.gp";
  std::vector<char*> argv = {program.data(), script_arg.data(), nullptr};
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    throw UnavailableError("cannot run gnuplot '" + program + "': " + std::strerror(spawn_error));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waiting for gnuplot: ") + std::strerror(errno));
  }
  const std::string log = read_text(dir / "gnuplot.log");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("gnuplot failed on chart '" + chart.name + "': " + log.substr(0, 2000));
  }
  std::string svg = read_text(dir / svg_name);
  if (svg.find("</svg>") == std::string::npos) {
    throw std::runtime_error("gnuplot wrote no complete SVG for chart '" + chart.name + "': " + log.substr(0, 2000));
  }
  // gnuplot embeds `with image` plots as bitmaps; browsers would blur them
  // when scaling, which smears a device-by-device heatmap.
  for (std::size_t at = svg.find("<image "); at != std::string::npos; at = svg.find("<image ", at + 1)) {
    svg.insert(at + 7, "style='image-rendering:pixelated' ");
  }
  return svg;
}

}  // namespace switchsim::reports
