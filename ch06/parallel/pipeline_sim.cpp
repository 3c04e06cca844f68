#include "ch06/parallel/pipeline_sim.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ds::ch06 {

std::string durations_error(const Durations& d) {
  for (auto [name, v] : {std::pair{"F", d.F}, {"B", d.B}, {"W", d.W}, {"F&B", d.FB}, {"the latency", d.latency}})
    if (!std::isfinite(v) || v < 0) return std::string(name) + " must be a finite duration >= 0";
  if (d.F <= 0 || d.B <= 0) return "F and B must be longer than 0";
  if (d.W > d.B) return "W is part of the full backward B, so it cannot be longer than B";
  if (d.FB < std::max(d.F, d.B) || d.FB > d.F + d.B)
    return "F&B overlaps a forward and a full backward, so it lies between max(F, B) and F + B";
  return "";
}

double op_duration(const Op& op, const Durations& d) {
  switch (op.kind) {
    case OpKind::F: return d.F;
    case OpKind::B: return op.split ? d.B - d.W : d.B;
    case OpKind::W: return d.W;
    case OpKind::FB: return op.split ? d.FB - d.W : d.FB;
  }
  return 0;
}

double Timeline::max_bubble() const { return bubble.empty() ? 0 : *std::max_element(bubble.begin(), bubble.end()); }
int Timeline::max_peak_activations() const { return peak_activations.empty() ? 0 : *std::max_element(peak_activations.begin(), peak_activations.end()); }

namespace {

// Group g of a rank is the transfer list posted before op g; g = ops.size() is the tail.
const std::vector<Transfer>& group(const RankProgram& p, size_t g) { return g < p.ops.size() ? p.ops[g].comm : p.tail; }

struct Slot {
  int rank = -1;
  size_t group = 0;
};

// For every transfer, where its other end is posted: the k-th send from a to b meets the k-th
// receive on b from a. [rank][group][transfer in group]; rank -1: no other end.
std::vector<std::vector<std::vector<Slot>>> match_ends(const Schedule& s) {
  const auto R = static_cast<size_t>(s.ranks);
  std::vector<std::vector<Slot>> sends(R * R), recvs(R * R);
  std::vector<std::vector<std::vector<Slot>>> partner(R);
  for (size_t r = 0; r < R; ++r) {
    const RankProgram& p = s.programs[r];
    partner[r].resize(p.ops.size() + 1);
    for (size_t g = 0; g <= p.ops.size(); ++g) {
      partner[r][g].resize(group(p, g).size());
      for (const Transfer& t : group(p, g)) {
        const size_t src = t.send ? r : static_cast<size_t>(t.peer), dst = t.send ? static_cast<size_t>(t.peer) : r;
        (t.send ? sends : recvs)[src * R + dst].push_back({static_cast<int>(r), g});
      }
    }
  }
  // Walk the groups again in the same order to give each transfer its partner.
  std::vector<size_t> taken_s(R * R, 0), taken_r(R * R, 0);
  for (size_t r = 0; r < R; ++r) {
    const RankProgram& p = s.programs[r];
    for (size_t g = 0; g <= p.ops.size(); ++g) {
      const auto& grp = group(p, g);
      for (size_t i = 0; i < grp.size(); ++i) {
        const Transfer& t = grp[i];
        const size_t src = t.send ? r : static_cast<size_t>(t.peer), dst = t.send ? static_cast<size_t>(t.peer) : r;
        const size_t c = src * R + dst;
        const size_t k = t.send ? taken_s[c]++ : taken_r[c]++;
        const auto& other = t.send ? recvs[c] : sends[c];
        if (k < other.size()) partner[r][g][i] = other[k];
      }
    }
  }
  return partner;
}

}  // namespace

Timeline timeline_from_spans(const Schedule& s, std::vector<std::vector<OpSpan>> spans, double makespan) {
  Timeline tl;
  tl.spans = std::move(spans);
  const size_t R = tl.spans.size();
  tl.busy.assign(R, 0.0);
  tl.peak_activations.assign(R, 0);
  tl.held.assign(R, {{0.0, 0}});
  for (size_t r = 0; r < R; ++r) {
    int count = 0;
    auto hold = [&](double t, int delta) {
      count += delta;
      tl.held[r].push_back({t, count});
      tl.peak_activations[r] = std::max(tl.peak_activations[r], count);
    };
    const auto& ops = s.programs.at(r).ops;
    for (size_t i = 0; i < tl.spans[r].size() && i < ops.size(); ++i) {
      const Op& op = ops[i];
      const OpSpan& span = tl.spans[r][i];
      tl.busy[r] += span.end - span.start;
      makespan = std::max(makespan, span.end);
      if (op.kind == OpKind::F || op.kind == OpKind::FB) hold(span.start, +1);
      if (op.kind == OpKind::W || ((op.kind == OpKind::B || op.kind == OpKind::FB) && !op.split)) hold(span.end, -1);
    }
  }
  tl.makespan = makespan;
  tl.bubble.resize(R);
  for (size_t r = 0; r < R; ++r) tl.bubble[r] = tl.makespan - tl.busy[r];
  return tl;
}

Timeline simulate(const Schedule& s, const Durations& d, SendWait sends) {
  if (std::string e = structural_error(s); !e.empty()) throw std::invalid_argument(e);
  if (std::string e = durations_error(d); !e.empty()) throw std::invalid_argument(e);
  const auto R = static_cast<size_t>(s.ranks);
  const auto partner = match_ends(s);
  Timeline tl;
  tl.spans.resize(R);
  std::vector<std::vector<double>> posted(R);   // when each group was posted; < 0: not yet
  std::vector<size_t> pc(R, 0);                 // next group to complete
  std::vector<double> finish(R, 0.0);
  for (size_t r = 0; r < R; ++r) {
    posted[r].assign(s.programs[r].ops.size() + 1, -1.0);
    posted[r][0] = 0;
  }

  // What group g of rank r waits for, as (group, transfer) pairs: its receives, and its sends too
  // when sends block; with sends left in flight, the tail waits for every send of the step.
  auto waits = [&](size_t r, size_t g) {
    const RankProgram& p = s.programs[r];
    std::vector<std::pair<size_t, size_t>> out;
    const bool tail = g == p.ops.size();
    for (size_t gg = (tail && sends == SendWait::AtTail ? 0 : g); gg <= g; ++gg)
      for (size_t i = 0; i < group(p, gg).size(); ++i)
        if (gg == g ? (!group(p, gg)[i].send || sends == SendWait::BeforeNextOp || tail) : group(p, gg)[i].send) out.push_back({gg, i});
    return out;
  };
  auto other_posted = [&](size_t r, size_t g, size_t i) {
    const Slot& o = partner[r][g][i];
    return o.rank >= 0 && posted[static_cast<size_t>(o.rank)][o.group] >= 0;
  };

  for (bool progress = true; progress;) {
    progress = false;
    for (size_t r = 0; r < R; ++r) {
      const RankProgram& p = s.programs[r];
      while (pc[r] <= p.ops.size()) {
        const size_t g = pc[r];
        double ready = posted[r][g];
        bool complete = true;
        for (auto [gg, i] : waits(r, g)) {
          if (!other_posted(r, gg, i)) {
            complete = false;
            break;
          }
          const Slot& o = partner[r][gg][i];
          ready = std::max(ready, std::max(posted[r][gg], posted[static_cast<size_t>(o.rank)][o.group]) + d.latency);
        }
        if (!complete) break;
        ++pc[r];
        progress = true;
        if (g == p.ops.size()) {
          finish[r] = ready;
          break;
        }
        const Op& op = p.ops[g];
        const double end = ready + op_duration(op, d);
        tl.spans[r].push_back({ready, end});
        posted[r][g + 1] = end;
      }
    }
  }

  for (size_t r = 0; r < R && tl.deadlock.empty(); ++r) {
    const RankProgram& p = s.programs[r];
    if (pc[r] > p.ops.size()) continue;
    const size_t g = pc[r];
    const std::string before = g < p.ops.size() ? "before " + describe_op(s, static_cast<int>(r), g) : "after its last op";
    for (auto [gg, i] : waits(r, g)) {
      if (other_posted(r, gg, i)) continue;
      const Slot& other = partner[r][gg][i];
      const Transfer& t = group(p, gg)[i];
      const std::string what = std::string(t.send ? "to send " : "to receive ") + (t.grad ? "a gradient" : "an activation") +
                               (t.send ? " to rank " : " from rank ") + std::to_string(t.peer);
      if (other.rank < 0) {
        tl.deadlock = "rank " + std::to_string(r) + " waits forever " + before + " " + what + " that is never matched";
      } else {
        const auto o = static_cast<size_t>(other.rank);
        const std::string blocked = pc[o] < s.programs[o].ops.size() ? "before " + describe_op(s, other.rank, pc[o]) : "at its tail";
        tl.deadlock = "deadlock: rank " + std::to_string(r) + " waits " + before + " " + what + ", which is blocked " + blocked;
      }
      break;
    }
  }
  double makespan = 0;
  for (size_t r = 0; r < R; ++r) makespan = std::max(makespan, finish[r]);
  std::string deadlock = std::move(tl.deadlock);
  tl = timeline_from_spans(s, std::move(tl.spans), makespan);
  tl.deadlock = std::move(deadlock);
  return tl;
}

std::string validate(const Schedule& s) {
  if (std::string e = structural_error(s); !e.empty()) return e;
  return simulate(s, Durations{}, SendWait::BeforeNextOp).deadlock;
}

Table2Row v3_table2(ScheduleKind k, int pp, int m, const Durations& d) {
  switch (k) {
    case ScheduleKind::GPipe: return {"(PP-1)(F+B)", (pp - 1) * (d.F + d.B), 1, "M", m, pp};
    case ScheduleKind::OneFOneB: return {"(PP-1)(F+B)", (pp - 1) * (d.F + d.B), 1, "PP", pp, pp};
    case ScheduleKind::ZB1P: return {"(PP-1)(F+B-2W)", (pp - 1) * (d.F + d.B - 2 * d.W), 1, "PP", pp, pp};
    case ScheduleKind::DualPipe: return {"(PP/2-1)(F&B+B-3W)", (pp / 2 - 1) * (d.FB + d.B - 3 * d.W), 2, "PP+1", pp + 1, pp};
    case ScheduleKind::DualPipeV: return {"(PP/2-1)(F&B+B-3W)", (pp / 2 - 1) * (d.FB + d.B - 3 * d.W), 2, "PP+1", pp + 1, pp / 2};
  }
  return {};
}

Gantt timeline_gantt(const Schedule& s, const Timeline& t, const std::string& title) {
  Gantt g;
  g.title = title;
  g.xlabel = "time (units of the durations given)";
  g.categories = {"forward", "backward", "backward for input", "backward for weights", "overlapped forward & backward"};
  g.colors = {"#E69F00", "#009E73", "#8FD1AE", "#0072B2", "#CC79A7"};
  g.show_idle = true;
  for (int r = 0; r < s.ranks; ++r) {
    std::string lane = "rank " + std::to_string(r);
    if (s.chunks_per_rank() == 2) lane += " (stages " + std::to_string(r) + ", " + std::to_string(s.pp - 1 - r) + ")";
    g.lanes.push_back(lane);
    const auto& ops = s.programs[static_cast<size_t>(r)].ops;
    for (size_t i = 0; i < ops.size() && i < t.spans[static_cast<size_t>(r)].size(); ++i) {
      const Op& op = ops[i];
      const OpSpan& span = t.spans[static_cast<size_t>(r)][i];
      std::string label = std::to_string(op.kind == OpKind::F || op.kind == OpKind::FB ? op.f.mb : op.b.mb), cat;
      switch (op.kind) {
        case OpKind::F: cat = g.categories[0]; break;
        case OpKind::B: cat = g.categories[op.split ? 2 : 1]; break;
        case OpKind::W: cat = g.categories[3]; break;
        case OpKind::FB:
          cat = g.categories[4];
          label += '|';
          label += std::to_string(op.b.mb);
          break;
      }
      g.boxes.push_back({r, span.start, span.end - span.start, label, cat});
    }
  }
  const double px = std::clamp(1400.0 / std::max(t.makespan, 1e-9), 6.0, 18.0);   // pixels per time unit
  g.width = static_cast<int>(std::clamp(200 + px * t.makespan, 900.0, 2600.0));
  return g;
}

}  // namespace ds::ch06
