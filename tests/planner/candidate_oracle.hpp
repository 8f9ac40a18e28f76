#pragma once
// A planner candidate's lower bound and its simulated step (the isolated network, as the search
// simulates it): the pair the bound tests compare, bound <= simulated step.
#include <memory>
#include <string>

#include "planner/bounds.hpp"
#include "planner/candidates.hpp"
#include "topology/mesh_catalog.hpp"
#include "workloads/device_ceilings.hpp"
#include "workloads/model_catalog.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::planner::test {

// What a bound test needs of a catalog model on a catalog mesh: the mesh's default cost model, its
// cuts and one collective cache (which points at the mesh: the fixture does not move).
struct BoundFixture {
  BoundFixture(const std::string& model_name, const std::string& mesh_name)
      : model(workloads::load_model(model_name)),
        mesh(topology::build_mesh(mesh_name)),
        cost(workloads::make_cost_model(mesh.device_kind, "")),
        cuts(compute_mesh_cuts(mesh)),
        cache(mesh) {}
  BoundFixture(const BoundFixture&) = delete;
  BoundFixture& operator=(const BoundFixture&) = delete;
  workloads::Model model;
  topology::Mesh mesh;
  std::unique_ptr<kernels::CostModel> cost;
  MeshCuts cuts;
  sim::CollectiveCache cache;
};

inline StepBound candidate_bound(const workloads::Model& m, const workloads::TrainingSetup& training, const Candidate& c,
                                 const kernels::CostModel& cost, const MeshCuts& cuts, sim::CollectiveCache* cache) {
  const workloads::TrainingSetup setup = candidate_setup(training, c);
  const workloads::StepShape shape = workloads::derive_step_shape(setup, m, c.layout);
  return step_lower_bound(m, c.layout, setup, shape, c.capacity_factor, c.mode, cost, cuts, cache);
}

inline workloads::StepResult simulate_candidate(const workloads::Model& m, const topology::Mesh& mesh,
                                                const workloads::TrainingSetup& training, const Candidate& c,
                                                const kernels::CostModel& cost, sim::CollectiveCache* cache) {
  workloads::StepOptions so;
  so.training = candidate_setup(training, c);
  so.capacity_factor = c.mode == workloads::ExecutionMode::dropless ? 1.0 : c.capacity_factor;
  so.mode = c.mode;
  so.cache = cache;
  so.network_model = workloads::NetworkModel::isolated;
  return workloads::simulate_step(m, mesh, c.layout, so, cost);
}

}  // namespace switchsim::planner::test
