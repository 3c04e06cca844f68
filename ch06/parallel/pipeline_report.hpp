// What ch06_pipeline_train prints and draws once every schedule has run: the measured step of
// each beside the simulator's replay of its op lists (pipeline_sim.hpp), the bubbles, the peak
// memory per rank, the losses, and with expert parallelism the PP x EP step with and without
// F&B's all-to-alls hidden. Rank 0 calls these with the results gathered from all ranks.
#pragma once

#include <string>
#include <vector>

#include "ch06/parallel/pipeline_sim.hpp"
#include "common/run_report.hpp"

namespace ds::ch06 {

// One schedule's run (or, under --ep, one of its two modes: F&B in sequence or overlapped).
struct ScheduleResult {
  std::string name, title;
  std::vector<double> loss;
  double measured_makespan = 0, predicted_makespan = 0, measured_bubble = 0, predicted_bubble = 0;
  double median_makespan = 0, hidden_makespan = 0;   // measured over the steps after the first; simulated with F&B's all-to-alls hidden
  Durations d;                                        // the measured durations (ms) fed to the simulator
  double a2a_f = 0, a2a_b = 0, a2a_fb = 0;            // ms of all-to-all inside an F, a B and an F&B (medians)
  std::vector<double> peak_mb;   // per rank: live tensor bytes above the step's start, at the peak
};

// One schedule's Gantt chart with two lanes per rank: the measured ops (real start and end) above
// the simulator's replay of the same op list.
Gantt measured_beside_simulated(const Schedule& s, const Timeline& measured, const Timeline& simulated, const std::string& title);

// The table of every schedule and out/{makespan,bubble,memory_peak,loss}.svg; `processes` is
// the number of MPI processes (ep of them per pipeline rank), `placement` how they shared the
// cores (mpi::placement()). Returns the largest difference between two schedules' losses.
double report_schedules(const std::vector<ScheduleResult>& results, int processes, int ep, RunReport& report,
                        const std::string& placement);

// The PP x EP table and out/ep_step.svg: each schedule's measured median step beside the
// simulator's, from the run's chunk durations and with F&B's all-to-all time taken off.
void report_ep_step(const std::vector<ScheduleResult>& results, int pp_ranks, int ep, int64_t steps, RunReport& report,
                    const std::string& placement);

}  // namespace ds::ch06
