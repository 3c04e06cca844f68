// Op durations measured on a pipeline run (ms), by kind, from every rank, turned into the
// durations the simulator (pipeline_sim.hpp) replays a schedule with. Medians, since a rank that
// shares its core with other processes now and then takes far longer for one op.
#pragma once

#include <vector>

#include "ch06/parallel/pipeline_schedule.hpp"
#include "ch06/parallel/pipeline_sim.hpp"

namespace ds::ch06 {

struct OpTimes {
  std::vector<double> ms[6];    // F, B full, B split, W, F&B full, F&B split
  std::vector<double> a2a[6];   // of which in expert all-to-alls (with --ep)

  void add(const Op& op, double t, double all_to_all);
  // Every rank's samples on every rank (collective: all ranks call it).
  void gather();
  static double median_of(std::vector<double> v);
  double median(int k) const { return median_of(ms[k]); }
  // The median all-to-all time inside an F, a B (full or split) and an F&B.
  double a2a_f() const { return median_of(a2a[0]); }
  double a2a_b() const { return median_of(!a2a[1].empty() ? a2a[1] : a2a[2]); }
  double a2a_fb() const { return median_of(!a2a[4].empty() ? a2a[4] : a2a[5]); }
  // V3 Table 2's F, B (full), W and F&B from them: a split B took B - W, a split F&B took F&B - W.
  Durations durations(double latency) const;
  // The same durations with every all-to-all of an F&B chunk hidden behind the other half's
  // compute, as V3's overlap aims for (never below max(F, B)).
  Durations hidden(double latency) const;
};

// Whether any rank's op list has an F&B chunk (DualPipe, DualPipeV).
bool has_fb(const Schedule& s);

}  // namespace ds::ch06
