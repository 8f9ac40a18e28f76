#pragma once
// A planner candidate's lower bound and its simulated step (the isolated network, as the search
// simulates it): the pair the bound tests compare, bound <= simulated step.
#include "planner/bounds.hpp"
#include "planner/candidates.hpp"
#include "workloads/simulate.hpp"

namespace switchsim::planner::test {

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
