#include <catch2/catch.hpp>

#include "helpers.hpp"

#include <set>

#include "common/errors.hpp"
#include "workloads/layout.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/training.hpp"

using namespace switchsim;
using namespace switchsim::workloads;
using switchsim::workloads::test::field_of;

TEST_CASE("layout text parses, defaults and round-trips", "[layout]") {
  const Layout l = parse_layout("dp=32,ep=8,mp=2");
  CHECK(l.dp == 32);
  CHECK(l.ep == 8);
  CHECK(l.mp == 2);
  CHECK(l.replicas() == 4);
  CHECK(l.devices() == 64);
  CHECK(l.to_string() == "dp=32,ep=8,mp=2,order=mp.ep.rep");
  CHECK(parse_layout(l.to_string()).to_string() == l.to_string());
  const Layout d = parse_layout("dp=4");
  CHECK(d.ep == 1);
  CHECK(d.mp == 1);
}

TEST_CASE("layout parse errors name the field", "[layout]") {
  CHECK(field_of([] { (void)parse_layout("ep=2,mp=1"); }) == "--layout.dp");
  CHECK(field_of([] { (void)parse_layout("dp=x"); }) == "--layout.dp");
  CHECK(field_of([] { (void)parse_layout("dp=8,ep=3"); }) == "--layout.ep");
  CHECK(field_of([] { (void)parse_layout("dp=8,mp=0"); }) == "--layout.mp");
  CHECK(field_of([] { (void)parse_layout("dp=8,order=mp.ep"); }) == "--layout.order");
  CHECK(field_of([] { (void)parse_layout("dp=8,order=mp.mp.rep"); }) == "--layout.order");
  CHECK(field_of([] { (void)parse_layout("dp=8,zz=1"); }) == "--layout");
  CHECK(field_of([] { (void)parse_layout("dp=8,dp=4"); }) == "--layout.dp");
}

TEST_CASE("layout must divide the devices, the experts, the heads", "[layout]") {
  const Model sw = load_model("switch-base");  // 128 experts, 12 heads, d_ff 2048
  CHECK(field_of([&] { validate_layout(parse_layout("dp=16,ep=16"), sw, 32); }) == "--layout");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=192,ep=192"), sw, 192); }) == "--layout.ep");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=4,mp=8"), sw, 32); }) == "--layout.mp");
  CHECK(field_of([&] { validate_layout(parse_layout("dp=32,ep=2"), load_model("t5-base"), 32); }) == "--layout.ep");
  CHECK_NOTHROW(validate_layout(parse_layout("dp=16,ep=16,mp=2"), sw, 32));
}

TEST_CASE("axis order maps logical coordinates onto device ids", "[layout]") {
  // dp=4, ep=2 (rep=2), mp=2. Default order mp.ep.rep: id = m + 2*e + 4*rep.
  const Layout l = parse_layout("dp=4,ep=2,mp=2");
  CHECK(l.device(0, 0, 1) == 1);
  CHECK(l.device(0, 1, 0) == 2);
  CHECK(l.device(1, 0, 0) == 4);
  // order rep.ep.mp: id = rep + 2*e + 4*m.
  const Layout r = parse_layout("dp=4,ep=2,mp=2,order=rep.ep.mp");
  CHECK(r.device(1, 0, 0) == 1);
  CHECK(r.device(0, 0, 1) == 4);
  // Each set of groups partitions the 8 devices.
  for (const auto& groups : {l.mp_groups(), l.ep_groups(), l.dp_groups(), l.expert_replica_groups()}) {
    std::set<int> seen;
    for (const auto& g : groups)
      for (int d : g) CHECK(seen.insert(d).second);
    CHECK(seen.size() == 8);
  }
  CHECK(l.ep_groups().size() == 4);  // rep x mp groups of ep = 2
  CHECK(l.dp_groups().front().size() == 4);
}

TEST_CASE("training shape: the batch must divide over dp and micro-batches", "[training]") {
  const Model m = load_model("switch-base");
  TrainingSetup t;  // 2^20 tokens = 2048 sequences of 512
  StepShape s = derive_step_shape(t, m, parse_layout("dp=32,ep=32"));
  CHECK(s.sequences == 2048);
  CHECK(s.local_tokens == 32768);     // 64 sequences x 512
  CHECK(s.group_tokens == 32768);     // default: one device's local batch
  CHECK(s.local_decoder_tokens == 64 * 114);
  t.micro_batches = 4;
  t.group_tokens = 1024;
  s = derive_step_shape(t, m, parse_layout("dp=32,ep=32"));
  CHECK(s.local_tokens == 8192);
  CHECK(s.groups_per_device == 8);
  t = TrainingSetup{};
  t.batch_tokens = 512 * 100;  // 100 sequences over dp = 32
  CHECK(field_of([&] { (void)derive_step_shape(t, m, parse_layout("dp=32")); }) == "--batch-tokens");
  t.batch_tokens = 1000;  // not whole sequences
  CHECK(field_of([&] { (void)derive_step_shape(t, m, parse_layout("dp=1")); }) == "--batch-tokens");
  t = TrainingSetup{};
  t.group_tokens = 1000;
  CHECK(field_of([&] { (void)derive_step_shape(t, m, parse_layout("dp=32")); }) == "--group-tokens");
}
