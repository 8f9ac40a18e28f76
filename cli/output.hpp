#pragma once
// Shared output flags of every subcommand: `--json` prints the machine-readable
// result on stdout, `--out FILE` writes it atomically. Without either, the
// human-readable text goes to stdout.

#include <string>

#include <CLI/CLI.hpp>

#include "common/json_io.hpp"

namespace switchsim::cli {

struct OutputOptions {
  bool json = false;
  std::string out;
};

// Declares --json and --out on `app`.
void add_output_flags(CLI::App& app, OutputOptions& options);

// Writes `result` to --out (atomically) and/or stdout as --json asks; prints
// `human` on stdout when --json was not given.
void emit(const OutputOptions& options, const json& result, const std::string& human);

// `result` with a top-level "command": `name` put first (every result names
// the subcommand that wrote it; reports/result.cpp classifies by it). A
// non-object `result` is wrapped as {"command": name, "result": result}.
[[nodiscard]] json with_command(const std::string& name, const json& result);

// True when stderr is a terminal: long work reports progress only then.
[[nodiscard]] bool stderr_is_terminal();

}  // namespace switchsim::cli
