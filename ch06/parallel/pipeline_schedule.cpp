#include "ch06/parallel/pipeline_schedule.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace ds::ch06 {

std::string schedule_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::GPipe: return "gpipe";
    case ScheduleKind::OneFOneB: return "1f1b";
    case ScheduleKind::ZB1P: return "zb1p";
    case ScheduleKind::DualPipe: return "dualpipe";
    case ScheduleKind::DualPipeV: return "dualpipev";
  }
  return "?";
}

std::string schedule_title(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::GPipe: return "GPipe";
    case ScheduleKind::OneFOneB: return "1F1B";
    case ScheduleKind::ZB1P: return "ZB1P";
    case ScheduleKind::DualPipe: return "DualPipe";
    case ScheduleKind::DualPipeV: return "DualPipeV";
  }
  return "?";
}

std::vector<ScheduleKind> all_schedules() {
  return {ScheduleKind::GPipe, ScheduleKind::OneFOneB, ScheduleKind::ZB1P, ScheduleKind::DualPipe, ScheduleKind::DualPipeV};
}

ScheduleKind parse_schedule(const std::string& name) {
  for (ScheduleKind k : all_schedules())
    if (schedule_name(k) == name) return k;
  throw std::invalid_argument("unknown schedule '" + name + "' (choose gpipe, 1f1b, zb1p, dualpipe or dualpipev)");
}

int Schedule::rank_of(const Chunk& c) const {
  if (kind == ScheduleKind::DualPipe) return c.direction == 0 ? c.stage : pp - 1 - c.stage;
  if (kind == ScheduleKind::DualPipeV) return c.stage < ranks ? c.stage : pp - 1 - c.stage;
  return c.stage;
}

int Schedule::local_chunk(const Chunk& c) const {
  if (kind == ScheduleKind::DualPipe) return c.direction;
  if (kind == ScheduleKind::DualPipeV) return c.stage < ranks ? 0 : 1;
  return 0;
}

int Schedule::chunks_per_rank() const { return kind == ScheduleKind::DualPipe || kind == ScheduleKind::DualPipeV ? 2 : 1; }

Chunk neighbour(Chunk c, int step) {
  c.stage += step;
  return c;
}

namespace {

// Collects one rank's program: transfers are posted into the pending group, which the next op
// (or the tail) takes.
struct Builder {
  RankProgram prog;
  std::vector<Transfer> pending;
  void post(const Transfer& t) { pending.push_back(t); }
  void run(Op op) {
    op.comm = std::move(pending);
    pending.clear();
    prog.ops.push_back(std::move(op));
  }
  RankProgram finish() {
    prog.tail = std::move(pending);
    return std::move(prog);
  }
};

// ---- GPipe, 1F1B, ZB1P: one stage per rank; an op's sends go out with the next op's receives ----

struct Step {
  OpKind kind;
  int mb;
  bool split = false;
};

void add_transfers(const Schedule& s, int rank, const Op& op, bool inputs, Builder& b) {
  auto message = [&](bool grad, const Chunk& of, int peer, bool send) {
    if (peer != rank) b.post({send, peer, grad, of});
  };
  const bool fwd = op.kind == OpKind::F || op.kind == OpKind::FB, bwd = op.kind == OpKind::B || op.kind == OpKind::FB;
  if (inputs) {
    if (fwd && op.f.stage > 0) message(false, neighbour(op.f, -1), s.rank_of(neighbour(op.f, -1)), false);
    if (bwd && op.b.stage < s.pp - 1) message(true, neighbour(op.b, +1), s.rank_of(neighbour(op.b, +1)), false);
  } else {
    if (fwd && op.f.stage < s.pp - 1) message(false, op.f, s.rank_of(neighbour(op.f, +1)), true);
    if (bwd && op.b.stage > 0) message(true, op.b, s.rank_of(neighbour(op.b, -1)), true);
  }
}

RankProgram single_stage_program(const Schedule& s, int rank, const std::vector<Step>& steps) {
  Builder b;
  for (const Step& st : steps) {
    Op op;
    op.kind = st.kind;
    op.split = st.split;
    (st.kind == OpKind::F ? op.f : op.b) = Chunk{st.mb, rank, 0};
    if (!b.prog.ops.empty()) add_transfers(s, rank, b.prog.ops.back(), false, b);   // the previous op's sends
    add_transfers(s, rank, op, true, b);
    b.run(op);
  }
  if (!b.prog.ops.empty()) add_transfers(s, rank, b.prog.ops.back(), false, b);
  return b.finish();
}

// GPipe (Huang et al. 2019, Figure 2c): every forward, then the backwards, last micro-batch first.
std::vector<Step> gpipe_steps(int m) {
  std::vector<Step> out;
  for (int i = 0; i < m; ++i) out.push_back({OpKind::F, i});
  for (int i = m - 1; i >= 0; --i) out.push_back({OpKind::B, i});
  return out;
}

// 1F1B: rank r warms up with PP-1-r forwards, then alternates one forward and one backward, and
// drains the remaining backwards; at most PP-r micro-batches are in flight on rank r.
std::vector<Step> one_f_one_b_steps(int pp, int m, int rank) {
  const int warmup = std::min(pp - 1 - rank, m);
  std::vector<Step> out;
  for (int i = 0; i < warmup; ++i) out.push_back({OpKind::F, i});
  for (int i = 0; i < m - warmup; ++i) {
    out.push_back({OpKind::F, warmup + i});
    out.push_back({OpKind::B, i});
  }
  for (int i = m - warmup; i < m; ++i) out.push_back({OpKind::B, i});
  return out;
}

// ZB-H1 (Qi et al. 2023, section 3.1): 1F1B's order with every B split into B (input gradients)
// and W (weight gradients). A W runs only once the rank holds PP micro-batches' activations,
// 1F1B's peak on rank 0, so the later ranks, which 1F1B leaves with spare memory, push their Ws
// towards the end, where 1F1B idles; each drain-phase B is followed by the oldest W, and the
// remaining Ws close the step.
std::vector<Step> zb1p_steps(int pp, int m, int rank) {
  const int warmup = std::min(pp - 1 - rank, m);
  std::vector<Step> out;
  int w = 0;
  for (int i = 0; i < warmup; ++i) out.push_back({OpKind::F, i});
  for (int i = 0; i < m - warmup; ++i) {
    out.push_back({OpKind::F, warmup + i});
    out.push_back({OpKind::B, i, true});
    if (warmup + i + 1 - w >= pp) out.push_back({OpKind::W, w++});
  }
  for (int i = m - warmup; i < m; ++i) {
    out.push_back({OpKind::B, i, true});
    out.push_back({OpKind::W, w++});
  }
  while (w < m) out.push_back({OpKind::W, w++});
  return out;
}

// ---- DualPipe and DualPipeV: two model chunks per rank ----

// One rank of DualPipe / DualPipeV, following deepseek-ai/DualPipe's step() in dualpipe.py and
// dualpipev.py: micro-batches stream through each local chunk in order, transfers are posted as
// the code posts them (a chunk's receives before it, its sends after it, all completed before
// the next compute), and split backwards queue their Ws first in, first out.
class TwoChunkRank {
 public:
  TwoChunkRank(const Schedule& s, int rank, Chunk home0, Chunk home1, int base0, int base1)
      : s_(s), rank_(rank), home_{home0, home1}, base_{base0, base1} {}

  // The eight steps of DualPipe's schedule (V3 Figure 5), for a rank `pos` places from the
  // nearer end of a pipe of `half` ranks per side (DualPipeV: its rank in a pipe of PP/2),
  // with n micro-batches through each chunk. `early` is the chunk holding the earlier stage;
  // `turn` marks the ranks where the two streams meet (DualPipe's middle pair, DualPipeV's last
  // rank), which keep their first F and B of the main phase apart.
  RankProgram build(int half, int pos, int n, int early, bool turn) {
    const int late = 1 - early;
    for (int i = 0; i < 2 * (half - pos - 1); ++i) forward(early);   // 1: early forwards only
    recv_forward(early);                                               // 2: both chunks forward
    for (int i = 0; i <= pos; ++i) {
      forward(early, false, turn);
      recv_forward(early);
      forward(late, true, !turn || i < pos);
      if (!turn) send_forward(early);
    }
    for (int i = 0; i < half - pos - 1; ++i) {                         // 3: zero-bubble B W F on the late chunk
      backward(late, true);
      recv_forward(late);
      weight();
      forward(late, false);
    }
    for (int i = 0; i < n - 2 * half + pos + 1; ++i) {                // 4: the main phase, overlapped F&B pairs
      if (i == 0 && turn) {
        forward(early, false, false);
        send_forward(late);
        backward(late, false, true, false);
        send_forward(early);
        send_backward(late);
      } else {
        forward_backward(early, late, i > 0);
      }
      forward_backward(late, early);
    }
    for (int i = 0; i < half - pos - 1; ++i) {                         // 5: B on the late chunk, F&B
      backward(late);
      forward_backward(late, early);
    }
    bool split = false;                                                // 6: backwards of both, the second half split
    for (int i = 0; i <= pos; ++i) {
      if (i == (pos + 1) / 2 && pos % 2 == 1) split = true;
      backward(late, split);
      if (i == (pos + 1) / 2 && pos % 2 == 0) split = true;
      backward(early, split);
    }
    for (int i = 0; i < half - pos - 1; ++i) {                         // 7: W, then a split early backward
      weight();
      backward(early, true);
    }
    for (int i = 0; i <= pos; ++i) weight();                           // 8: the remaining Ws
    return b_.finish();
  }

 private:
  Chunk at(int c, int k) const {
    Chunk x = home_[c];
    x.mb = base_[c] + k;
    return x;
  }
  int prev_rank(int c) const { return home_[c].stage == 0 ? -1 : s_.rank_of(neighbour(home_[c], -1)); }
  int next_rank(int c) const { return home_[c].stage == s_.pp - 1 ? -1 : s_.rank_of(neighbour(home_[c], +1)); }
  bool remote(int peer) const { return peer >= 0 && peer != rank_; }   // DualPipeV's turn is a local hand-off

  void recv_forward(int c) {
    if (remote(prev_rank(c))) b_.post({false, prev_rank(c), false, neighbour(at(c, recv_f_[c]++), -1)});
  }
  void send_forward(int c) {
    if (remote(next_rank(c))) b_.post({true, next_rank(c), false, at(c, sent_f_[c]++)});
  }
  void recv_backward(int c) {
    if (remote(next_rank(c))) b_.post({false, next_rank(c), true, neighbour(at(c, recv_b_[c]++), +1)});
  }
  void send_backward(int c) {
    if (remote(prev_rank(c))) b_.post({true, prev_rank(c), true, at(c, sent_b_[c]++)});
  }

  void forward(int c, bool recv = true, bool send = true) {
    if (recv) recv_forward(c);
    Op op;
    op.kind = OpKind::F;
    op.f = at(c, next_f_[c]++);
    b_.run(op);
    if (send) send_forward(c);
  }
  void backward(int c, bool split = false, bool recv = true, bool send = true) {
    if (recv) recv_backward(c);
    Op op;
    op.kind = OpKind::B;
    op.b = at(c, next_b_[c]++);
    op.split = split;
    if (split) deferred_.push_back(op.b);
    b_.run(op);
    if (send) send_backward(c);
  }
  void forward_backward(int cf, int cb, bool recv_f = true) {
    if (recv_f) recv_forward(cf);
    recv_backward(cb);
    Op op;
    op.kind = OpKind::FB;
    op.f = at(cf, next_f_[cf]++);
    op.b = at(cb, next_b_[cb]++);
    b_.run(op);
    send_forward(cf);
    send_backward(cb);
  }
  void weight() {
    if (deferred_.empty()) throw std::logic_error("DualPipe schedule: a W with no deferred weight gradient");
    Op op;
    op.kind = OpKind::W;
    op.b = deferred_.front();
    deferred_.pop_front();
    b_.run(op);
  }

  const Schedule& s_;
  int rank_;
  Chunk home_[2];
  int base_[2];
  int next_f_[2] = {0, 0}, next_b_[2] = {0, 0}, sent_f_[2] = {0, 0}, sent_b_[2] = {0, 0}, recv_f_[2] = {0, 0}, recv_b_[2] = {0, 0};
  std::deque<Chunk> deferred_;
  Builder b_;
};

std::string fail_sentence(const Schedule& s, const std::string& rule) {
  return schedule_title(s.kind) + " with PP = " + std::to_string(s.pp) + " and M = " + std::to_string(s.micro_batches) + ": " + rule;
}

}  // namespace

Schedule make_schedule(ScheduleKind kind, int pp, int m) {
  Schedule s;
  s.kind = kind;
  s.pp = pp;
  s.micro_batches = m;
  s.ranks = kind == ScheduleKind::DualPipeV ? pp / 2 : pp;
  if (pp < 2) throw std::invalid_argument(fail_sentence(s, "a pipeline needs at least 2 stages"));
  if (m < 1) throw std::invalid_argument(fail_sentence(s, "a step needs at least 1 micro-batch"));
  if (pp > 256 || m > 4096) throw std::invalid_argument(fail_sentence(s, "PP above 256 or M above 4096 is more than this simulator is for"));
  const bool dual = kind == ScheduleKind::DualPipe, v = kind == ScheduleKind::DualPipeV;
  if ((dual || v) && pp % 2 != 0) throw std::invalid_argument(fail_sentence(s, "PP must be even"));
  if (dual && m % 2 != 0) throw std::invalid_argument(fail_sentence(s, "M must be even (half the micro-batches go each way)"));
  if (dual && m < 2 * pp)
    throw std::invalid_argument(fail_sentence(s, "M must be at least 2 PP = " + std::to_string(2 * pp) + ", as deepseek-ai/DualPipe asserts"));
  if (v && m < pp)
    throw std::invalid_argument(fail_sentence(s, "M must be at least PP = " + std::to_string(pp) + " (2 per rank), as deepseek-ai/DualPipe asserts"));

  for (int r = 0; r < s.ranks; ++r) {
    switch (kind) {
      case ScheduleKind::GPipe: s.programs.push_back(single_stage_program(s, r, gpipe_steps(m))); break;
      case ScheduleKind::OneFOneB: s.programs.push_back(single_stage_program(s, r, one_f_one_b_steps(pp, m, r))); break;
      case ScheduleKind::ZB1P: s.programs.push_back(single_stage_program(s, r, zb1p_steps(pp, m, r))); break;
      case ScheduleKind::DualPipe: {
        // Rank r: stage r of direction 0 (micro-batches 0..M/2-1), stage PP-1-r of direction 1.
        TwoChunkRank rank(s, r, Chunk{-1, r, 0}, Chunk{-1, pp - 1 - r, 1}, 0, m / 2);
        const int half = pp / 2, pos = std::min(r, pp - 1 - r);
        s.programs.push_back(rank.build(half, pos, m / 2, r < half ? 0 : 1, r == half - 1 || r == half));
        break;
      }
      case ScheduleKind::DualPipeV: {
        // Rank r of PP/2: stage r on the way down the V, stage PP-1-r on the way back.
        TwoChunkRank rank(s, r, Chunk{-1, r, 0}, Chunk{-1, pp - 1 - r, 0}, 0, 0);
        s.programs.push_back(rank.build(s.ranks, r, m, 0, r == s.ranks - 1));
        break;
      }
    }
  }
  return s;
}

}  // namespace ds::ch06
