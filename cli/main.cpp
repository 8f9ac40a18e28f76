// The `switchsim` executable: parses arguments with CLI11, dispatches to the
// chosen subcommand, and turns errors into messages and exit statuses:
//   0  success;  2  bad input (one line on stderr naming the field);
//   1  unexpected failure (a bug: please report it).

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>

#include <malloc.h>

#ifdef SWITCHSIM_MIMALLOC
#include <mimalloc.h>
#endif

#include <CLI/CLI.hpp>

#include "cli/command_registry.hpp"
#include "common/errors.hpp"
#include "common/version.hpp"

namespace switchsim::cli {

std::vector<CommandEntry>& registered_commands() {
  static std::vector<CommandEntry> commands;
  return commands;
}

bool register_command(CommandEntry entry) {
  registered_commands().push_back(std::move(entry));
  return true;
}

}  // namespace switchsim::cli

int main(int argc, char** argv) {
  using namespace switchsim;
  // Each simulated step allocates and frees schedule arrays of a few MB (ops x members). With
  // glibc's defaults, blocks that large are mmap'ed and returned on free, so every step faults
  // its pages in again (about 37,000 minor faults in the default recommend, ~5% of its time).
  // Keep blocks up to 32 MiB in the heap and up to 256 MiB of freed memory for reuse instead.
  // (Where the build links mimalloc, cli/CMakeLists.txt, it serves every allocation and these
  // settings of glibc's allocator have nothing to act on.)
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#ifdef SWITCHSIM_MIMALLOC
  // Freed pages go back to the OS after 1 s instead of mimalloc's default 25 ms: the next step
  // reuses them rather than faulting them in again (system time of the Mixtral 8x7B search on
  // dgx-h100-8 at pp = 4: 8.7 s -> 4.2 s, peak memory +6%). MIMALLOC_DECOMMIT_DELAY overrides it.
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr) mi_option_set(mi_option_decommit_delay, 1000);
  // mi_version() also keeps libmimalloc a dependency under --as-needed linking.
  const int v = mi_version();  // 209 = 2.0.9
  const std::string allocator = " (allocator: mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) +
                                "." + std::to_string(v % 10) + ")";
#else
  const std::string allocator = " (allocator: glibc malloc)";
#endif
  CLI::App app{"switchsim: simulate and plan Mixture-of-Experts training on TPU and GPU meshes"};
  app.set_version_flag("--version", std::string("switchsim ") + kVersion + allocator);
  app.require_subcommand(1);
  app.fallthrough(false);

  auto& commands = cli::registered_commands();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.order != b.order ? a.order < b.order : a.name < b.name; });
  std::map<CLI::App*, cli::CommandAction> actions;
  for (const auto& command : commands) {
    CLI::App* sub = app.add_subcommand(command.name);
    actions[sub] = command.add(*sub);
  }

  // CLI11 reports a mistyped subcommand only as "a subcommand is required";
  // name the word and the choices instead.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    const bool known = std::any_of(commands.begin(), commands.end(), [&](const auto& c) { return c.name == word; });
    if (!known) {
      std::string choices;
      for (const auto& c : commands) choices += (choices.empty() ? "" : ", ") + c.name;
      std::cerr << "switchsim: error: subcommand: unknown '" << word << "' (choose from: " << choices << ")\n";
      return 2;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "switchsim: error: " << e.what() << "\n";
    return 2;
  }

  try {
    for (auto* sub : app.get_subcommands()) {
      return actions.at(sub)();
    }
  } catch (const InputError& e) {
    std::cerr << "switchsim: error: " << e.field() << ": " << e.reason() << "\n";
    return 2;
  } catch (const UnavailableError& e) {
    std::cerr << "switchsim: error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "switchsim: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "switchsim: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
