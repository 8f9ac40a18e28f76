// `switchsim fidelity [--registry PATH]... [--case ID]... [--max-mape X] [--json] [--out F]`:
// runs every case of the registry of published measurements (data/measurements/,
// docs/fidelity.md) through the simulator; prints predicted vs measured, the
// relative error per case and the MAPE.
//
// Exit status: 2 when any entry is bad (a missing field, an unknown unit, a
// configuration the simulator rejects): every case still runs and is printed on
// stdout (the bad one with status "error"), one line per bad entry on stderr
// names the file and the field, and --out is not written; else 1
// when --max-mape is given and the MAPE exceeds it (or no case was compared);
// else 0.

#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "common/errors.hpp"
#include "workloads/fidelity.hpp"

namespace switchsim::cli {
namespace {

struct Options {
  std::vector<std::string> registry;
  std::vector<std::string> cases;
  double max_mape = -1.0;
  OutputOptions output;
};

CommandAction add_fidelity_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  app.description("Compare the simulator with published measurements (data/measurements): error per case and MAPE");
  app.add_option("--registry", opt->registry, "Measurement file or folder of *.json (default data/measurements; repeatable)");
  app.add_option("--case", opt->cases, "Run only the case with this id (repeatable)");
  CLI::Option* max_mape = app.add_option("--max-mape", opt->max_mape, "Exit 1 when the MAPE (percent) exceeds this");
  add_output_flags(app, opt->output);
  return [opt, max_mape]() -> int {
    if (max_mape->count() > 0 && !(opt->max_mape >= 0.0 && std::isfinite(opt->max_mape))) {
      throw InputError("--max-mape", "must be a non-negative percentage");
    }
    std::vector<std::filesystem::path> paths;
    for (const auto& r : opt->registry) paths.emplace_back(r);
    if (paths.empty()) paths.push_back(workloads::default_registry_dir());
    std::vector<workloads::FidelityCase> cases = workloads::load_registry(paths);
    if (!opt->cases.empty()) {
      const std::set<std::string> wanted(opt->cases.begin(), opt->cases.end());
      std::vector<workloads::FidelityCase> kept;
      std::set<std::string> found;
      for (auto& c : cases) {
        if (wanted.count(c.id) != 0 || !c.error.empty()) {
          found.insert(c.id);
          kept.push_back(std::move(c));
        }
      }
      for (const auto& id : wanted) {
        if (found.count(id) == 0) throw InputError("--case", "no case '" + id + "' in the registry");
      }
      cases = std::move(kept);
    }
    const workloads::FidelityReport report = workloads::run_fidelity(cases);
    json result = workloads::to_json(report);
    if (opt->max_mape >= 0.0) result["max_mape_percent"] = opt->max_mape;
    // A bad entry leaves no --out file (as every command's bad input does); the
    // figures still go to stdout.
    OutputOptions output = opt->output;
    if (report.errors > 0) output.out.clear();
    emit(output, with_command("fidelity", result), workloads::to_text(report));
    if (report.errors > 0) {
      for (const auto& r : report.results) {
        if (r.status == workloads::FidelityStatus::error) {
          std::cerr << "switchsim: error: " << r.error_field << ": " << r.error << "\n";
        }
      }
      return 2;
    }
    if (opt->max_mape >= 0.0) {
      if (!report.mape_percent) {
        std::cerr << "switchsim: fidelity: no case compared, so the MAPE bar --max-mape cannot be met\n";
        return 1;
      }
      if (*report.mape_percent > opt->max_mape) {
        std::cerr << fmt::format("switchsim: fidelity: MAPE {:.1f}% exceeds --max-mape {:g}%\n", *report.mape_percent,
                                 opt->max_mape);
        return 1;
      }
    }
    return 0;
  };
}

const bool registered = register_command({"fidelity", 95, &add_fidelity_command});

}  // namespace
}  // namespace switchsim::cli
