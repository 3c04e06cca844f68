// Replays a schedule's op lists (pipeline_schedule.hpp) in simulated time: each rank posts an
// op's transfers, waits for them, computes the op, and moves on. A transfer completes `latency`
// after both its ends are posted (a rendezvous: data moves once the receive is posted). Receives
// always block the op they precede; sends either stay in flight until the step's end (MPI_Isend,
// waited at the tail: the timing the schedules' papers assume) or block the next op like the
// receives (DualPipe's batch_isend_irecv + wait). A cycle of waits is a deadlock the replay finds.
//
// Durations follow DeepSeek-V3 Table 2: F is a forward chunk, B a full backward chunk (input and
// weight gradients), W the weight-gradient part of B, and F&B two mutually overlapped chunks,
// the forward of one micro-batch and the full backward of another. A split B (zero bubble)
// therefore takes B - W, and its W takes W.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ch06/parallel/pipeline_schedule.hpp"
#include "common/plot.hpp"

namespace ds::ch06 {

using ds::Gantt;

struct Durations {
  double F = 1, B = 2, W = 1, FB = 3;   // DeepSeek-V3 Figure 5 / DualPipe's README figure: F = W = 1, B = 2, F&B = F + B
  double latency = 0;                   // per transfer, after both ends are posted
};
// One sentence about the first impossible value (negative, W > B, ...) or "".
std::string durations_error(const Durations& d);
double op_duration(const Op& op, const Durations& d);

struct OpSpan {
  double start = 0, end = 0;
};

struct Timeline {
  std::vector<std::vector<OpSpan>> spans;   // [rank][op]
  double makespan = 0;                      // from 0 to the last rank's tail transfers
  std::vector<double> busy;                 // per rank: time spent computing
  std::vector<double> bubble;               // per rank: makespan - busy, the idle time V3 Table 2 counts
  // Activations held, in units of one micro-batch through one stage: an F allocates them when it
  // starts; a full backward (B or F&B) frees them when it ends, or the W of a split one does.
  std::vector<int> peak_activations;                        // per rank
  std::vector<std::vector<std::pair<double, int>>> held;    // per rank: (time, count from then on)
  std::string deadlock;                     // non-empty: the sentence, and the fields cover what ran

  double max_bubble() const;
  int max_peak_activations() const;
};

enum class SendWait {
  AtTail,         // a send is posted after the op producing its tensor and waited for at the step's end
  BeforeNextOp,   // a send completes, like the receives beside it, before the next op computes
};

// Throws std::invalid_argument for a schedule that breaks a structural rule or impossible durations.
Timeline simulate(const Schedule& s, const Durations& d, SendWait sends = SendWait::AtTail);

// DeepSeek-V3 Table 2's row for a schedule (GPipe, not in the table, by the same rules), with
// the formulas' values for these durations. PP counts stages, as the table does.
struct Table2Row {
  std::string bubble_formula;       // "(PP-1)(F+B)", ...
  double bubble = 0;
  int parameter_copies = 1;         // model stages held per device
  std::string activation_formula;   // "PP", "PP+1", "M"
  int activations = 0;              // micro-batches of one stage's activations held per device
  int devices = 0;
};
Table2Row v3_table2(ScheduleKind k, int pp, int micro_batches, const Durations& d);

// One lane per rank, one box per op (forward, backward, its two halves, overlapped F&B) over grey
// idle time; boxes are labelled with micro-batch numbers ("12|3": forward of 12 with backward of 3).
Gantt timeline_gantt(const Schedule& s, const Timeline& t, const std::string& title);

// The statistics above for op spans measured on a real run (or any other source): busy, bubble
// and activations held per rank. The makespan is the latest span end, or `makespan` if later.
Timeline timeline_from_spans(const Schedule& s, std::vector<std::vector<OpSpan>> spans, double makespan = 0);

// "" when the schedule is sound: structural_error(), then a replay in which sends block like
// receives (the strictest rule: a list that runs there runs with any buffering) that must run
// every op (no deadlock). Otherwise one sentence naming the op.
std::string validate(const Schedule& s);

}  // namespace ds::ch06
