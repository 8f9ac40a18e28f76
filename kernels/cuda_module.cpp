#include "kernels/cuda_module.hpp"

#include <dlfcn.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::kernels {

namespace {

using AbiFn = int (*)();
using CountFn = int (*)();
using MakeFn = SwitchLayerBackend* (*)(int*, char*, std::size_t);

struct Module {
  void* handle = nullptr;
  std::string error;  // why it could not be loaded (handle == nullptr)
  CountFn device_count = nullptr;
  MakeFn make = nullptr;
};

std::string candidates_text(const std::vector<std::string>& paths) {
  std::string text;
  for (const auto& p : paths) text += (text.empty() ? "" : ", ") + p;
  return text;
}

Module open_module(std::map<std::string, Module>& loaded) {
  Module m;
  std::vector<std::string> paths;
  if (const char* env = std::getenv("SWITCHSIM_CUDA_MODULE"); env != nullptr && *env != '\0') {
    paths.emplace_back(env);
  } else {
#ifdef SWITCHSIM_CUDA_MODULE_PATH
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) paths.push_back((exe.parent_path() / kCudaModuleFile).string());
    paths.emplace_back(SWITCHSIM_CUDA_MODULE_PATH);
#endif
    // A build without CUDA looks nowhere (paths stays empty): see below.
  }
  std::string last_error;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    if (const auto it = loaded.find(path); it != loaded.end()) return it->second;
    m.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (m.handle == nullptr) {
      const char* e = ::dlerror();
      last_error = path + ": " + (e != nullptr ? e : "dlopen failed");
      continue;
    }
    auto abi = reinterpret_cast<AbiFn>(::dlsym(m.handle, "switchsim_cuda_module_abi"));
    m.device_count = reinterpret_cast<CountFn>(::dlsym(m.handle, "switchsim_cuda_device_count"));
    m.make = reinterpret_cast<MakeFn>(::dlsym(m.handle, "switchsim_cuda_make_backend"));
    if (abi == nullptr || m.device_count == nullptr || m.make == nullptr || abi() != kCudaModuleAbi) {
      last_error = path + ": not a switchsim CUDA module of this version (ABI " + std::to_string(kCudaModuleAbi) + ")";
      m = Module{};
      continue;  // the handle stays open: harmless, and closing it could run its destructors mid-use
    }
    loaded[path] = m;
    return m;
  }
  if (!last_error.empty()) {
    m.error = "cannot load the CUDA backend module: " + last_error;
  } else if (paths.empty()) {
    m.error = "this switchsim was built without CUDA (nvcc was not found), so there is no " +
              std::string(kCudaModuleFile) + " (set SWITCHSIM_CUDA_MODULE to load one built elsewhere)";
  } else {
    m.error = std::string(kCudaModuleFile) + " not found (looked at " + candidates_text(paths) +
              "; set SWITCHSIM_CUDA_MODULE to its path)";
  }
  return m;
}

// Loaded modules are kept for the life of the process (never dlclose()d: the
// backends they made point into them), one per path; the candidate paths are
// resolved on every call, so that a changed SWITCHSIM_CUDA_MODULE is seen.
Module module() {
  static std::mutex mutex;
  static std::map<std::string, Module> loaded;
  const std::lock_guard<std::mutex> lock(mutex);
  return open_module(loaded);
}

}  // namespace

bool cuda_module_built() {
#ifdef SWITCHSIM_CUDA_MODULE_PATH
  return true;
#else
  return false;
#endif
}

int cuda_device_count_via_module() {
  const Module m = module();
  return m.handle != nullptr ? m.device_count() : 0;
}

std::unique_ptr<SwitchLayerBackend> load_cuda_backend() {
  const Module m = module();
  if (m.handle == nullptr) throw UnavailableError("--backend cuda: " + m.error);
  int status = 0;
  char message[512] = {};
  SwitchLayerBackend* backend = m.make(&status, message, sizeof message);
  if (backend != nullptr) return std::unique_ptr<SwitchLayerBackend>(backend);
  if (status == 1) throw UnavailableError(message);
  throw std::runtime_error(std::string("--backend cuda: ") + message);
}

}  // namespace switchsim::kernels
