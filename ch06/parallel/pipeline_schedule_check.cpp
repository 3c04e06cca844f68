// structural_error (pipeline_schedule.hpp): the rules every schedule's op lists must keep,
// checked by walking each rank's program once and pairing sends with receives per channel.
#include <algorithm>
#include <string>
#include <vector>

#include "ch06/parallel/pipeline_schedule.hpp"

namespace ds::ch06 {

namespace {

std::string ordinal(size_t n) {
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

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
            return "rank " + std::to_string(r) + " sends " + describe_transfer(s, t) + " " + at + ", before computing it";
          if (t.peer != reader)
            return "rank " + std::to_string(r) + " sends " + describe_transfer(s, t) + " to rank " + std::to_string(t.peer) + " " + at +
                   ", but rank " + std::to_string(reader) + " reads it";
          sends[static_cast<size_t>(r * s.ranks + t.peer)].push_back({t, r, index});
        } else {
          if (reader != r || t.peer != producer)
            return "rank " + std::to_string(r) + " receives " + describe_transfer(s, t) + " from rank " + std::to_string(t.peer) + " " + at +
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
        const std::string at = describe_chunk(s, c) + " (rank " + std::to_string(s.rank_of(c)) + ")";
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
          return "rank " + std::to_string(src) + " sends " + describe_transfer(s, out[i].t) + " to rank " + std::to_string(dst) + " " +
                 position(s, src, out[i].index) + ", but rank " + std::to_string(dst) + " never receives it";
        if (i >= out.size())
          return "rank " + std::to_string(dst) + " waits for " + describe_transfer(s, in[i].t) + " from rank " + std::to_string(src) + " " +
                 position(s, dst, in[i].index) + ", which never sends it";
        if (!(out[i].t.of == in[i].t.of) || out[i].t.grad != in[i].t.grad)
          return "rank " + std::to_string(dst) + "'s " + ordinal(i + 1) + " receive from rank " + std::to_string(src) + " " +
                 position(s, dst, in[i].index) + " expects " + describe_transfer(s, in[i].t) + ", but that rank's " + ordinal(i + 1) +
                 " send to it carries " + describe_transfer(s, out[i].t);
      }
    }
  return "";
}

}  // namespace ds::ch06
