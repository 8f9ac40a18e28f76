#pragma once
// Each subcommand lives in its own cli/cmd_<name>.cpp and registers itself:
//
//   static const bool registered = switchsim::cli::register_command(
//       {"topology", 20, &add_topology_command});
//
// `add` declares the subcommand's flags on the CLI11 app it is given and
// returns the function main() runs when that subcommand was chosen. The
// function returns the process exit status; it throws InputError for bad
// input (main prints it and exits with 2).

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace switchsim::cli {

using CommandAction = std::function<int()>;

struct CommandEntry {
  std::string name;
  int order = 0;  // position in `switchsim --help`
  CommandAction (*add)(CLI::App& app);
};

bool register_command(CommandEntry entry);
[[nodiscard]] std::vector<CommandEntry>& registered_commands();

}  // namespace switchsim::cli
