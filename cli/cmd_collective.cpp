// `switchsim collective --mesh M --op OP --bytes N [--algorithm A] [--protocol P]
//  [--participants LIST] [--sharing max-min|uncongested] [--progress | --no-progress] [--json] [--out F]
//  [--trace FILE]`:
// one collective simulated alone on the mesh's flow-level network.
//
// --bytes: the nccl-tests buffer size per device; a number with an optional
//   suffix K, M, G (powers of 1000) or KiB, MiB, GiB (powers of 1024).
// --participants: device ids, e.g. `0-15,32,40-47` (sim/participants.hpp);
//   default every device of the mesh.
// --trace: Chrome/Perfetto JSON with one process per participating device; each
//   transfer is an interval on one of its sender's lanes (issue to delivery;
//   concurrent sends on separate lanes, sim/trace_lanes.hpp). Above
//   200,000 transfers, the transfers of one sender and one step are merged
//   into one interval (the file would otherwise be hundreds of MB).
// Progress (cli/progress.hpp): a simulation running longer than a few seconds
//   prints a line on stderr about every second (network updates, flows active
//   and finished, simulated time); by default only when stderr is a terminal,
//   always with --progress, never with --no-progress.

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command_registry.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "common/errors.hpp"
#include "common/resource_limits.hpp"
#include "sim/chrome_trace.hpp"
#include "sim/collective.hpp"
#include "sim/participants.hpp"
#include "sim/trace_lanes.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/resource_estimate.hpp"

namespace switchsim::cli {
namespace {

struct Options {
  std::string mesh;
  std::string op;
  std::string bytes;
  std::string algorithm = "auto";
  std::string protocol = "auto";
  std::string participants;
  std::string sharing = "max-min";
  std::string trace;
  bool force = false;
  ProgressFlags progress;
  OutputOptions output;
};

double parse_bytes(const std::string& text) {
  std::size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw InputError("--bytes", "'" + text + "' is not a number");
  }
  const std::string suffix = text.substr(used);
  static const std::map<std::string, double> scale = {{"", 1.0},         {"B", 1.0},          {"K", 1e3},
                                                      {"M", 1e6},        {"G", 1e9},          {"KB", 1e3},
                                                      {"MB", 1e6},       {"GB", 1e9},         {"KiB", 1024.0},
                                                      {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  auto it = scale.find(suffix);
  if (it == scale.end()) throw InputError("--bytes", "unknown unit '" + suffix + "' (K, M, G, KiB, MiB, GiB)");
  value *= it->second;
  if (!std::isfinite(value) || value <= 0.0) throw InputError("--bytes", "must be a positive finite size");
  return value;
}

void write_trace(const std::string& path, const sim::CollectiveResult& r, const std::vector<topology::VertexId>& devices,
                 const topology::Mesh& mesh) {
  // One process per device (named after the mesh vertex) holding its lanes
  // (sim/trace_lanes.hpp): concurrent sends go on separate lanes so that every
  // track's slices nest or do not overlap, as the viewers require.
  sim::TraceWriter trace;
  struct DeviceLanes {
    std::string group;
    sim::LanePacker packer;
    std::vector<sim::TrackId> tracks;
  };
  std::map<topology::VertexId, DeviceLanes> lanes;
  const auto lane_track = [&](topology::VertexId d, std::int32_t lane) {
    DeviceLanes& dl = lanes.at(d);
    while (static_cast<std::int32_t>(dl.tracks.size()) <= lane) {
      dl.tracks.push_back(trace.add_track(fmt::format("device {} lane {}", d, dl.tracks.size()), dl.group));
    }
    return dl.tracks[static_cast<std::size_t>(lane)];
  };
  for (const auto d : devices) {
    lanes[d].group = fmt::format("device {} ({})", d, mesh.topology.vertex(d).name);
    (void)lane_track(d, 0);  // every device shows, in device order, even without sends
  }
  // In-switch collectives (nvls) also send from the NVSwitch: one process for it.
  for (const auto& t : r.transfers) {
    if (lanes.count(t.src) == 0) lanes[t.src].group = fmt::format("switch {} ({})", t.src, mesh.topology.vertex(t.src).name);
  }
  const std::string name = fmt::format("{} ({})", sim::to_string(r.op), sim::to_string(r.algorithm));
  if (r.transfers.size() <= 200000) {
    std::vector<std::size_t> order(r.transfers.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return r.transfers[a].start_s < r.transfers[b].start_s; });
    for (const std::size_t i : order) {
      const auto& t = r.transfers[i];
      const std::int32_t lane = lanes.at(t.src).packer.place(t.start_s, t.end_s);
      trace.add_complete(lane_track(t.src, lane), "network", fmt::format("send to {}", mesh.topology.vertex(t.dst).name),
                         t.start_s, t.end_s - t.start_s, {{"bytes", t.bytes}, {"collective", name}});
    }
  } else {
    // Merge per sender: one interval from its first issue to its last delivery.
    struct Span {
      double start = 1e300, end = 0.0, bytes = 0.0;
      long count = 0;
    };
    std::map<topology::VertexId, Span> spans;
    for (const auto& t : r.transfers) {
      auto& s = spans[t.src];
      s.start = std::min(s.start, t.start_s);
      s.end = std::max(s.end, t.end_s);
      s.bytes += t.bytes;
      ++s.count;
    }
    for (const auto& [d, s] : spans) {
      trace.add_complete(lane_track(d, 0), "network", "sends (merged)", s.start, s.end - s.start,
                         {{"bytes", s.bytes}, {"transfers", s.count}, {"collective", name}});
    }
  }
  trace.write(path);
}

CommandAction add_collective_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  app.description("Simulate one collective on a mesh (flow-level, max-min fair network)");
  app.add_option("--mesh", opt->mesh, "Mesh name (switchsim list meshes) or JSON file")->required();
  app.add_option("--op", opt->op, "all-to-all | all-reduce | all-gather | reduce-scatter")->required();
  app.add_option("--bytes", opt->bytes, "Buffer size per device (nccl-tests semantics), e.g. 8MiB")->required();
  app.add_option("--algorithm", opt->algorithm,
                 "auto (per mesh: docs/network.md) | all-to-all: direct | pairwise | hierarchical | torus-dims; "
                 "all-reduce, all-gather, reduce-scatter: ring | bidir-ring | ring-channels (GPU: one ring per NIC) | "
                 "hierarchical (GPU) | torus-2d-bidir; all-reduce only: torus-2d | tree | double-tree (GPU, NCCL) | "
                 "nvls (GPU, in-switch reduction)");
  app.add_option("--protocol", opt->protocol,
                 "GPU all-reduce, all-gather, reduce-scatter: NCCL's protocol: auto (the fastest per size, as NCCL "
                 "chooses) | ll | ll128 | simple (NCCL's latencies and wire formats, sim/nccl_protocol.hpp) | none "
                 "(the network's per-message overheads only: the line-rate model); ignored elsewhere");
  app.add_option("--participants", opt->participants, "Device ids, e.g. 0-15,32,40-47 (default: all)");
  app.add_option("--sharing", opt->sharing, "Link sharing: max-min (default) or uncongested (a lower bound)");
  app.add_option("--trace", opt->trace, "Write a Chrome/Perfetto trace (one process per device, concurrent sends on lanes)");
  app.add_flag("--force", opt->force, "Run even when the size estimate exceeds this machine's limits");
  add_progress_flags(app, opt->progress);
  add_output_flags(app, opt->output);
  return [opt]() -> int {
    const bool progress = progress_wanted(opt->progress);
    sim::CollectiveRequest request;
    request.op = sim::parse_collective_op(opt->op);
    request.algorithm = sim::parse_collective_algorithm(opt->algorithm);
    request.bytes_per_device = parse_bytes(opt->bytes);
    request.network.protocol = sim::parse_protocol_choice(opt->protocol);
    if (opt->sharing == "max-min") {
      request.network.sharing = sim::SharingKind::max_min;
    } else if (opt->sharing == "uncongested") {
      request.network.sharing = sim::SharingKind::uncongested;
    } else {
      throw InputError("--sharing", "unknown policy '" + opt->sharing + "' (max-min, uncongested)");
    }
    if (!opt->participants.empty()) request.participants = sim::parse_participants(opt->participants);
    request.record_trace = !opt->trace.empty();
    const topology::Mesh mesh = topology::build_mesh(opt->mesh);
    // Size estimate (common/resource_limits.hpp, workloads/resource_estimate.hpp): refuses
    // what would need over half the memory or an hour of CPU, naming the approximations.
    check_resources("--mesh", workloads::estimate_collective_resources(mesh, request.op, request.participants),
                    opt->force, workloads::kFasterNetworkModels);
    ProgressLine line("collective");
    if (progress) request.network.progress = line.network_callback();
    const sim::CollectiveResult r = sim::simulate_collective(mesh, request);
    line.end();

    std::vector<topology::VertexId> devices = request.participants;
    if (devices.empty()) {
      for (topology::VertexId d = 0; d < mesh.topology.num_devices(); ++d) devices.push_back(d);
    }
    if (!opt->trace.empty()) write_trace(opt->trace, r, devices, mesh);

    json result;
    result["schema_version"] = kSchemaVersion;
    result["mesh"] = mesh.name;  // a custom mesh's "name", not its path
    if (!mesh.file.empty()) result["mesh_file"] = mesh.file;
    result["op"] = sim::to_string(r.op);
    result["algorithm"] = sim::to_string(r.algorithm);
    result["protocol"] = r.protocol ? sim::to_string(*r.protocol) : "none";
    result["sharing"] = sim::to_string(request.network.sharing);
    result["devices"] = r.devices;
    result["participants"] = opt->participants.empty() ? json("all") : json(opt->participants);
    result["bytes"] = r.bytes_per_device;
    result["time_s"] = r.time_s;
    result["algbw_Bps"] = r.algbw_Bps;
    result["busbw_Bps"] = r.busbw_Bps;
    result["flows"] = r.flows;
    result["events"] = r.events;
    result["rate_updates"] = r.rate_updates;
    result["wall_s"] = r.wall_s;
    result["provenance"] = provenance();
    const std::string human = fmt::format(
        "{} on {} ({} devices, {}{}): {:.6g} bytes per device\n"
        "  time {:.6g} us, algbw {:.4g} GB/s, busbw {:.4g} GB/s\n"
        "  {} flows, {} events, {} rate updates, {:.3g} s wall\n",
        sim::to_string(r.op), mesh.name, r.devices, sim::to_string(r.algorithm),
        r.protocol ? std::string(", ") + sim::to_string(*r.protocol) : std::string(), r.bytes_per_device, r.time_s * 1e6,
        r.algbw_Bps / 1e9, r.busbw_Bps / 1e9, r.flows, r.events, r.rate_updates, r.wall_s);
    emit(opt->output, with_command("collective", result), human);
    return 0;
  };
}

const bool registered = register_command({"collective", 30, &add_collective_command});

}  // namespace
}  // namespace switchsim::cli
