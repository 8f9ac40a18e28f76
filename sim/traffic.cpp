#include "sim/traffic.hpp"

#include <cstddef>
#include <vector>

#include "common/errors.hpp"

namespace switchsim::sim {

ByteMatrix all_to_all_traffic(const OpGraph& graph) {
  const std::int32_t n_dev = graph.num_devices();
  const auto n = static_cast<std::size_t>(n_dev);
  std::vector<double> total(n * n, 0.0);
  for (OpId id = 0; id < graph.num_ops(); ++id) {
    const Op& op = graph.op(id);
    if (op.type != OpType::collective || op.collective != CollectiveOp::all_to_all || op.point_to_point) continue;
    const auto& groups = graph.partition(op.partition);
    SWITCHSIM_ASSERT(op.matrices.empty() || op.matrices.size() == groups.size(), "one byte matrix per group");
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const auto& members = groups[g];
      const std::size_t m = members.size();
      const ByteMatrix* matrix = op.matrices.empty() ? nullptr : op.matrices[g].get();
      SWITCHSIM_ASSERT(matrix == nullptr || static_cast<std::size_t>(matrix->n()) == m, "byte matrix size != group size");
      const double share = op.bytes_per_device / static_cast<double>(m);
      for (std::size_t i = 0; i < m; ++i) {
        const auto row = static_cast<std::size_t>(members[i]) * n;
        if (matrix != nullptr) {
          for (const ByteMatrix::Entry& e : matrix->row(static_cast<std::int32_t>(i))) {
            const auto j = static_cast<std::size_t>(e.col);
            if (j != i) total[row + static_cast<std::size_t>(members[j])] += e.bytes;  // the diagonal is kept locally
          }
        } else {
          for (std::size_t j = 0; j < m; ++j)
            if (j != i) total[row + static_cast<std::size_t>(members[j])] += share;
        }
      }
    }
  }
  return ByteMatrix::from_dense(n_dev, total);
}

}  // namespace switchsim::sim
