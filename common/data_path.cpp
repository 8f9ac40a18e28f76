#include "common/data_path.hpp"

#include <cstdlib>

#include "common/errors.hpp"
#include "common/version.hpp"

namespace switchsim {

std::filesystem::path data_file(const std::string& name) {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("SWITCHSIM_DATA_DIR"); env != nullptr && env[0] != '\0') {
    const fs::path p = fs::path(env) / name;
    if (fs::exists(p)) return p;
  }
  const fs::path p = fs::path(kDataDir) / name;
  if (fs::exists(p)) return p;
  throw UnavailableError("built-in data file '" + name + "' not found (set SWITCHSIM_DATA_DIR)");
}

}  // namespace switchsim
