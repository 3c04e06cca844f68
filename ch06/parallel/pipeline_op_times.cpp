#include "ch06/parallel/pipeline_op_times.hpp"

#include <algorithm>

#include "common/mpi.hpp"

namespace ds::ch06 {

void OpTimes::add(const Op& op, double t, double all_to_all) {
  const int k = op.kind == OpKind::F ? 0 : op.kind == OpKind::B ? (op.split ? 2 : 1) : op.kind == OpKind::W ? 3 : (op.split ? 5 : 4);
  ms[k].push_back(t);
  a2a[k].push_back(all_to_all);
}

void OpTimes::gather() {
  for (int i = 0; i < 12; ++i) {
    std::vector<double>& v = i < 6 ? ms[i] : a2a[i - 6];
    std::vector<double> all;
    for (int r = 0; r < mpi::size(); ++r) {
      std::vector<double> len = {r == mpi::rank() ? static_cast<double>(v.size()) : 0.0};
      mpi::allreduce_sum(len);
      std::vector<double> part(static_cast<size_t>(len[0]), 0.0);
      if (r == mpi::rank()) part = v;
      mpi::allreduce_sum(part);
      all.insert(all.end(), part.begin(), part.end());
    }
    v = all;
  }
}

double OpTimes::median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

Durations OpTimes::durations(double latency) const {
  Durations d;
  d.F = median(0);
  d.W = median(3);
  d.B = !ms[1].empty() ? median(1) : !ms[2].empty() ? median(2) + d.W : d.F;
  // A measured F&B outside [max(F, B), F + B] (timing noise) is held to the nearest bound the
  // simulator accepts: on one core the two halves run one after the other anyway.
  const double fb = !ms[4].empty() ? median(4) : !ms[5].empty() ? median(5) + d.W : d.F + d.B;
  d.FB = std::clamp(fb, std::max(d.F, d.B), d.F + d.B);
  d.latency = latency;
  return d;
}

Durations OpTimes::hidden(double latency) const {
  Durations d = durations(latency);
  const int k = !ms[4].empty() ? 4 : 5;
  std::vector<double> compute;   // each F&B's time outside the all-to-alls
  for (size_t i = 0; i < ms[k].size(); ++i) compute.push_back(ms[k][i] - a2a[k][i]);
  const double fb = compute.empty() ? d.F + d.B - a2a_f() - a2a_b() : median_of(compute) + (k == 5 ? d.W : 0.0);
  d.FB = std::clamp(fb, std::max(d.F, d.B), d.F + d.B);
  return d;
}

bool has_fb(const Schedule& s) {
  for (const RankProgram& p : s.programs)
    for (const Op& op : p.ops)
      if (op.kind == OpKind::FB) return true;
  return false;
}

}  // namespace ds::ch06
