#pragma once
// Atomic outputs: a result file either appears whole or not at all. The
// content goes to a temporary file in the same folder, is flushed, and is then
// renamed over the target (rename(2) is atomic within one file system).

#include <filesystem>
#include <string_view>

namespace switchsim {

// Writes `content` to `path` atomically. Throws InputError("--out", ...) if the
// folder does not exist or cannot be written; never leaves a partial file.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace switchsim
