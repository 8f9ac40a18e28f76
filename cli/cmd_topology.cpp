// `switchsim topology --mesh M [--json] [--out F]`: devices, switches, links,
// diameter, average hops and bisection bandwidth of a mesh.

#include <memory>
#include <string>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "topology/mesh_catalog.hpp"
#include "topology/metrics.hpp"
#include "topology/topology_report.hpp"

namespace switchsim::cli {
namespace {

struct TopologyOptions {
  std::string mesh;
  OutputOptions output;
};

CommandAction add_topology_command(CLI::App& app) {
  auto options = std::make_shared<TopologyOptions>();
  app.description("Show a mesh's devices, links, diameter, average hops and bisection bandwidth");
  app.add_option("--mesh", options->mesh, "Catalog mesh name (see `switchsim list meshes`) or a mesh JSON file")
      ->required();
  add_output_flags(app, options->output);
  return [options] {
    const topology::Mesh mesh = topology::build_mesh(options->mesh);
    const topology::MeshMetrics metrics = topology::compute_metrics(mesh);
    emit(options->output, with_command("topology", topology::topology_json(mesh, metrics)), topology::topology_text(mesh, metrics));
    return 0;
  };
}

const bool registered = register_command({"topology", 20, &add_topology_command});

}  // namespace
}  // namespace switchsim::cli
