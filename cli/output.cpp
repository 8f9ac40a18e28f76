#include "cli/output.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/atomic_file.hpp"

namespace switchsim::cli {

void add_output_flags(CLI::App& app, OutputOptions& options) {
  app.add_flag("--json", options.json, "Print the JSON result on stdout");
  app.add_option("--out", options.out, "Write the JSON result to FILE (atomically)");
}

void emit(const OutputOptions& options, const json& result, const std::string& human) {
  const std::string text = dump_json(result);
  if (!options.out.empty()) {
    write_file_atomically(options.out, text);
  }
  if (options.json) {
    std::cout << text;
  } else {
    std::cout << human;
    if (!human.empty() && human.back() != '\n') std::cout << '\n';
  }
  std::cout.flush();
}

json with_command(const std::string& name, const json& result) {
  json named = json::object();
  named["command"] = name;
  if (!result.is_object()) {
    named["result"] = result;
    return named;
  }
  for (const auto& [key, value] : result.items()) {
    if (key != "command") named[key] = value;
  }
  return named;
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

}  // namespace switchsim::cli
