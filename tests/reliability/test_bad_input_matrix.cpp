// The bad-input matrix (issue 7): every subcommand and every input file kind
// (mesh, model, routing trace, profile, result JSON) fed malformed JSON, wrong
// types, missing fields, negative / zero / NaN / huge numbers, unknown names and
// inconsistent combinations. One table; each case must give
//   - exit status 2,
//   - exactly one line on stderr, which names the field,
//   - no output created or changed: the scratch folder (inputs, and for every
//     other case a pre-existing --out target with sentinel content) is
//     byte-identical afterwards, so no file, temporary file or folder appeared.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/run_cli.hpp"

namespace {

using switchsim::testing::CliRun;
using switchsim::testing::ScratchDir;

// ---- valid base documents; each case mutates one thing -----------------------
const std::string kMesh = R"({"name": "ring4", "device_kind": "h100",
 "vertices": [{"name": "g0", "kind": "device"}, {"name": "g1", "kind": "device"},
              {"name": "g2", "kind": "device"}, {"name": "g3", "kind": "device"}],
 "links": [{"src": "g0", "dst": "g1", "bandwidth_Bps": 4.5e11, "latency_s": 1e-6, "kind": "nvlink"},
           {"src": "g1", "dst": "g2", "bandwidth_Bps": 4.5e11, "latency_s": 1e-6, "kind": "nvlink"},
           {"src": "g2", "dst": "g3", "bandwidth_Bps": 4.5e11, "latency_s": 1e-6, "kind": "nvlink"},
           {"src": "g3", "dst": "g0", "bandwidth_Bps": 4.5e11, "latency_s": 1e-6, "kind": "nvlink"}]})";

const std::string kModel = R"({"name": "tiny", "d_model": 64, "d_ff": 128, "heads": 2, "layers": 2,
 "experts": 8, "input_length": 64, "target_length": 16, "vocab": 1000, "ffn": "relu"})";

const std::string kTrace = R"({"experts": 8, "groups": [[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]]})";

const std::string kProfile = R"({"schema_version": 1, "kind": "roofline",
 "device": {"kind": "tpuv3", "name": "TPU v3", "memory_bytes": 17179869184.0},
 "backend": "roofline",
 "ceilings": {"matrix_flops_per_s": 6.15e13, "vector_flops_per_s": 2.05e13, "memory_Bps": 4.5e11,
              "matrix_efficiency": 0.7, "memory_efficiency": 0.8, "launch_overhead_s": 5e-6},
 "samples": []})";

const std::string kResult = R"({"schema_version": 1, "mesh": "tpuv3-2x2", "op": "all-reduce",
 "algorithm": "torus-2d", "sharing": "max-min", "devices": 8, "participants": "all", "bytes": 1048576.0,
 "time_s": 3.93e-05, "algbw_Bps": 2.668e10, "busbw_Bps": 4.669e10, "flows": 64, "events": 28,
 "wall_s": 0.0001, "provenance": {"tool": "switchsim", "version": "0.1.0"}})";

// `base` with its first occurrence of `from` replaced by `to` (the substitution must exist).
std::string sub(const std::string& base, const std::string& from, const std::string& to) {
  const auto at = base.find(from);
  if (at == std::string::npos) throw std::logic_error("sub: '" + from + "' not in base document");
  return base.substr(0, at) + to + base.substr(at + from.size());
}

struct Case {
  std::string group;                                       // subcommand or file kind (one TEST_CASE each)
  std::string name;
  std::vector<std::string> args;                           // "{d}" stands for the scratch folder
  std::vector<std::pair<std::string, std::string>> files;  // written into {d} before the run
  std::string field;                                       // must appear in the one stderr line
};

using Files = std::vector<std::pair<std::string, std::string>>;

// `base` with the flags of `extra` added; a flag already in `base` gets the new value
// (two --model flags would be a different error: CLI11's "at most 1").
std::vector<std::string> merged(std::vector<std::string> base, const std::vector<std::string>& extra) {
  for (std::size_t i = 0; i < extra.size(); ++i) {
    const bool has_value = i + 1 < extra.size() && extra[i].rfind("--", 0) == 0 && extra[i + 1].rfind("--", 0) != 0;
    const auto at = std::find(base.begin(), base.end(), extra[i]);
    if (has_value && at != base.end() && at + 1 != base.end()) {
      *(at + 1) = extra[i + 1];
      ++i;
      continue;
    }
    base.push_back(extra[i]);
  }
  return base;
}

// Shorthands for the commands that read each file kind.
std::vector<std::string> topo(const std::string& mesh) { return {"topology", "--mesh", mesh, "--out", "{d}/out.json"}; }
std::vector<std::string> sim(const std::vector<std::string>& extra) {
  return merged({"simulate", "--model", "{d}/model.json", "--mesh", "tpuv3-2x2", "--batch-tokens",
                                "4096", "--out", "{d}/out.json"}, extra);
}
std::vector<std::string> sim_base(const std::vector<std::string>& extra) {
  return merged({"simulate", "--model", "switch-base", "--mesh", "tpuv3-4x4", "--out", "{d}/out.json"}, extra);
}
std::vector<std::string> cap(const std::vector<std::string>& extra) {
  return merged({"capacity", "--model", "switch-base", "--mesh", "tpuv3-4x4", "--out", "{d}/out.json"}, extra);
}
std::vector<std::string> rec(const std::vector<std::string>& extra) {
  return merged({"recommend", "--model", "switch-base", "--mesh", "tpuv3-4x4", "--out", "{d}/out.json"}, extra);
}
std::vector<std::string> coll(const std::vector<std::string>& extra) {
  return merged({"collective", "--mesh", "tpuv3-4x4", "--out", "{d}/out.json"}, extra);
}

const std::vector<Case>& cases() {
  static const std::vector<Case> table = [] {
    std::vector<Case> t;
    const Files model = {{"model.json", kModel}};
    // ---- mesh file ------------------------------------------------------------
    auto mesh = [&](std::string name, std::string doc, std::string field) {
      t.push_back({"mesh file", std::move(name), topo("{d}/m.json"), {{"m.json", std::move(doc)}}, std::move(field)});
    };
    mesh("not JSON", "{\"name\": ", "--mesh");
    mesh("empty file", "", "--mesh");
    mesh("top level is an array", "[1, 2]", "mesh");
    mesh("vertices misspelled", sub(kMesh, "\"vertices\"", "\"vertexes\""), "mesh.vertexes: unknown key (did you mean 'vertices'?)");
    mesh("vertices missing", R"({"name": "ring4", "device_kind": "h100", "links": []})", "mesh.vertices: missing");
    mesh("links missing", R"({"name": "ring4", "device_kind": "h100", "vertices": [{"name": "g0", "kind": "device"}]})",
         "mesh.links: missing");
    mesh("vertices not an array", R"({"name": "ring4", "device_kind": "h100", "vertices": 5, "links": []})", "mesh.vertices");
    mesh("links misspelled", sub(kMesh, "\"links\"", "\"linkz\""), "mesh.linkz: unknown key (did you mean 'links'?)");
    mesh("bandwidth misspelled", sub(kMesh, "\"bandwidth_Bps\"", "\"bandwith_Bps\""),
         "mesh.links[0].bandwith_Bps: unknown key (did you mean 'bandwidth_Bps'?)");
    mesh("unknown vertex key", sub(kMesh, "\"kind\": \"device\"", "\"kind\": \"device\", \"rack\": 3"),
         "mesh.vertices[0].rack: unknown key");
    mesh("negative bandwidth", sub(kMesh, "4.5e11", "-4.5e11"), "bandwidth_Bps");
    mesh("zero bandwidth", sub(kMesh, "4.5e11", "0"), "bandwidth_Bps");
    mesh("bandwidth as a string", sub(kMesh, "4.5e11", "\"fast\""), "bandwidth_Bps");
    mesh("huge bandwidth (inf)", sub(kMesh, "4.5e11", "1e400"), "--mesh");
    mesh("negative latency", sub(kMesh, "\"latency_s\": 1e-6", "\"latency_s\": -1"), "latency_s");
    mesh("latency null", sub(kMesh, "\"latency_s\": 1e-6", "\"latency_s\": null"), "latency_s");
    mesh("link to an unknown vertex", sub(kMesh, "\"dst\": \"g1\"", "\"dst\": \"g9\""), "mesh.links[0].dst");
    mesh("self link", sub(kMesh, "\"dst\": \"g1\"", "\"dst\": \"g0\""), "mesh.links[0].dst");
    mesh("unknown link kind", sub(kMesh, "\"kind\": \"nvlink\"", "\"kind\": \"carrier-pigeon\""), "mesh.links[0].kind");
    mesh("unknown vertex kind", sub(kMesh, "\"kind\": \"device\"", "\"kind\": \"toaster\""), "mesh.vertices[0].kind");
    mesh("duplicate vertex", sub(kMesh, "\"name\": \"g1\"", "\"name\": \"g0\""), "mesh.vertices[1].name");
    mesh("no devices", sub(sub(sub(sub(kMesh, "device\"}", "switch\"}"), "device\"}", "switch\"}"), "device\"}", "switch\"}"),
                           "device\"}", "switch\"}"),
         "mesh.vertices");
    // Two components: g0 <-> g1 and g2 <-> g3 (links are duplex by default).
    mesh("disconnected graph",
         sub(sub(kMesh, "\"src\": \"g1\", \"dst\": \"g2\"", "\"src\": \"g1\", \"dst\": \"g0\", \"duplex\": false"),
             "\"src\": \"g3\", \"dst\": \"g0\"", "\"src\": \"g3\", \"dst\": \"g2\", \"duplex\": false"),
         "mesh.links");
    mesh("unknown device kind", sub(kMesh, "\"h100\"", "\"abacus\""), "mesh.device_kind");
    mesh("efficiency above 1", sub(kMesh, "\"kind\": \"nvlink\"", "\"kind\": \"nvlink\", \"efficiency\": 1.5"),
         "mesh.links[0].efficiency");
    mesh("duplex not a boolean", sub(kMesh, "\"kind\": \"nvlink\"", "\"kind\": \"nvlink\", \"duplex\": \"yes\""),
         "mesh.links[0].duplex");
    mesh("vertex name a number", sub(kMesh, "\"name\": \"g1\"", "\"name\": 1"), "mesh.vertices[1].name");
    t.push_back({"mesh file", "mesh file does not exist", topo("{d}/absent.json"), {}, "--mesh"});
    // ---- mesh names (topology) -----------------------------------------------------
    t.push_back({"topology", "unknown mesh name", topo("tpuv9-4x4"), {}, "--mesh"});
    t.push_back({"topology", "zero chips", topo("tpuv3-0x4"), {}, "--mesh"});
    t.push_back({"topology", "empty mesh name", topo(""), {}, "--mesh"});
    t.push_back({"topology", "negative chips", topo("tpuv3--4x4"), {}, "--mesh"});
    t.push_back({"topology", "wrong dimension count", topo("tpuv4-4x4"), {}, "--mesh"});
    t.push_back({"topology", "zero GPU nodes", topo("dgx-h100-0"), {}, "--mesh"});
    t.push_back({"topology", "huge torus", topo("tpuv3-9999999x9999999"), {}, "mesh"});
    t.push_back({"topology", "huge GPU cluster", topo("dgx-h100-9999999"), {}, "mesh"});
    t.push_back({"topology", "unknown flag", {"topology", "--mesh", "tpuv3-4x4", "--frobnicate", "--out", "{d}/out.json"}, {}, "--frobnicate"});
    t.push_back({"topology", "out folder missing",
                 {"topology", "--mesh", "tpuv3-4x4", "--out", "{d}/no/such/dir/out.json"}, {}, "--out"});
    t.push_back({"topology", "unknown subcommand", {"frobnicate", "--out", "{d}/out.json"}, {}, "subcommand"});
    // ---- model file -----------------------------------------------------------
    auto mdl = [&](std::string name, std::string doc, std::string field) {
      t.push_back({"model file", std::move(name), sim({}), {{"model.json", std::move(doc)}}, std::move(field)});
    };
    mdl("not JSON", "{\"name\": \"tiny\", ", "--model");
    mdl("top level is a string", "\"tiny\"", "--model");
    mdl("name missing", sub(kModel, "\"name\": \"tiny\", ", ""), "name");
    mdl("d_model missing", sub(kModel, "\"d_model\": 64, ", ""), "d_model");
    mdl("d_model zero", sub(kModel, "\"d_model\": 64", "\"d_model\": 0"), "d_model");
    mdl("d_model negative", sub(kModel, "\"d_model\": 64", "\"d_model\": -64"), "d_model");
    mdl("d_model fractional", sub(kModel, "\"d_model\": 64", "\"d_model\": 64.5"), "d_model");
    mdl("d_model a string", sub(kModel, "\"d_model\": 64", "\"d_model\": \"64\""), "d_model");
    mdl("heads zero", sub(kModel, "\"heads\": 2", "\"heads\": 0"), "heads");
    mdl("experts negative", sub(kModel, "\"experts\": 8", "\"experts\": -8"), "experts");
    mdl("top_k above experts", sub(kModel, "\"experts\": 8", "\"experts\": 8, \"top_k\": 9"), "top_k");
    mdl("unknown ffn", sub(kModel, "\"relu\"", "\"swish\""), "ffn");
    mdl("ffn a number", sub(kModel, "\"relu\"", "7"), "ffn");
    mdl("family a number", sub(kModel, "\"name\": \"tiny\"", "\"name\": \"tiny\", \"family\": 3"), "family");
    mdl("table9 params negative", sub(kModel, "\"vocab\": 1000", "\"vocab\": 1000, \"table9\": {\"params\": -1, \"flops_per_sequence\": 1}"),
        "params");
    mdl("misspelled key", sub(kModel, "\"experts\": 8", "\"experts\": 8, \"expert_evry\": 2"),
        "--model.expert_evry: unknown key (did you mean 'expert_every'?)");
    mdl("key the format lacks", sub(kModel, "\"heads\": 2", "\"heads\": 2, \"kv_heads\": 1"), "--model.kv_heads: unknown key");
    mdl("layers and encoder_layers", sub(kModel, "\"layers\": 2", "\"layers\": 2, \"encoder_layers\": 2"), "layers");
    mdl("unknown table9 key", sub(kModel, "\"vocab\": 1000", "\"vocab\": 1000, \"table9\": {\"params\": 1, \"flops\": 1}"),
        "table9.flops: unknown key");
    mdl("catalog with empty models list", "{\"models\": []}", "models");
    mdl("huge layer count", sub(kModel, "\"layers\": 2", "\"layers\": 4000000000000000000"), "layers");
    mdl("huge expert count", sub(kModel, "\"experts\": 8", "\"experts\": 1000000000000"), "experts");
    mdl("number overflows a double", sub(kModel, "\"d_model\": 64", "\"d_model\": 1e400"), "--model");
    t.push_back({"model file", "unknown model name", sim_base({}) , {}, ""});
    t.back().args[2] = "switch-zillion";
    t.back().field = "--model";
    // ---- routing trace --------------------------------------------------------
    auto trc = [&](std::string name, std::string doc, std::string field) {
      Files f = model;
      f.emplace_back("t.json", std::move(doc));
      t.push_back({"routing trace", std::move(name), sim({"--routing", "trace:{d}/t.json"}), f, std::move(field)});
    };
    trc("not JSON", "[[1, 2", "--routing");
    trc("experts missing", sub(kTrace, "\"experts\": 8, ", ""), "experts");
    trc("misspelled key", sub(kTrace, "\"groups\"", "\"group\": [], \"groups\""), "group: unknown key (did you mean 'groups'?)");
    trc("experts zero", sub(kTrace, "\"experts\": 8", "\"experts\": 0"), "experts");
    trc("groups empty", sub(kTrace, "[[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]]", "[]"), "groups");
    trc("row too short", sub(kTrace, "[1, 2, 3, 4, 5, 6, 7, 8]", "[1, 2, 3]"), "groups[0]");
    trc("negative count", sub(kTrace, "[1, 2,", "[-1, 2,"), "groups[0][0]");
    trc("count a string", sub(kTrace, "[1, 2,", "[\"one\", 2,"), "groups[0][0]");
    trc("all-zero group", sub(kTrace, "[1, 2, 3, 4, 5, 6, 7, 8]", "[0, 0, 0, 0, 0, 0, 0, 0]"), "groups[0]");
    trc("expert count differs from the model",
        "{\"experts\": 4, \"groups\": [[1, 2, 3, 4]]}", "--routing");
    t.push_back({"routing trace", "trace file missing", sim({"--routing", "trace:{d}/absent.json"}), model, "--routing"});
    // ---- profile --------------------------------------------------------------
    auto prof = [&](std::string name, std::string doc, std::string field) {
      t.push_back({"profile", std::move(name), sim_base({"--profile", "{d}/p.json"}), {{"p.json", std::move(doc)}},
                   std::move(field)});
    };
    prof("not JSON", "{\"schema_version\": 1,", "--profile");
    prof("top level an array", "[]", "--profile");
    prof("schema version 99", sub(kProfile, "\"schema_version\": 1", "\"schema_version\": 99"), "schema_version");
    prof("schema version missing", sub(kProfile, "\"schema_version\": 1, ", ""), "schema_version");
    prof("other device kind", sub(kProfile, "\"kind\": \"tpuv3\"", "\"kind\": \"h100\""), "device.kind");
    prof("unknown profile kind", sub(kProfile, "\"kind\": \"roofline\"", "\"kind\": \"guess\""), "kind");
    prof("ceilings misspelled", sub(kProfile, "\"ceilings\"", "\"ceilingz\""), "--profile.ceilingz: unknown key (did you mean 'ceilings'?)");
    prof("unknown ceilings key", sub(kProfile, "\"launch_overhead_s\"", "\"launch_overhead\""),
         "ceilings.launch_overhead: unknown key (did you mean 'launch_overhead_s'?)");
    prof("negative memory bandwidth", sub(kProfile, "\"memory_Bps\": 4.5e11", "\"memory_Bps\": -4.5e11"), "memory_Bps");
    prof("zero matrix FLOP/s", sub(kProfile, "\"matrix_flops_per_s\": 6.15e13", "\"matrix_flops_per_s\": 0"),
         "matrix_flops_per_s");
    prof("efficiency a string", sub(kProfile, "\"matrix_efficiency\": 0.7", "\"matrix_efficiency\": \"high\""),
         "matrix_efficiency");
    prof("measured without samples array", sub(sub(kProfile, "\"kind\": \"roofline\"", "\"kind\": \"measured\""),
                                               "\"samples\": []", "\"samples\": {}"),
         "samples");
    t.push_back({"profile", "validate: profile missing",
                 {"validate", "--backend", "cpu", "--profile", "{d}/absent.json", "--out", "{d}/out.json"}, {}, "--profile"});
    t.push_back({"profile", "validate: profile not JSON",
                 {"validate", "--backend", "cpu", "--profile", "{d}/p.json", "--out", "{d}/out.json"},
                 {{"p.json", "nope"}}, "--profile"});
    // ---- result JSON (report) ---------------------------------------------------
    auto res = [&](std::string name, std::string doc, std::string field) {
      t.push_back({"result file", std::move(name), {"report", "{d}/r.json", "--out", "{d}/rep"}, {{"r.json", std::move(doc)}},
                   std::move(field)});
    };
    res("not JSON", "<html></html>", "r.json");
    res("truncated", kResult.substr(0, kResult.size() / 2), "r.json");
    res("empty", "", "r.json");
    res("top level an array", "[]", "r.json");
    res("schema_version missing", sub(kResult, "\"schema_version\": 1, ", ""), "r.json");
    res("schema_version 99", sub(kResult, "\"schema_version\": 1", "\"schema_version\": 99"), "r.json");
    res("schema_version a string", sub(kResult, "\"schema_version\": 1", "\"schema_version\": \"1\""), "r.json");
    res("not a switchsim result", sub(kResult, "\"tool\": \"switchsim\"", "\"tool\": \"other\""), "r.json");
    res("time_s a string", sub(kResult, "\"time_s\": 3.93e-05", "\"time_s\": \"fast\""), "time_s");
    res("number overflows a double", sub(kResult, "\"bytes\": 1048576.0", "\"bytes\": 1e400"), "r.json");
    res("devices missing", sub(kResult, "\"devices\": 8, ", ""), "devices");
    t.push_back({"result file", "result file missing", {"report", "{d}/absent.json", "--out", "{d}/rep"}, {}, "absent.json"});
    // ---- collective -----------------------------------------------------------
    auto col = [&](std::string name, std::vector<std::string> extra, std::string field) {
      t.push_back({"collective", std::move(name), coll(std::move(extra)), {}, std::move(field)});
    };
    col("zero bytes", {"--op", "all-to-all", "--bytes", "0"}, "--bytes");
    col("negative bytes", {"--op", "all-to-all", "--bytes", "-8MiB"}, "--bytes");
    col("NaN bytes", {"--op", "all-to-all", "--bytes", "nan"}, "--bytes");
    col("huge bytes", {"--op", "all-to-all", "--bytes", "1e400"}, "--bytes");
    col("unknown unit", {"--op", "all-to-all", "--bytes", "8furlongs"}, "--bytes");
    col("unknown op", {"--op", "all-to-some", "--bytes", "1MiB"}, "--op");
    col("unknown algorithm", {"--op", "all-to-all", "--bytes", "1MiB", "--algorithm", "telepathy"}, "--algorithm");
    col("participant not in mesh", {"--op", "all-to-all", "--bytes", "1MiB", "--participants", "0-99"}, "--participants");
    col("participant twice", {"--op", "all-to-all", "--bytes", "1MiB", "--participants", "0,1,1"}, "--participants");
    col("participants malformed", {"--op", "all-to-all", "--bytes", "1MiB", "--participants", "0-x"}, "--participants");
    col("participants empty item", {"--op", "all-to-all", "--bytes", "1MiB", "--participants", "0,,1"}, "--participants");
    col("participants huge range", {"--op", "all-to-all", "--bytes", "1MiB", "--participants", "0-999999999"},
        "--participants");
    col("unknown sharing", {"--op", "all-to-all", "--bytes", "1MiB", "--sharing", "greedy"}, "--sharing");
    col("unknown protocol", {"--op", "all-reduce", "--bytes", "1MiB", "--protocol", "ll256"}, "--protocol");
    t.push_back({"collective", "nvls with the LL protocol",
                 {"collective", "--mesh", "dgx-h100-1", "--op", "all-reduce", "--bytes", "1MiB", "--algorithm", "nvls",
                  "--protocol", "ll", "--out", "{d}/out.json"},
                 {}, "--protocol"});
    col("progress both ways", {"--op", "all-to-all", "--bytes", "1MiB", "--progress", "--no-progress"}, "--progress");
    t.push_back({"collective", "torus algorithm on a fat-tree",
                 {"collective", "--mesh", "dgx-h100-2", "--op", "all-to-all", "--bytes", "1MiB", "--algorithm",
                  "torus-dims", "--out", "{d}/out.json"},
                 {}, "--algorithm"});
    t.push_back({"collective", "trace folder missing",
                 coll({"--op", "all-reduce", "--bytes", "1MiB", "--trace", "{d}/no/such/trace.json"}), {}, "--"});
    // ---- simulate -------------------------------------------------------------
    auto sm = [&](std::string name, std::vector<std::string> extra, std::string field) {
      t.push_back({"simulate", std::move(name), sim_base(std::move(extra)), {}, std::move(field)});
    };
    sm("capacity factor zero", {"--capacity-factor", "0"}, "--capacity-factor");
    sm("network tolerance negative", {"--network-tolerance", "-0.1"}, "--network-tolerance");
    sm("network tolerance NaN", {"--network-tolerance", "nan"}, "--network-tolerance");
    sm("network tolerance above 0.5", {"--network-tolerance", "0.9"}, "--network-tolerance");
    sm("load model threshold negative", {"--load-model-above", "-5"}, "--load-model-above");
    sm("network model unknown", {"--network-model", "telepathy"}, "--network-model");
    sm("grad sync unknown", {"--grad-sync", "eventually"}, "--grad-sync");
    sm("grad sync bucket zero", {"--grad-sync", "bucketed:0"}, "--grad-sync");
    sm("grad sync bucket negative", {"--grad-sync", "bucketed:-5MiB"}, "--grad-sync");
    sm("grad sync bucket absurd", {"--grad-sync", "bucketed:999GiB"}, "--grad-sync");
    // Node- and device-limited routing, per-node dispatch (workloads/limited_routing.hpp).
    sm("max nodes on a TPU mesh", {"--max-nodes-per-token", "1"}, "--max-nodes-per-token");
    sm("max nodes zero", {"--max-nodes-per-token", "0"}, "--max-nodes-per-token");
    sm("max devices zero", {"--max-devices-per-token", "0"}, "--max-devices-per-token");
    sm("max devices above ep", {"--max-devices-per-token", "33"}, "--max-devices-per-token");
    sm("dispatch unknown", {"--dispatch", "sideways"}, "--dispatch");
    auto gpu = [&](std::string name, std::vector<std::string> extra, std::string field) {
      t.push_back({"simulate", std::move(name),
                   merged({"simulate", "--model", "switch-base", "--mesh", "dgx-h100-2", "--out", "{d}/out.json"},
                          std::move(extra)),
                   {}, std::move(field)});
    };
    gpu("max nodes above the nodes", {"--max-nodes-per-token", "3"}, "--max-nodes-per-token");
    gpu("per-node dispatch with padded buffers", {"--dispatch", "per-node"}, "--dispatch");
    sm("grad sync bucket not a number", {"--grad-sync", "bucketed:lots"}, "--grad-sync");
    sm("comm priority unknown", {"--comm-priority", "vip"}, "--comm-priority");
    sm("zero stage above 3", {"--zero", "4"}, "--zero");
    sm("zero stage negative", {"--zero", "-1"}, "--zero");
    sm("zero stage not a number", {"--zero", "full"}, "--zero");
    t.push_back({"capacity", "zero stage above 3", cap({"--zero", "7"}), {}, "--zero"});
    t.push_back({"recommend", "zero stage unknown", rec({"--zero", "most"}), {}, "--zero"});
    t.push_back({"recommend", "zero stage above 3", rec({"--zero", "4"}), {}, "--zero"});
    sm("progress both ways", {"--progress", "--no-progress"}, "--progress");
    t.push_back({"capacity", "progress both ways", cap({"--progress", "--no-progress"}), {}, "--progress"});
    t.push_back({"capacity", "network model unknown", cap({"--network-model", "both"}), {}, "--network-model"});
    t.push_back({"recommend", "network model unknown", rec({"--network-model", "both"}), {}, "--network-model"});
    t.push_back({"recommend", "grad sync bucket zero", rec({"--grad-sync", "bucketed:0"}), {}, "--grad-sync"});
    t.push_back({"recommend", "rerank zero", rec({"--rerank", "0"}), {}, "--rerank"});
    t.push_back({"recommend", "pipeline stages zero", rec({"--pp", "0"}), {}, "--pp"});
    t.push_back({"recommend", "pipeline stages not a number", rec({"--pp", "many"}), {}, "--pp"});
    t.push_back({"recommend", "pipeline schedule unknown", rec({"--pp-schedule", "zigzag"}), {}, "--pp-schedule"});
    sm("empty model name", {"--model", ""}, "--model");
    sm("capacity factor negative", {"--capacity-factor", "-1"}, "--capacity-factor");
    sm("capacity factor NaN", {"--capacity-factor", "nan"}, "--capacity-factor");
    sm("capacity factor inf", {"--capacity-factor", "inf"}, "--capacity-factor");
    sm("capacity factor not a number", {"--capacity-factor", "lots"}, "--capacity-factor");
    sm("layout does not cover the mesh", {"--layout", "dp=3"}, "--layout");
    sm("ep does not divide dp", {"--layout", "dp=32,ep=5"}, "--layout.ep");
    sm("mp does not divide heads", {"--layout", "dp=4,ep=4,mp=8"}, "--layout");
    sm("layout key unknown", {"--layout", "dp=32,xp=2"}, "--layout");
    sm("layout key twice", {"--layout", "dp=32,dp=32"}, "--layout.dp");
    sm("layout value zero", {"--layout", "dp=0"}, "--layout");
    sm("layout order malformed", {"--layout", "dp=32,ep=32,order=mp.mp.ep"}, "--layout.order");
    // Pipelines (switch-base: 12 + 12 = 24 layers; tpuv3-4x4: 32 devices).
    sm("pp larger than the layers", {"--layout", "dp=1,pp=32"}, "--layout.pp");
    sm("vpp not dividing the layers per stage", {"--layout", "dp=8,ep=8,pp=4,vpp=4"}, "--layout.vpp");
    sm("vpp without pp", {"--layout", "dp=32,ep=32,vpp=2"}, "--layout.vpp");
    sm("pp axis not outermost", {"--layout", "dp=8,ep=8,pp=4,order=mp.pp.ep.rep"}, "--layout.order");
    sm("mp and tp both given", {"--layout", "dp=32,mp=1,tp=1"}, "--layout.mp");
    // Expert tensor parallelism (folded layouts, layout.hpp).
    sm("etp not dividing tp", {"--layout", "dp=16,tp=2,ep=16,etp=3"}, "--layout.etp");
    sm("ep x etp not dividing a stage's devices", {"--layout", "dp=16,tp=2,ep=24,etp=1"}, "--layout.etp");
    sm("etp given twice", {"--layout", "dp=16,tp=2,etp=1,etp=1"}, "--layout.etp");
    sm("pipeline schedule unknown", {"--pp-schedule", "zigzag"}, "--pp-schedule");
    sm("gpipe with virtual stages", {"--layout", "dp=8,ep=8,pp=4,vpp=2", "--pp-schedule", "gpipe"}, "--pp-schedule");
    sm("interleaved micro-batches not a multiple of pp",
       {"--layout", "dp=8,ep=8,pp=4,vpp=2", "--micro-batches", "2"}, "--micro-batches");
    t.push_back({"capacity", "pipeline schedule unknown", cap({"--pp-schedule", "1b1f"}), {}, "--pp-schedule"});
    t.push_back({"recommend", "pipeline schedule unknown", rec({"--pp-schedule", "gpipe2"}), {}, "--pp-schedule"});
    sm("batch not whole sequences", {"--batch-tokens", "7"}, "--batch-tokens");
    sm("batch zero", {"--batch-tokens", "0"}, "--batch-tokens");
    sm("batch does not divide over replicas", {"--batch-tokens", "1536"}, "--batch-tokens");
    sm("routing unknown", {"--routing", "psychic"}, "--routing");
    sm("zipf negative", {"--routing", "zipf:-1"}, "--routing");
    sm("dirichlet NaN", {"--routing", "dirichlet:nan"}, "--routing");
    sm("mode unknown", {"--mode", "lossy"}, "--mode");
    sm("micro-batches zero", {"--micro-batches", "0"}, "--micro-batches");
    sm("group tokens negative", {"--group-tokens", "-5"}, "--group-tokens");
    sm("group tokens not dividing the local tokens", {"--group-tokens", "1000"}, "--group-tokens");
    sm("moe impl unknown", {"--moe-impl", "megablocks"}, "--moe-impl");
    sm("einsum in dropless mode", {"--moe-impl", "einsum", "--mode", "dropless"}, "--moe-impl");
    sm("gather in dropless mode", {"--moe-impl", "gather", "--mode", "dropless"}, "--moe-impl");
    t.push_back({"capacity", "einsum in dropless mode", cap({"--moe-impl", "einsum", "--mode", "dropless"}), {},
                 "--moe-impl"});
    t.push_back({"recommend", "moe impl unknown", rec({"--moe-impl", "tutel"}), {}, "--moe-impl"});
    sm("precision unknown", {"--precision", "fp4"}, "--precision");
    sm("fp8 on a device without FP8 (tpuv3)", {"--precision", "fp8"}, "--precision");
    sm("fp8 dispatch without fp8", {"--fp8-dispatch"}, "--fp8-dispatch");
    t.push_back({"capacity", "fp8 on a device without FP8 (tpuv3)", cap({"--precision", "fp8"}), {}, "--precision"});
    t.push_back({"recommend", "fp8 on a device without FP8 (tpuv3)", rec({"--precision", "fp8"}), {}, "--precision"});
    sm("optimizer unknown", {"--optimizer", "sgd"}, "--optimizer");
    sm("trace devices negative", {"--trace", "{d}/trace.json", "--trace-devices", "-1"}, "--trace-devices");
    sm("profile of another device", {"--profile", SWITCHSIM_SOURCE_DIR "/data/profiles/h100-roofline.json"},
       "--profile");
    t.push_back({"simulate", "mesh missing", {"simulate", "--model", "switch-base", "--out", "{d}/out.json"}, {}, "--mesh"});
    // ---- capacity -------------------------------------------------------------
    auto cp = [&](std::string name, std::vector<std::string> extra, std::string field) {
      t.push_back({"capacity", std::move(name), cap(std::move(extra)), {}, std::move(field)});
    };
    cp("factor not a number", {"--factors", "1,x"}, "--factors");
    cp("factors empty", {"--factors", ""}, "--factors");
    cp("factor zero", {"--factors", "0,1"}, "--factors");
    cp("factor negative", {"--factors", "1,-2"}, "--factors");
    cp("samples zero", {"--samples", "0"}, "--samples");
    cp("factors with dropless mode", {"--mode", "dropless", "--factors", "1,2"}, "--factors: dropless mode has no capacity factor");
    cp("factor NaN", {"--factors", "1,nan"}, "--factors");
    cp("samples negative", {"--samples", "-3"}, "--samples");
    cp("layout inconsistent", {"--layout", "dp=16,mp=4"}, "--layout");
    // ---- recommend ------------------------------------------------------------
    auto rc = [&](std::string name, std::vector<std::string> extra, std::string field) {
      t.push_back({"recommend", std::move(name), rec(std::move(extra)), {}, std::move(field)});
    };
    rc("top zero", {"--top", "0"}, "--top");
    rc("max drop above 1", {"--max-drop", "2"}, "--max-drop");
    rc("max drop NaN", {"--max-drop", "nan"}, "--max-drop");
    rc("objective unknown", {"--objective", "vibes"}, "--objective");
    rc("memory headroom zero", {"--memory-headroom", "0"}, "--memory-headroom");
    rc("samples zero", {"--samples", "0"}, "--samples");
    rc("factors malformed", {"--factors", "1,,2"}, "--factors");
    rc("unknown model", {"--model", "switch-zillion"}, "--model");
    rc("unknown mesh", {"--mesh", "tpuv9-4x4"}, "--mesh");
    rc("routing malformed", {"--routing", "zipf:"}, "--routing");
    rc("threads negative", {"--threads", "-1"}, "--threads");
    rc("progress both ways", {"--progress", "--no-progress"}, "--progress");
    // ---- calibrate, validate, list ----------------------------------------------
    t.push_back({"calibrate", "unknown backend", {"calibrate", "--backend", "abacus", "--out", "{d}/out.json"}, {}, "--backend"});
    t.push_back({"calibrate", "roofline of an unknown device",
                 {"calibrate", "--backend", "roofline", "--device", "abacus", "--out", "{d}/out.json"}, {}, "device"});
    t.push_back({"validate", "negative --max-mape",
                 {"validate", "--backend", "cpu", "--profile", SWITCHSIM_SOURCE_DIR "/data/profiles/h100-roofline.json",
                  "--max-mape", "-1", "--out", "{d}/out.json"},
                 {}, "--max-mape"});
    t.push_back({"validate", "unknown backend",
                 {"validate", "--backend", "abacus", "--profile", SWITCHSIM_SOURCE_DIR "/data/profiles/h100-roofline.json",
                  "--out", "{d}/out.json"},
                 {}, "--backend"});
    t.push_back({"calibrate", "negative BLAS threads",
                 {"calibrate", "--backend", "cpu", "--quick", "--blas-threads", "-1", "--out", "{d}/out.json"}, {},
                 "--blas-threads"});
    t.push_back({"list", "unknown kind", {"list", "gizmos"}, {}, "kind"});
    // ---- fidelity: one bad measurement file each (the file and the field on the one line) ----
    {
      const std::string src = R"("schema_version": 1, "source": {"citation": "c", "url": "u", "accessed": "2026-12-06"})";
      const std::string good = R"({"id": "x", "description": "d", "location": "l", "as_published": "p",
        "kind": "collective", "config": {"mesh": "dgx-h100-1", "op": "all-reduce", "bytes": 1e6},
        "measured": {"unit": "busbw_GBps", "value": 100}})";
      const std::string base = "{" + src + R"(, "cases": [)" + good + "]}";
      const std::vector<std::string> args = {"fidelity", "--registry", "{d}/m.json", "--out", "{d}/out.json"};
      auto fid = [&](std::string name, std::string doc, std::string field) {
        t.push_back({"fidelity", std::move(name), args, {{"m.json", std::move(doc)}}, std::move(field)});
      };
      fid("not JSON", "{", "m.json");
      fid("source missing", "{" + sub(src, R"(, "source": {"citation": "c", "url": "u", "accessed": "2026-12-06"})", "") +
          R"(, "cases": [)" + good + "]}", "m.json: source");
      fid("cases empty", "{" + src + R"(, "cases": []})", "m.json: cases");
      fid("measured missing", sub(base, R"("measured": {"unit": "busbw_GBps", "value": 100})", R"("unknowns": "none")"),
          "m.json: cases[0].measured: missing");
      fid("measured misspelled", sub(base, R"("measured": {"unit": "busbw_GBps", "value": 100})", R"("measure": 100)"),
          "m.json: cases[0].measure: unknown key (did you mean 'measured'?)");
      fid("measured key unknown", sub(base, R"("value": 100)", R"("valeu": 100)"),
          "m.json: cases[0].measured.valeu: unknown key (did you mean 'value'?)");
      fid("source key unknown", sub(base, R"("accessed")", R"("accesed")"),
          "m.json: source.accesed: unknown key (did you mean 'accessed'?)");
      fid("top-level key unknown", sub(base, R"("cases")", R"("notse": "", "cases")"),
          "m.json: notse: unknown key (did you mean 'notes'?)");
      fid("unit unknown", sub(base, "busbw_GBps", "GB/s"), "m.json: cases[0].measured.unit");
      fid("unit of another kind", sub(base, "busbw_GBps", "tokens_per_s"), "m.json: cases[0].measured.unit");
      fid("value negative", sub(base, R"("value": 100)", R"("value": -1)"), "m.json: cases[0].measured.value");
      fid("value and range", sub(base, R"("value": 100)", R"("value": 100, "low": 1, "high": 2)"),
          "m.json: cases[0].measured.value");
      fid("kind unknown", sub(base, R"("kind": "collective")", R"("kind": "vibes")"), "m.json: cases[0].kind");
      fid("config key unknown", sub(base, R"("op": "all-reduce")", R"("op": "all-reduce", "colour": "red")"),
          "m.json: x: config.colour");
      fid("mesh the simulator rejects", sub(base, "dgx-h100-1", "tpuv9-4x4"), "m.json: x: config.mesh");
      fid("op the simulator rejects", sub(base, "all-reduce", "all-to-some"), "m.json: x: config.op");
      fid("protocol the simulator rejects", sub(base, R"("op": "all-reduce")", R"("op": "all-reduce", "protocol": "ll256")"),
          "m.json: x: config.protocol");
      const std::string step = sub(sub(base, R"({"mesh": "dgx-h100-1", "op": "all-reduce", "bytes": 1e6})",
                                           R"({"model": "switch-base", "mesh": "tpuv3-2x2", "layout": "dp=3"})"),
                                       R"("kind": "collective")", R"("kind": "step")");
      fid("step layout the simulator rejects", sub(step, "busbw_GBps", "step_time_s"), "m.json: x: config.layout");
      t.push_back({"fidelity", "registry missing", {"fidelity", "--registry", "{d}/absent", "--out", "{d}/out.json"}, {},
                   "absent: --registry"});
      t.push_back({"fidelity", "max-mape negative", merged(args, {"--max-mape", "-1"}), {{"m.json", base}}, "--max-mape"});
    }
    return t;
  }();
  return table;
}

std::string expand(const std::string& arg, const std::string& dir) {
  std::string s = arg;
  for (auto at = s.find("{d}"); at != std::string::npos; at = s.find("{d}")) s.replace(at, 3, dir);
  return s;
}

void run_case(const Case& c, std::size_t index) {
  INFO("case: " << c.group << " / " << c.name);
  ScratchDir scratch("switchsim-badinput-");
  const std::string dir = scratch.path().string();
  for (const auto& [file, content] : c.files) switchsim::testing::write_text(scratch.path() / file, content);
  std::vector<std::string> args;
  bool writes_out_json = false;
  for (const auto& a : c.args) {
    args.push_back(expand(a, dir));
    writes_out_json = writes_out_json || a == "{d}/out.json";
  }
  // Every other case starts with an existing --out target that must stay untouched;
  // the others must not create it.
  if (writes_out_json && index % 2 == 0) {
    switchsim::testing::write_text(scratch.path() / "out.json", "SENTINEL: must not change\n");
  }
  const auto before = switchsim::testing::snapshot(scratch.path());
  std::string shown;
  for (const auto& a : args) shown += a + " ";
  INFO("switchsim " << shown);

  const CliRun run = switchsim::testing::run_cli(args, scratch.path());
  INFO("stderr: " << run.err);
  CHECK(run.status == 2);
  // Exactly one line: one newline, at the end.
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  CHECK((!run.err.empty() && run.err.back() == '\n'));
  CHECK(run.err.find(c.field) != std::string::npos);
  CHECK(run.err.find("internal error") == std::string::npos);
  CHECK(switchsim::testing::snapshot(scratch.path()) == before);
}

void run_group(const std::string& group) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < cases().size(); ++i) {
    if (cases()[i].group != group) continue;
    run_case(cases()[i], i);
    ++count;
  }
  CHECK(count > 0);
}

}  // namespace

TEST_CASE("bad input: mesh files", "[reliability][bad-input]") { run_group("mesh file"); }
TEST_CASE("bad input: topology and mesh names", "[reliability][bad-input]") { run_group("topology"); }
TEST_CASE("bad input: model files", "[reliability][bad-input]") { run_group("model file"); }
TEST_CASE("bad input: routing traces", "[reliability][bad-input]") { run_group("routing trace"); }
TEST_CASE("bad input: profiles", "[reliability][bad-input]") { run_group("profile"); }
TEST_CASE("bad input: result files for report", "[reliability][bad-input]") { run_group("result file"); }
TEST_CASE("bad input: collective", "[reliability][bad-input]") { run_group("collective"); }
TEST_CASE("bad input: simulate", "[reliability][bad-input]") { run_group("simulate"); }
TEST_CASE("bad input: capacity", "[reliability][bad-input]") { run_group("capacity"); }
TEST_CASE("bad input: recommend", "[reliability][bad-input]") { run_group("recommend"); }
TEST_CASE("bad input: fidelity measurement files", "[reliability][bad-input]") { run_group("fidelity"); }
TEST_CASE("bad input: calibrate, validate, list", "[reliability][bad-input]") {
  run_group("calibrate");
  run_group("validate");
  run_group("list");
}

TEST_CASE("bad input: the matrix covers every subcommand and file kind", "[reliability][bad-input]") {
  // 11 groups above; a group left empty by an edit would silently test nothing.
  const std::vector<std::string> groups = {"mesh file", "topology", "model file", "routing trace", "profile",
                                           "result file", "collective", "simulate", "capacity", "recommend",
                                           "calibrate", "validate", "list", "fidelity"};
  for (const auto& g : groups) {
    INFO(g);
    CHECK(std::count_if(cases().begin(), cases().end(), [&](const Case& c) { return c.group == g; }) > 0);
  }
  // The number recorded in bench/RESULTS.md.
  WARN("bad-input cases: " << cases().size());
}
