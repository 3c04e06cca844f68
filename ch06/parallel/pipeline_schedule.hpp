// Pipeline-parallel schedules as data: for PP stages and M micro-batches, the list of ops each
// rank runs, in order, with the point-to-point transfers each op implies. The simulator
// (pipeline_sim.hpp) replays these lists to draw the timeline; a real MPI runtime executes the
// same lists op by op:
//   for each op: post op.comm (MPI_Isend / MPI_Irecv), wait for all of it, then compute the op;
//   at the end:  post and wait for program.tail.
// That is how deepseek-ai/DualPipe drives NCCL (batch_isend_irecv, then wait, before each chunk).
//
// Five schedules (B below is V3 Table 2's "full backward chunk": input and weight gradients):
//   GPipe     all forwards, then all backwards (Huang et al. 2019)           M micro-batches held
//   1F1B      PP-1-r warm-up forwards on rank r, then one forward, one backward (PipeDream-Flush)
//   ZB1P      1F1B with B split into B (input gradients, sent upstream at once) and W (weight
//             gradients), W deferred into the bubbles up to 1F1B's peak memory: Qi et al. 2023,
//             "Zero Bubble Pipeline Parallelism", the handcrafted ZB-H1
//   DualPipe  DeepSeek-V3 section 3.2.1, Figure 5: micro-batches enter from both ends; rank r
//             holds stage r of direction 0 and stage PP-1-r of direction 1 (two copies of the
//             parameters); the forward of one micro-batch overlaps the backward of another (F&B)
//   DualPipeV the "cut-in-half" DualPipe (deepseek-ai/DualPipe README, Sea AI Lab): PP stages
//             on PP/2 ranks in a V, rank r holding stages r and PP-1-r of one pipeline
// DualPipe's and DualPipeV's op order is that of deepseek-ai/DualPipe's dualpipe.py and
// dualpipev.py (tests/test_pipeline_schedule.cpp checks it against a trace of that code).
#pragma once

#include <string>
#include <vector>

namespace ds::ch06 {

enum class ScheduleKind { GPipe, OneFOneB, ZB1P, DualPipe, DualPipeV };

std::string schedule_name(ScheduleKind k);   // "gpipe", "1f1b", "zb1p", "dualpipe", "dualpipev"
std::string schedule_title(ScheduleKind k);  // "GPipe", "1F1B", "ZB1P", "DualPipe", "DualPipeV"
// Throws std::invalid_argument naming the choices for anything else.
ScheduleKind parse_schedule(const std::string& name);
std::vector<ScheduleKind> all_schedules();

// One micro-batch on one pipeline stage: what every op works on.
struct Chunk {
  int mb = -1;         // micro-batch 0..M-1; DualPipe: 0..M/2-1 enter at rank 0, M/2..M-1 at rank PP-1
  int stage = -1;      // position along that micro-batch's pipeline: 0 reads the tokens, S-1 computes the loss
  int direction = 0;   // DualPipe's second direction is 1; everything else flows in direction 0
  bool operator==(const Chunk&) const = default;
};

// The same micro-batch `step` stages further along its pipeline (-1: the stage feeding it).
Chunk neighbour(Chunk c, int step);

// A point-to-point message. `of` is the chunk whose op produced the tensor: an activation is
// F(of)'s output, read by stage of.stage + 1; a gradient is B(of)'s input gradient, read by
// stage of.stage - 1. Sends and receives on one (source, destination) pair match in order, as
// MPI's do. A tensor whose reader lives on the same rank (DualPipeV's turn at its last rank,
// stage PP/2-1 feeding stage PP/2) is handed over in memory, with no transfer.
struct Transfer {
  bool send = true;    // false: receive
  int peer = -1;       // the other rank
  bool grad = false;   // false: activation, true: gradient
  Chunk of;
  bool operator==(const Transfer&) const = default;
};

enum class OpKind {
  F,    // forward of chunk f
  B,    // backward of chunk b: input gradients, plus weight gradients unless `split`
  W,    // weight gradients of chunk b, deferred by an earlier split B
  FB,   // DualPipe's overlapped chunk: forward of f and backward of b at once
};

struct Op {
  OpKind kind = OpKind::F;
  Chunk f;                      // F, FB
  Chunk b;                      // B, W, FB
  bool split = false;           // B / FB: weight gradients left to a later W (zero bubble)
  std::vector<Transfer> comm;   // posted together and all completed before this op computes
};

struct RankProgram {
  std::vector<Op> ops;
  std::vector<Transfer> tail;   // posted and completed after the last op
};

struct Schedule {
  ScheduleKind kind = ScheduleKind::OneFOneB;
  int pp = 0;              // pipeline stages of one micro-batch's path
  int micro_batches = 0;   // M, both directions together for DualPipe
  int ranks = 0;           // devices: PP, or PP/2 for DualPipeV
  std::vector<RankProgram> programs;   // one per rank

  // The rank holding stage c.stage of direction c.direction.
  int rank_of(const Chunk& c) const;
  // Which of that rank's model chunks runs c: 0, or 1 for DualPipe's direction 1 and
  // DualPipeV's second leg (stages PP/2..PP-1).
  int local_chunk(const Chunk& c) const;
  // Model chunks (stages) each rank holds: 1, or 2 for DualPipe / DualPipeV (V3 Table 2's
  // "parameter per device", in units of one stage).
  int chunks_per_rank() const;
};

// The schedule's op lists. Throws std::invalid_argument with one sentence when PP or M does not
// suit it (DualPipe: PP and M even, M >= 2 PP, as deepseek-ai/DualPipe asserts; DualPipeV:
// PP even, M >= PP).
Schedule make_schedule(ScheduleKind kind, int pp, int micro_batches);

// Structural rules, or "" when all hold: every op runs on the rank holding its stage; every
// chunk has one F, then one B, then one W exactly when that B was split; an F has its input
// activation and a B its output gradient, received or computed on the rank, before it runs; a
// send follows the op producing its tensor and goes to the rank that reads it; sends and
// receives pair up in order on every channel. The answer is one sentence naming the op.
// (Deadlock freedom is checked by replaying the lists: validate() in pipeline_sim.hpp.)
std::string structural_error(const Schedule& s);

// Text forms, as in tests/fixtures/dualpipe_order.txt (tools/dualpipe_trace.py documents them):
// ops "F0.3", "B0.3", "b0.3" (split), "W0.3", "F0.3+B1.2"; groups "[s1:a0.3 r1:g1.2]". The
// number before the dot is the rank's model chunk (DualPipe: direction), after it the
// micro-batch counted within that chunk's stream.
std::string format_op(const Schedule& s, const Op& op);
std::string format_rank(const Schedule& s, int rank);
// "the backward of micro-batch 3 at stage 1 (rank 1, op 7)": how error sentences name an op.
std::string describe_op(const Schedule& s, int rank, size_t index);
// "micro-batch 3 at stage 1" (DualPipe adds "of direction 1") and "the gradient from the
// backward of micro-batch 3 at stage 1": how they name a chunk and a transfer's tensor.
std::string describe_chunk(const Schedule& s, const Chunk& c);
std::string describe_transfer(const Schedule& s, const Transfer& t);

}  // namespace ds::ch06
