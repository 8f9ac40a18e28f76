#include "planner/recommend_request.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "planner/candidates.hpp"
#include "planner/pipeline_search.hpp"
#include "workloads/fp8.hpp"
#include "workloads/moe_impl.hpp"
#include "workloads/routing.hpp"
#include "workloads/simulate.hpp"
#include "workloads/training.hpp"

namespace switchsim::planner {

std::string flag_name(const std::string& key) {
  std::string flag = "--";
  flag += key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

SearchOptions search_options(const RecommendRequest& r, const FieldName& field) {
  if (r.samples <= 0) throw InputError(field("samples"), "must be positive");
  if (r.top <= 0) throw InputError(field("top"), "must be positive");
  if (r.batch_tokens <= 0) throw InputError(field("batch_tokens"), "must be positive");
  if (r.group_tokens < 0) throw InputError(field("group_tokens"), "must be positive (or 0 for the local batch)");
  if (r.rerank <= 0) throw InputError(field("rerank"), "must be positive");
  SearchOptions so;
  so.objective = parse_objective(r.objective, field("objective"));
  so.enumeration.factors = workloads::parse_factors(r.factors, field("factors"));
  so.enumeration.dropless = !r.no_dropless;
  so.enumeration.memory_headroom = r.memory_headroom;
  so.enumeration.max_micro_batches = r.max_micro_batches;
  workloads::TrainingSetup& t = so.enumeration.training;
  t.batch_tokens = r.batch_tokens;
  t.group_tokens = r.group_tokens;
  t.moe_impl = workloads::parse_moe_impl(r.moe_impl, field("moe_impl"));
  t.precision = workloads::parse_precision(r.precision, field("precision"));
  t.fp8_dispatch = r.fp8_dispatch;
  t.optimizer = workloads::parse_optimizer(r.optimizer, field("optimizer"));
  t.rematerialize = r.remat;
  so.enumeration.zero = parse_zero_search(r.zero, field("zero"));
  so.enumeration.pp = parse_pp_search(r.pp, field("pp"));
  so.enumeration.pp_schedule = parse_schedule_search(r.pp_schedule, field("pp_schedule"));
  so.enumeration.etp = parse_etp_search(r.etp, field("etp"));
  so.routing = workloads::parse_routing(r.routing, field("routing"));
  so.samples = r.samples;
  so.seed = r.seed;
  so.max_drop = r.max_drop;
  so.top = r.top;
  so.prune = !r.exhaustive;
  so.network_tolerance = r.network_tolerance;
  so.load_model_above_devices = r.load_model_above;
  so.network_model = workloads::parse_network_model(r.network_model, field("network_model"));
  so.strict_priority = workloads::parse_comm_priority(r.comm_priority, field("comm_priority"));
  so.rerank = r.rerank;
  return so;
}

void for_mesh(SearchOptions& so, const RecommendRequest& r, const topology::Mesh& mesh, const FieldName& field) {
  if (mesh.topology.num_devices() <= 0) throw InputError(field("mesh"), "has no devices");
  workloads::validate_precision(so.enumeration.training, mesh.device_kind, !r.profile.empty());
  so.enumeration.training.grad_sync = workloads::parse_grad_sync(r.grad_sync, mesh.is_tpu(), field("grad_sync"));
}

}  // namespace switchsim::planner
