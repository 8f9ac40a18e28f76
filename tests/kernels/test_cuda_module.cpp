// Loading the CUDA backend module (kernels/cuda_module.hpp) where it cannot
// work: a clear UnavailableError, never a crash. The module's path is
// resolved on every make_backend("cuda"), so SWITCHSIM_CUDA_MODULE set here is
// seen even after another test loaded the built module.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/errors.hpp"
#include "kernels/cuda_module.hpp"
#include "kernels/switch_layer.hpp"

using namespace switchsim;
using namespace switchsim::kernels;

namespace {
std::string unavailable_message() {
  try {
    (void)make_backend("cuda");
  } catch (const UnavailableError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a CUDA module path that does not exist is an UnavailableError naming it", "[kernels][switch]") {
  const std::string path = "/nonexistent/switchsim/libswitchsim_cuda.so";
  ::setenv("SWITCHSIM_CUDA_MODULE", path.c_str(), 1);
  const std::string message = unavailable_message();
  ::unsetenv("SWITCHSIM_CUDA_MODULE");
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("SWITCHSIM_CUDA_MODULE") != std::string::npos);
}

TEST_CASE("a CUDA module that is not a shared library is an UnavailableError", "[kernels][switch]") {
  const auto path = std::filesystem::temp_directory_path() / "switchsim-test-not-a-module.so";
  std::ofstream(path) << "not an ELF file\n";
  ::setenv("SWITCHSIM_CUDA_MODULE", path.c_str(), 1);
  const std::string message = unavailable_message();
  ::unsetenv("SWITCHSIM_CUDA_MODULE");
  std::filesystem::remove(path);
  CHECK(message.find("cannot load the CUDA backend module") != std::string::npos);
  CHECK(message.find(path.string()) != std::string::npos);
}
