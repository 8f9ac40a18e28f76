#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/errors.hpp"

namespace switchsim {

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError("--out", "folder '" + dir.string() + "' does not exist");
  }
  // Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "." + string.
  std::string tmp_name = ".";
  tmp_name += path.filename().string();
  tmp_name += ".tmp.XXXXXX";
  std::string tmpl = (dir / tmp_name).string();
  // Ctrl-C (or a kill) while the temporary file exists would leave it behind: hold the
  // terminating signals until it is renamed or removed; they are delivered right after.
  struct SignalHold {
    sigset_t old{};
    SignalHold() {
      sigset_t block;
      sigemptyset(&block);
      for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&block, s);
      pthread_sigmask(SIG_BLOCK, &block, &old);
    }
    ~SignalHold() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
    SignalHold(const SignalHold&) = delete;
    SignalHold& operator=(const SignalHold&) = delete;
  } hold;
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    throw InputError("--out", "cannot write in '" + dir.string() + "': " + std::strerror(errno));
  }
  const char* data = content.data();
  std::size_t left = content.size();
  bool ok = true;
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  const int saved_errno = errno;
  ok = ok && ::fsync(fd) == 0;
  (void)::fchmod(fd, 0644);
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = ok ? errno : saved_errno;
    ::unlink(tmpl.c_str());
    throw InputError("--out", "cannot write '" + path.string() + "': " + std::strerror(err));
  }
}

}  // namespace switchsim
