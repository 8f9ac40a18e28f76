#include "common/temp_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/errors.hpp"

namespace switchsim {

namespace {

constexpr std::size_t kMaxPathBytes = 4096;
constexpr int kTerminatingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// A slot is free (0), being written or cleared by its owner (1), or holds a
// path the handler may remove (2). The handler reads only slots in state 2.
struct Slot {
  std::atomic<int> state{0};
  pid_t owner = 0;  // a forked child inherits the slots but must not remove its parent's folders
  char path[kMaxPathBytes] = {};
};
std::array<Slot, kMaxTempRegistrations> g_slots;

// The layout of the kernel's struct linux_dirent64 (getdents64(2)).
struct LinuxDirent64 {
  std::uint64_t d_ino;
  std::int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

// Removes `name` under the folder `parent_fd`: a file, or a folder with its
// contents (depth-limited). Async-signal-safe: system calls only, no heap.
void remove_tree_at(int parent_fd, const char* name, int depth) {
  if (::unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return;
  if (depth > 32) return;
  const int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  alignas(8) char buffer[2048];
  // Entries removed while reading may shift the listing: read it again until
  // a pass finds nothing left (a few passes at most).
  for (int pass = 0; pass < 8; ++pass) {
    bool removed_any = false;
    ::lseek(fd, 0, SEEK_SET);
    while (true) {
      const long n = ::syscall(SYS_getdents64, fd, buffer, sizeof buffer);
      if (n <= 0) break;
      for (long offset = 0; offset < n;) {
        const auto* entry = reinterpret_cast<const LinuxDirent64*>(buffer + offset);
        offset += entry->d_reclen;
        const char* child = entry->d_name;
        if (std::strcmp(child, ".") == 0 || std::strcmp(child, "..") == 0) continue;
        remove_tree_at(fd, child, depth + 1);
        removed_any = true;
      }
    }
    if (!removed_any) break;
  }
  ::close(fd);
  ::unlinkat(parent_fd, name, AT_REMOVEDIR);
}

extern "C" void remove_temp_paths_and_die(int signal_number) {
  const int saved_errno = errno;
  for (auto& slot : g_slots) {
    if (slot.state.load(std::memory_order_acquire) == 2 && slot.owner == ::getpid()) {
      remove_tree_at(AT_FDCWD, slot.path, 0);
    }
  }
  errno = saved_errno;
  // Die by the same signal, as the default disposition would have.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal_number, &default_action, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, signal_number);
  ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  ::raise(signal_number);
}

void install_handlers() {
  for (const int s : kTerminatingSignals) {
    struct sigaction current {};
    if (::sigaction(s, nullptr, &current) != 0) continue;
    // Only a default disposition is replaced: ours is there already, or someone
    // else (the user, a test framework) chose a handler or SIG_IGN.
    if (current.sa_handler != SIG_DFL || (current.sa_flags & SA_SIGINFO) != 0) continue;
    struct sigaction action {};
    action.sa_handler = remove_temp_paths_and_die;
    sigemptyset(&action.sa_mask);
    for (const int other : kTerminatingSignals) sigaddset(&action.sa_mask, other);
    action.sa_flags = SA_RESETHAND;
    ::sigaction(s, &action, nullptr);
  }
}

}  // namespace

int register_temp_path(const std::filesystem::path& path) {
  install_handlers();  // cheap (a few sigaction calls); SA_RESETHAND may have removed it
  // Absolute, so that a later chdir cannot redirect the removal.
  const std::string text = std::filesystem::absolute(path).string();
  if (text.size() + 1 > kMaxPathBytes) throw std::length_error("temporary path too long to register: " + text);
  for (int i = 0; i < kMaxTempRegistrations; ++i) {
    auto& slot = g_slots[static_cast<std::size_t>(i)];
    int expected = 0;
    if (!slot.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
    std::memcpy(slot.path, text.c_str(), text.size() + 1);
    slot.owner = ::getpid();
    slot.state.store(2, std::memory_order_release);
    return i;
  }
  throw std::length_error("more than " + std::to_string(kMaxTempRegistrations) + " temporary folders at once");
}

void unregister_temp_path(int slot) noexcept {
  if (slot < 0 || slot >= kMaxTempRegistrations) return;
  g_slots[static_cast<std::size_t>(slot)].state.store(0, std::memory_order_release);
}

TempDir::TempDir(const std::filesystem::path& parent, const std::string& prefix) {
  std::string tmpl = (parent / (prefix + "XXXXXX")).string();
  // Hold the terminating signals between creating the folder and registering it,
  // so that no instant exists where an interruption would leave it behind.
  sigset_t block, old;
  sigemptyset(&block);
  for (const int s : kTerminatingSignals) sigaddset(&block, s);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  if (::mkdtemp(tmpl.data()) == nullptr) {
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw InputError("--out", "cannot create a folder in '" + parent.string() + "': " + std::strerror(err));
  }
  path_ = tmpl;
  try {
    slot_ = register_temp_path(path_);
  } catch (...) {
    ::rmdir(tmpl.c_str());
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  unregister_temp_path(slot_);
}

void TempDir::release() noexcept {
  unregister_temp_path(slot_);
  slot_ = -1;
  path_.clear();
}

}  // namespace switchsim
