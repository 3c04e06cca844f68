// ch06_pipeline_schedules: GPipe, 1F1B, ZB1P, DualPipe and DualPipeV as op lists, validated,
// replayed by the simulator, and drawn as one Gantt chart each; then DeepSeek-V3 Table 2
// (bubble, parameters and activations per device) computed from the simulated timelines and
// printed beside the paper's formulas, for the chosen PP and for PP = 4, 8, 16.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "ch06/parallel/pipeline_schedule.hpp"
#include "ch06/parallel/pipeline_sim.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {

const char* kProgram = "ch06_pipeline_schedules";

std::vector<ScheduleKind> parse_list(const std::string& list) {
  std::vector<ScheduleKind> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(parse_schedule(item));
  if (out.empty()) throw std::invalid_argument("--schedules is empty");
  return out;
}

size_t transfers(const Schedule& s) {
  size_t n = 0;
  for (const RankProgram& p : s.programs) {
    for (const Op& op : p.ops) n += op.comm.size();
    n += p.tail.size();
  }
  return n / 2;   // each message has a send and a receive
}

// Which of the conditions under which the simulated bubbles equal Table 2 the durations and the
// send mode meet (tests/test_pipeline_sim.cpp checks each). ZB1P fills its bubble with W only
// while its sends are in flight: a blocking send holds the rank until the receiver takes it.
void print_assumptions(const Durations& d, bool blocking) {
  const bool zb = d.W <= d.F && d.W <= d.B - d.W && !blocking;
  const bool dual = std::abs(d.F - (d.B - d.W)) < 1e-12 && d.W <= d.F;
  const bool every = dual && std::abs(d.FB - (d.F + d.B)) < 1e-12;
  std::printf("When the simulated bubble equals Table 2's formula (checked by tests/test_pipeline_sim.cpp):\n"
              "  1F1B, GPipe  any durations                                                      -> yes\n"
              "  ZB1P         a W fits in an F's and an input backward's gap: W <= F, W <= B - W,\n"
              "               and sends stay in flight (no --blocking-sends)                      -> %s\n"
              "  DualPipe(V)  forward as long as backward for input (F = B - W) and W <= F: the\n"
              "               busiest rank's bubble; every rank's when also F&B = F + B           -> %s\n"
              "V3 Figure 5 draws F = W = 1, B = 2, F&B = 3, which meets all of them (the defaults).\n\n",
              zb ? "yes" : "no", every ? "yes, every rank" : dual ? "yes, busiest rank" : "no");
}

std::vector<double> held_series(const Timeline& t, size_t rank, std::vector<double>& xs) {
  std::vector<double> ys;
  xs.clear();
  int last = 0;
  for (auto [time, count] : t.held[rank]) {   // a step function: the old value up to each change
    xs.push_back(time);
    ys.push_back(last);
    xs.push_back(time);
    ys.push_back(count);
    last = count;
  }
  xs.push_back(t.makespan);
  ys.push_back(last);
  return ys;
}

// The flags, bound to the settings; --quick shrinks PP and M.
struct Settings {
  std::string command;   // as typed, for the run's page
  RunOptions run;
  int pp = 8, m = 20;
  Durations d;   // V3 Figure 5's: F = W = 1, B = 2, F&B = 3
  std::string list = "gpipe,1f1b,zb1p,dualpipe,dualpipev";
  bool blocking = false, print_ops = false;
};
Settings parse_options(int argc, char** argv) {
  Settings st;
  RunOptions& run = st.run;
  int &pp = st.pp, &m = st.m;
  Durations& d = st.d;
  std::string& list = st.list;
  bool &blocking = st.blocking, &print_ops = st.print_ops;
  Flags flags(kProgram, "Pipeline-parallel schedules as data: Gantt charts from the simulator and DeepSeek-V3 Table 2 reproduced.");
  add_run_flags(flags, run, kProgram);
  flags.add("--pp", pp, "pipeline stages PP (DualPipeV runs them on PP/2 ranks)").min(2).max(64);
  flags.add("--micro-batches", m, "micro-batches M per step (DualPipe: even and >= 2 PP; DualPipeV: >= PP)").min(1).max(1024);
  flags.add("--f", d.F, "duration of a forward chunk F").min(1e-6);
  flags.add("--b", d.B, "duration of a full backward chunk B (input and weight gradients), as in V3 Table 2").min(1e-6);
  flags.add("--w", d.W, "duration of the backward for weights W (part of B); a split backward for input takes B - W").min(0);
  flags.add("--fb", d.FB, "duration F&B of a forward and a full backward overlapped (between max(F, B) and F + B)").min(1e-6);
  flags.add("--latency", d.latency, "time a point-to-point transfer takes once both ends are posted").min(0);
  flags.add("--schedules", list, "comma-separated: gpipe, 1f1b, zb1p, dualpipe, dualpipev");
  flags.add_flag("--blocking-sends", blocking,
                 "sends complete before the next op, as DualPipe's batch_isend_irecv + wait (default: in flight until the step ends)");
  flags.add_flag("--print-ops", print_ops, "print every rank's op list with its transfers");
  flags.parse(argc, argv);
  st.command = flags.command();
  if (run.quick) {
    pp = std::min(pp, 4);
    m = std::min(m, 2 * pp);
  }
  return st;
}

// Table 2 across pipeline depths: the busiest rank's bubble against the formula.
void table2_sweep(const Settings& st, SendWait sends, Summary& summary) {
  const int m = st.m;
  const Durations& d = st.d;
  std::vector<int> depths = st.run.quick ? std::vector<int>{4, 8} : std::vector<int>{4, 8, 16};
  Table sweep({"PP", "M", "1F1B", "Table 2", "ZB1P", "Table 2", "DualPipe", "Table 2", "DualPipeV", "Table 2", "all equal"});
  for (int p : depths) {
    const int mm = std::max(m + m % 2, 2 * p);
    std::vector<std::string> cells = {std::to_string(p), std::to_string(mm)};
    bool equal = true;
    for (ScheduleKind k : {ScheduleKind::OneFOneB, ScheduleKind::ZB1P, ScheduleKind::DualPipe, ScheduleKind::DualPipeV}) {
      const double sim = simulate(make_schedule(k, p, mm), d, sends).max_bubble(), f = v3_table2(k, p, mm, d).bubble;
      cells.push_back(fmt("%g", sim));
      cells.push_back(fmt("%g", f));
      equal = equal && std::abs(sim - f) < 1e-9;
      summary.set(fmt("table2.pp%d.%s.simulated", p, schedule_name(k).c_str()), sim);
      summary.set(fmt("table2.pp%d.%s.formula", p, schedule_name(k).c_str()), f);
    }
    cells.push_back(equal ? "yes" : "no");
    sweep.row(cells);
  }
  std::printf("Table 2's bubbles at other depths: the busiest rank's simulated idle time beside the formula (same durations, M = max(M, 2 PP)):\n");
  sweep.print();
}

// Every schedule replayed: its Gantt chart, the Table 2 rows beside the formulas, the conditions
// under which they are equal, the sweep over depths, and the bubble, memory and activation charts.
void report(const Settings& st, const std::vector<Schedule>& schedules, RunReport& page) {
  const RunOptions& run = st.run;
  const int pp = st.pp, m = st.m;
  const Durations& d = st.d;
  const bool blocking = st.blocking;
  [[maybe_unused]] const bool print_ops = st.print_ops;
  const SendWait sends = blocking ? SendWait::BeforeNextOp : SendWait::AtTail;
  Table t({"schedule", "devices", "makespan", "bubble per rank (min..max)", "Table 2 bubble", "= value", "params/device", "activations/device",
           "Table 2 activations"});
  BarChart bubble{fmt("Pipeline bubble per device, PP = %d, M = %d (F = %g, B = %g, W = %g, F&B = %g)", pp, m, d.F, d.B, d.W, d.FB),
                  "schedule", "idle time per step (time units)", {}, {}};
  BarChart memory{fmt("Memory per device, PP = %d, M = %d", pp, m), "schedule", "per device", {}, {}};
  LineChart held{"Activations held on rank 0 through one step", "time", "micro-batch stages held", {}};
  bubble.caption = "Each schedule's busiest rank's idle time per step beside V3 Table 2's formula: equal bars are the table reproduced.";
  memory.caption = "Activations held at the peak (simulated and Table 2's column) and model stages held, per device: DualPipe pays one "
                   "more micro-batch and a second copy of the parameters for its smaller bubble.";
  held.caption = "Rank 0's activations through the step: GPipe climbs to M, 1F1B and ZB1P stop at PP, DualPipe and DualPipeV at PP+1 "
                 "(DualPipeV's step is longer: half the devices do the same work).";
  Series sim_bubble{"simulated (busiest rank)", {}, {}}, formula_bubble{"V3 Table 2 formula", {}, {}};
  Series acts{"activations at peak (micro-batch stages)", {}, {}}, acts_table{"activations, V3 Table 2", {}, {}};
  Series params{"parameters (model stages)", {}, {}};
  Summary summary;
  std::vector<std::string> written;
  for (const Schedule& s : schedules) {
    const ScheduleKind k = s.kind;
    const std::string name = schedule_name(k), title = schedule_title(k);
    if (std::string e = validate(s); !e.empty()) fail(kProgram, title + " is not a valid schedule: " + e);
    const Timeline tl = simulate(s, d, sends);
    if (!tl.deadlock.empty()) fail(kProgram, title + ": " + tl.deadlock);
    const Table2Row row = v3_table2(k, pp, m, d);
    const double lo = *std::min_element(tl.bubble.begin(), tl.bubble.end()), hi = tl.max_bubble();
    std::printf("%-9s valid: every F before its B, every B before its W, %zu transfers matched, no deadlock when sends block\n", title.c_str(),
                transfers(s));
    if (print_ops)
      for (int r = 0; r < s.ranks; ++r) std::printf("  rank %d: %s\n", r, format_rank(s, r).c_str());
    t.row({title, std::to_string(s.ranks), fmt("%g", tl.makespan), std::abs(hi - lo) < 1e-9 ? fmt("%g", hi) : fmt("%g..%g", lo, hi),
           row.bubble_formula, fmt("%g", row.bubble), fmt("%dx", s.chunks_per_rank()), std::to_string(tl.max_peak_activations()),
           fmt("%s = %d", row.activation_formula.c_str(), row.activations)});
    bubble.categories.push_back(title);
    sim_bubble.y.push_back(hi);
    formula_bubble.y.push_back(row.bubble);
    memory.categories.push_back(title);
    acts.y.push_back(tl.max_peak_activations());
    acts_table.y.push_back(row.activations);
    params.y.push_back(s.chunks_per_rank());
    Series h{title, {}, {}, s.chunks_per_rank() == 2};   // dashed: DualPipe's lines run over the others
    h.y = held_series(tl, 0, h.x);
    held.series.push_back(h);

    const std::string gantt = "gantt_" + name + ".svg";
    const std::string lanes = s.ranks == pp ? fmt("%d ranks", s.ranks) : fmt("%d ranks, 2 stages each", s.ranks);
    Gantt chart = timeline_gantt(s, tl,
                                 fmt("%s: PP = %d stages on %s, M = %d; makespan %g, bubble %s per rank (Table 2: %g)", title.c_str(), pp,
                                     lanes.c_str(), m, tl.makespan,
                                     std::abs(hi - lo) < 1e-9 ? fmt("%g", hi).c_str() : fmt("%g..%g", lo, hi).c_str(), row.bubble));
    chart.caption = "Grey is idle time, the bubble; each box is one op, numbered by micro-batch (12|3: the forward of 12 overlapped "
                    "with the backward of 3).";
    page.plot(gantt, chart);
    written.push_back(gantt);
    summary.set("schedules." + name + ".devices", s.ranks);
    summary.set("schedules." + name + ".makespan", tl.makespan);
    summary.set("schedules." + name + ".bubble_per_rank", tl.bubble);
    summary.set("schedules." + name + ".table2_bubble", row.bubble);
    summary.set("schedules." + name + ".peak_activations", tl.max_peak_activations());
    summary.set("schedules." + name + ".parameter_copies", s.chunks_per_rank());
  }
  std::printf("\nDeepSeek-V3 Table 2 at PP = %d, M = %d (bubble: idle time per device per step; activations: micro-batches of one stage held)\n",
              pp, m);
  t.print();
  std::printf("\n");
  print_assumptions(d, blocking);
  table2_sweep(st, sends, summary);

  bubble.series = {sim_bubble, formula_bubble};
  memory.series = {acts, acts_table, params};
  page.plot("bubble.svg", bubble);
  page.plot("memory.svg", memory);
  page.plot("activations.svg", held);
  summary.set("pp", pp);
  summary.set("micro_batches", m);
  page.write(summary);
  std::printf("\nwrote %s/", run.out.c_str());
  for (const std::string& f : written) std::printf("%s, ", f.c_str());
  std::printf("bubble.svg, memory.svg, activations.svg (+ .csv), summary.json\n");
}

}  // namespace

int main(int argc, char** argv) {
  return run_main(kProgram, [&] {
    Settings st = parse_options(argc, argv);
    RunOptions& run = st.run;
    const int pp = st.pp, m = st.m;
    const Durations& d = st.d;
    const std::vector<ScheduleKind> kinds = parse_list(st.list);
    if (std::string e = durations_error(d); !e.empty()) fail(kProgram, e);
    std::vector<Schedule> schedules;
    for (ScheduleKind k : kinds) {
      try {
        schedules.push_back(make_schedule(k, pp, m));
      } catch (const std::invalid_argument& e) {
        fail(kProgram, std::string(e.what()) + " (leave it out with --schedules)");
      }
    }
    RunReport page = start_run(run, kProgram, st.command);
    print_header(kProgram,
                 "each schedule's op lists replayed on PP simulated ranks: who computes what when, the idle time (bubble) it leaves,\n"
                 "and the activations it holds; then DeepSeek-V3 Table 2 recomputed from those timelines beside the paper's formulas.");
    std::printf("PP = %d stages, M = %d micro-batches; F = %g, B = %g (full backward), W = %g, F&B = %g, latency = %g; sends %s\n\n", pp, m,
                d.F, d.B, d.W, d.FB, d.latency, st.blocking ? "block until received" : "stay in flight until the step ends");

    report(st, schedules, page);
    return 0;
  });
}
