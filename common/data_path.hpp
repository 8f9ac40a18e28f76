#pragma once
#include <filesystem>
#include <string>

namespace switchsim {

// Locates a built-in catalog file (e.g. "devices.json"). Looks in
// $SWITCHSIM_DATA_DIR, then the source tree's data/ folder recorded at build
// time. Throws UnavailableError when the file is nowhere.
[[nodiscard]] std::filesystem::path data_file(const std::string& name);

}  // namespace switchsim
