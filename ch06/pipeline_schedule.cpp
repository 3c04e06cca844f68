#include "ch06/pipeline_schedule.hpp"

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

Chunk neighbour(Chunk c, int step) {
  c.stage += step;
  return c;
}

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

// ---- text forms ----

namespace {

// The micro-batch counted within its chunk's stream (DualPipe's direction 1 starts at M/2).
int stream_index(const Schedule& s, const Chunk& c) {
  return s.kind == ScheduleKind::DualPipe ? c.mb - c.direction * (s.micro_batches / 2) : c.mb;
}

std::string chunk_text(const Schedule& s, const Chunk& c) {
  return std::to_string(s.local_chunk(c)) + "." + std::to_string(stream_index(s, c));
}

std::string transfer_text(const Schedule& s, const Transfer& t) {
  return std::string(t.send ? "s" : "r") + std::to_string(t.peer) + ":" + (t.grad ? "g" : "a") + chunk_text(s, t.of);
}

std::string group_text(const Schedule& s, const std::vector<Transfer>& g) {
  std::string out = "[";
  for (size_t i = 0; i < g.size(); ++i) {
    if (i) out += ' ';
    out += transfer_text(s, g[i]);
  }
  return out + "]";
}

std::string where(const Schedule& s, const Chunk& c) {
  std::string out = "micro-batch " + std::to_string(c.mb) + " at stage " + std::to_string(c.stage);
  if (s.kind == ScheduleKind::DualPipe) out += " of direction " + std::to_string(c.direction);
  return out;
}

std::string tensor_text(const Schedule& s, const Transfer& t) {
  return std::string(t.grad ? "the gradient from the backward of " : "the activation from the forward of ") + where(s, t.of);
}

std::string ordinal(size_t n) {
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

}  // namespace

std::string format_op(const Schedule& s, const Op& op) {
  switch (op.kind) {
    case OpKind::F: return "F" + chunk_text(s, op.f);
    case OpKind::B: return (op.split ? "b" : "B") + chunk_text(s, op.b);
    case OpKind::W: return "W" + chunk_text(s, op.b);
    case OpKind::FB: return "F" + chunk_text(s, op.f) + "+" + (op.split ? "b" : "B") + chunk_text(s, op.b);
  }
  return "?";
}

std::string format_rank(const Schedule& s, int rank) {
  const RankProgram& p = s.programs.at(static_cast<size_t>(rank));
  std::string out;
  auto add = [&](const std::string& t) {
    if (!out.empty()) out += ' ';
    out += t;
  };
  for (const Op& op : p.ops) {
    if (!op.comm.empty()) add(group_text(s, op.comm));
    add(format_op(s, op));
  }
  if (!p.tail.empty()) add(group_text(s, p.tail));
  return out;
}

std::string describe_op(const Schedule& s, int rank, size_t index) {
  const Op& op = s.programs.at(static_cast<size_t>(rank)).ops.at(index);
  std::string what;
  switch (op.kind) {
    case OpKind::F: what = "the forward of " + where(s, op.f); break;
    case OpKind::B: what = std::string(op.split ? "the input-gradient backward of " : "the backward of ") + where(s, op.b); break;
    case OpKind::W: what = "the weight-gradient op W of " + where(s, op.b); break;
    case OpKind::FB: what = "the overlapped forward of " + where(s, op.f) + " and backward of " + where(s, op.b); break;
  }
  return what + " (rank " + std::to_string(rank) + ", op " + std::to_string(index) + ")";
}

// ---- structural validation ----

namespace {

struct Checker {
  const Schedule& s;
  int directions;
  explicit Checker(const Schedule& sched) : s(sched), directions(sched.kind == ScheduleKind::DualPipe ? 2 : 1) {}

  bool valid(const Chunk& c) const {
    if (c.direction < 0 || c.direction >= directions || c.stage < 0 || c.stage >= s.pp || c.mb < 0 || c.mb >= s.micro_batches) return false;
    if (s.kind == ScheduleKind::DualPipe) return (c.mb >= s.micro_batches / 2) == (c.direction == 1);
    return true;
  }
  size_t key(const Chunk& c) const {
    return (static_cast<size_t>(c.direction) * static_cast<size_t>(s.micro_batches) + static_cast<size_t>(c.mb)) * static_cast<size_t>(s.pp) +
           static_cast<size_t>(c.stage);
  }
  size_t size() const { return static_cast<size_t>(directions) * static_cast<size_t>(s.micro_batches) * static_cast<size_t>(s.pp); }
};

// Where a transfer sits in the program, for messages.
std::string position(const Schedule& s, int rank, size_t index) {
  const RankProgram& p = s.programs[static_cast<size_t>(rank)];
  return index < p.ops.size() ? "before " + describe_op(s, rank, index) : "after rank " + std::to_string(rank) + "'s last op";
}

struct Message {
  Transfer t;
  int rank;
  size_t index;   // op it is posted before (ops.size() = the tail)
};

}  // namespace

std::string structural_error(const Schedule& s) {
  const Checker ck(s);
  if (static_cast<int>(s.programs.size()) != s.ranks)
    return "the schedule has " + std::to_string(s.programs.size()) + " rank programs for " + std::to_string(s.ranks) + " ranks";
  // Per chunk: done flags (F, B, split, W), and what each rank holds (activation / gradient inputs).
  std::vector<char> f_done(ck.size(), 0), b_done(ck.size(), 0), split(ck.size(), 0), w_done(ck.size(), 0);
  std::vector<std::vector<Message>> sends(static_cast<size_t>(s.ranks) * static_cast<size_t>(s.ranks)), recvs(sends.size());

  for (int r = 0; r < s.ranks; ++r) {
    const RankProgram& p = s.programs[static_cast<size_t>(r)];
    std::vector<char> act_here(ck.size(), 0), grad_here(ck.size(), 0);   // tensors this rank holds
    auto check_group = [&](const std::vector<Transfer>& g, size_t index) -> std::string {
      for (const Transfer& t : g) {
        const std::string at = position(s, r, index);
        if (!ck.valid(t.of) || t.peer < 0 || t.peer >= s.ranks || t.peer == r || (t.grad ? t.of.stage == 0 : t.of.stage == s.pp - 1))
          return "rank " + std::to_string(r) + " posts a malformed transfer " + at;
        const int producer = s.rank_of(t.of), reader = s.rank_of(neighbour(t.of, t.grad ? -1 : +1));
        if (t.send) {
          if (producer != r || !(t.grad ? grad_here : act_here)[ck.key(t.of)])
            return "rank " + std::to_string(r) + " sends " + tensor_text(s, t) + " " + at + ", before computing it";
          if (t.peer != reader)
            return "rank " + std::to_string(r) + " sends " + tensor_text(s, t) + " to rank " + std::to_string(t.peer) + " " + at +
                   ", but rank " + std::to_string(reader) + " reads it";
          sends[static_cast<size_t>(r * s.ranks + t.peer)].push_back({t, r, index});
        } else {
          if (reader != r || t.peer != producer)
            return "rank " + std::to_string(r) + " receives " + tensor_text(s, t) + " from rank " + std::to_string(t.peer) + " " + at +
                   ", which is not a tensor that rank sends to it";
          (t.grad ? grad_here : act_here)[ck.key(t.of)] = 1;
          recvs[static_cast<size_t>(t.peer * s.ranks + r)].push_back({t, r, index});
        }
      }
      return "";
    };
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const Op& op = p.ops[i];
      if (std::string e = check_group(op.comm, i); !e.empty()) return e;
      const bool fwd = op.kind == OpKind::F || op.kind == OpKind::FB, bwd = op.kind == OpKind::B || op.kind == OpKind::FB;
      for (const Chunk* c : {fwd ? &op.f : nullptr, op.kind != OpKind::F ? &op.b : nullptr}) {
        if (!c) continue;
        if (!ck.valid(*c)) return describe_op(s, r, i) + " names a micro-batch or stage outside the schedule";
        if (s.rank_of(*c) != r)
          return describe_op(s, r, i) + " runs on rank " + std::to_string(r) + ", but that stage lives on rank " + std::to_string(s.rank_of(*c));
      }
      if (fwd) {
        const size_t k = ck.key(op.f);
        if (f_done[k]) return describe_op(s, r, i) + " repeats a forward already run";
        if (op.f.stage > 0 && !act_here[ck.key(neighbour(op.f, -1))])
          return describe_op(s, r, i) + " runs before its input activation has arrived";
        f_done[k] = act_here[k] = 1;
      }
      if (bwd) {
        const size_t k = ck.key(op.b);
        if (!f_done[k]) return describe_op(s, r, i) + " runs before its forward";
        if (b_done[k]) return describe_op(s, r, i) + " repeats a backward already run";
        if (op.b.stage < s.pp - 1 && !grad_here[ck.key(neighbour(op.b, +1))])
          return describe_op(s, r, i) + " runs before the gradient of its output has arrived";
        b_done[k] = grad_here[k] = 1;
        split[k] = op.split;
      }
      if (op.kind == OpKind::W) {
        const size_t k = ck.key(op.b);
        if (!b_done[k]) return describe_op(s, r, i) + " runs before its backward";
        if (!split[k]) return describe_op(s, r, i) + " computes weight gradients its backward already computed";
        if (w_done[k]) return describe_op(s, r, i) + " repeats a W already run";
        w_done[k] = 1;
      }
    }
    if (std::string e = check_group(p.tail, p.ops.size()); !e.empty()) return e;
  }

  for (int dir = 0; dir < ck.directions; ++dir)
    for (int mb = 0; mb < s.micro_batches; ++mb)
      for (int st = 0; st < s.pp; ++st) {
        const Chunk c{mb, st, dir};
        if (!ck.valid(c)) continue;
        const size_t k = ck.key(c);
        const std::string at = where(s, c) + " (rank " + std::to_string(s.rank_of(c)) + ")";
        if (!f_done[k]) return at + " never runs its forward";
        if (!b_done[k]) return at + " never runs its backward";
        if (split[k] && !w_done[k]) return at + " splits its backward but never runs its W";
      }

  for (int src = 0; src < s.ranks; ++src)
    for (int dst = 0; dst < s.ranks; ++dst) {
      const auto& out = sends[static_cast<size_t>(src * s.ranks + dst)];
      const auto& in = recvs[static_cast<size_t>(src * s.ranks + dst)];
      for (size_t i = 0; i < std::max(out.size(), in.size()); ++i) {
        if (i >= in.size())
          return "rank " + std::to_string(src) + " sends " + tensor_text(s, out[i].t) + " to rank " + std::to_string(dst) + " " +
                 position(s, src, out[i].index) + ", but rank " + std::to_string(dst) + " never receives it";
        if (i >= out.size())
          return "rank " + std::to_string(dst) + " waits for " + tensor_text(s, in[i].t) + " from rank " + std::to_string(src) + " " +
                 position(s, dst, in[i].index) + ", which never sends it";
        if (!(out[i].t.of == in[i].t.of) || out[i].t.grad != in[i].t.grad)
          return "rank " + std::to_string(dst) + "'s " + ordinal(i + 1) + " receive from rank " + std::to_string(src) + " " +
                 position(s, dst, in[i].index) + " expects " + tensor_text(s, in[i].t) + ", but that rank's " + ordinal(i + 1) +
                 " send to it carries " + tensor_text(s, out[i].t);
      }
    }
  return "";
}

}  // namespace ds::ch06
