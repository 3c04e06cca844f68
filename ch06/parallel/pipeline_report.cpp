#include "ch06/parallel/pipeline_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/plot.hpp"
#include "common/run.hpp"

namespace ds::ch06 {

// The measured lanes and the simulated ones interleaved: rank r measured above rank r simulated.
Gantt measured_beside_simulated(const Schedule& s, const Timeline& measured, const Timeline& simulated, const std::string& title) {
  Gantt m = timeline_gantt(s, measured, title), p = timeline_gantt(s, simulated, title);
  Gantt g = m;
  g.lanes.clear();
  g.boxes.clear();
  for (size_t r = 0; r < m.lanes.size(); ++r) {
    g.lanes.push_back(m.lanes[r] + ", measured");
    g.lanes.push_back(m.lanes[r] + ", simulated");
  }
  for (GanttBox b : m.boxes) {
    b.lane *= 2;
    g.boxes.push_back(b);
  }
  for (GanttBox b : p.boxes) {
    b.lane = 2 * b.lane + 1;
    g.boxes.push_back(b);
  }
  g.xlabel = "time (ms)";
  g.width = 1400;
  return g;
}

double report_schedules(const std::vector<ScheduleResult>& results, int processes, int ep, RunReport& report,
                        const std::string& placement) {
  // Every schedule against the simulator, and the losses against each other.
  std::printf("\nThe last step of each schedule, measured (%s) and predicted by the simulator from this run's op durations:\n",
              placement.c_str());
  Table t({"schedule", "ranks", "measured makespan", "predicted", "busiest rank's bubble", "predicted", "peak live MB per rank", "final loss"});
  BarChart mk{"Step time: measured vs simulated from measured op durations", "schedule", "makespan of the last step (ms)", {}, {}};
  BarChart bb{"Bubble of the busiest rank: measured vs simulated", "schedule", "idle time in the last step (ms)", {}, {}};
  BarChart pk{"Peak live tensor memory per rank during a step", "schedule", "MB above the step's start", {}, {}};
  Series m1{"measured", {}, {}}, p1{"simulated", {}, {}}, m2{"measured", {}, {}}, p2{"simulated", {}, {}};
  std::vector<Series> ranks(static_cast<size_t>(processes));
  for (int r = 0; r < processes; ++r)
    ranks[static_cast<size_t>(r)].name = ep > 1 ? fmt("process %d (PP %d, EP %d)", r, r / ep, r % ep) : "rank " + std::to_string(r);
  LineChart losses{"Training loss of every schedule (identical up to float rounding)", "step", "loss (main + MTP + balance)", {}};
  double spread = 0;
  for (const ScheduleResult& r : results) {
    std::string peaks;
    for (double p : r.peak_mb) peaks += (peaks.empty() ? "" : " / ") + fmt("%.1f", p);
    t.row({r.title, std::to_string(r.peak_mb.size()), fmt("%.0f ms", r.measured_makespan), fmt("%.0f ms", r.predicted_makespan),
           fmt("%.0f ms", r.measured_bubble), fmt("%.0f ms", r.predicted_bubble), peaks, fmt("%.5f", r.loss.back())});
    mk.categories.push_back(r.title);
    bb.categories.push_back(r.title);
    pk.categories.push_back(r.title);
    m1.y.push_back(r.measured_makespan);
    p1.y.push_back(r.predicted_makespan);
    m2.y.push_back(r.measured_bubble);
    p2.y.push_back(r.predicted_bubble);
    for (size_t i = 0; i < ranks.size(); ++i) ranks[i].y.push_back(r.peak_mb[i]);
    Series ls{r.title, {}, r.loss};
    for (size_t i = 0; i < r.loss.size(); ++i) ls.x.push_back(static_cast<double>(i + 1));
    losses.series.push_back(ls);
    for (size_t i = 0; i < r.loss.size(); ++i) spread = std::max(spread, std::abs(r.loss[i] - results[0].loss[i]));
  }
  t.print();
  std::printf("\nlargest difference between two schedules' losses at the same step: %.2g\n", spread);
  mk.series = {m1, p1};
  bb.series = {m2, p2};
  pk.series = ranks;
  mk.caption = "The simulator replays each op list with the op durations measured on this run: where the bars differ, the ranks "
               "waited on things the model leaves out (two ranks sharing cores with other processes, MPI progress, allocation).";
  bb.caption = "Idle time of the busiest rank during the last step: the bubble, measured from the recorded op spans and predicted.";
  pk.caption = "The highest live tensor memory a rank reached during a step, above what it held before (weights, gradients, moments): "
               "GPipe keeps all M micro-batches' activations, 1F1B and ZB1P at most PP.";
  losses.caption = "Every schedule computes the same gradient of the same batch, so the curves lie on each other.";
  report.plot("makespan.svg", mk);
  report.plot("bubble.svg", bb);
  report.plot("memory_peak.svg", pk);
  report.plot("loss.svg", losses);
  return spread;
}

void report_ep_step(const std::vector<ScheduleResult>& results, int pp_ranks, int ep, int64_t steps, RunReport& report,
                    const std::string& placement) {
  // The step measured on PP x EP processes beside the simulator fed with this run's chunks.
  std::printf("\nPP %d x EP %d: the step measured (median of steps 2..%lld, %s) and simulated from the same steps' medians of F, B, "
              "W and F&B. DualPipe(V) alternate: odd steps run F&B as a forward, then a backward; even steps (\"F&B overlapped\") "
              "interleave the two halves at the expert all-to-alls. The last column takes the all-to-all time measured inside the "
              "in-sequence F&B off the chunk (never below max(F, B)):\n",
              pp_ranks, ep, (long long)steps, placement.c_str());
  Table e({"schedule", "F / B / W / F&B ms", "all-to-all in F / B / F&B ms", "measured step", "simulated from these chunks",
           "simulated, F&B's all-to-all hidden"});
  BarChart ec{fmt("PP %d x EP %d: measured step vs the simulator's prediction from measured chunks", pp_ranks, ep), "schedule",
              "step time (ms)", {}, {}};
  Series em{"measured (median of steps)", {}, {}}, es{"simulated from the run's F, B, W, F&B", {}, {}},
      eh{"simulated, F&B's all-to-all hidden", {}, {}};
  for (const ScheduleResult& r : results) {
    e.row({r.title, fmt("%.1f / %.1f / %.1f / %.1f", r.d.F, r.d.B, r.d.W, r.d.FB), fmt("%.1f / %.1f / %.1f", r.a2a_f, r.a2a_b, r.a2a_fb),
           fmt("%.0f ms", r.median_makespan), fmt("%.0f ms", r.predicted_makespan), fmt("%.0f ms", r.hidden_makespan)});
    ec.categories.push_back(r.title);
    em.y.push_back(std::round(r.median_makespan));   // whole ms: the labels stay apart
    es.y.push_back(std::round(r.predicted_makespan));
    eh.y.push_back(std::round(r.hidden_makespan));
  }
  e.print();
  ec.series = {em, es, eh};
  ec.caption = fmt("%s (compute shares the cores and the all-to-alls "
                   "are shared-memory copies). Simulated: the same op lists replayed with each run's median op durations; the third bar "
                   "takes the all-to-all time measured inside the in-sequence F&B off the chunk (never below max(F, B)), which only "
                   "schedules with F&B chunks (DualPipe, DualPipeV) can gain; \"F&B overlapped\": the same run's even steps, whose F&B "
                   "halves really interleave.",
                   placement.c_str());
  report.plot("ep_step.svg", ec);
}

}  // namespace ds::ch06
