// Pipeline schedules as data: DualPipe's and DualPipeV's op lists against the order
// deepseek-ai/DualPipe's own code runs, every schedule's rules, and broken schedules reported
// in one sentence naming the op.
#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "ch06/parallel/pipeline_schedule.hpp"
#include "ch06/parallel/pipeline_sim.hpp"
#include "common/fsutil.hpp"

using namespace ds::ch06;

namespace {

struct Trace {
  std::string name;
  int ranks = 0, micro_batches = 0;
  std::vector<std::string> lines;   // "F0.0 [s1:a0.0] F0.1 ...", one per rank
};

// tests/fixtures/dualpipe_order.txt: recorded by tools/dualpipe_trace.py, which runs the
// unmodified deepseek-ai/DualPipe package (commit 3da1bbe) once per rank with its point-to-point
// calls and the stage's autograd replaced by recorders (see that script).
std::vector<Trace> read_traces() {
  std::istringstream in(ds::read_text_file(std::string(DS_SOURCE_DIR) + "/ch06/parallel/tests/fixtures/dualpipe_order.txt"));
  std::vector<Trace> out;
  for (std::string line; std::getline(in, line);) {
    char name[32];
    int r = 0, m = 0;
    if (std::sscanf(line.c_str(), "# %31s ranks=%d micro_batches=%d", name, &r, &m) == 3) {
      out.push_back({name, r, m, {}});
    } else if (line.rfind("rank ", 0) == 0) {
      REQUIRE(!out.empty());
      out.back().lines.push_back(line.substr(line.find(": ") + 2));
    }
  }
  return out;
}

Schedule from_trace(const Trace& t) {
  const ScheduleKind k = parse_schedule(t.name);
  return make_schedule(k, k == ScheduleKind::DualPipeV ? 2 * t.ranks : t.ranks, t.micro_batches);
}

}  // namespace

TEST_CASE("DualPipe and DualPipeV: op lists, transfers included, match deepseek-ai/DualPipe's scheduler for PP 4 and 8, M 8 and 20") {
  const std::vector<Trace> traces = read_traces();
  int dualpipe = 0, dualpipev = 0;
  for (const Trace& t : traces) {
    INFO(t.name << " ranks=" << t.ranks << " M=" << t.micro_batches);
    const Schedule s = from_trace(t);
    REQUIRE(static_cast<int>(t.lines.size()) == s.ranks);
    for (int r = 0; r < s.ranks; ++r) {
      INFO("rank " << r);
      CHECK(format_rank(s, r) == t.lines[static_cast<size_t>(r)]);
    }
    (s.kind == ScheduleKind::DualPipe ? dualpipe : dualpipev) += 1;
  }
  CHECK(dualpipe == 3);    // PP 4 with M 8 and 20, PP 8 with M 20
  CHECK(dualpipev == 4);   // PP 4 (2 ranks) and PP 8 (4 ranks), each with M 8 and 20
  // DualPipe.step asserts num_chunks >= 2 * num_ranks, so PP 8 with M 8 has no order to match:
  // refused here too, in one sentence.
  try {
    make_schedule(ScheduleKind::DualPipe, 8, 8);
    FAIL("DualPipe with PP 8 and M 8 was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "DualPipe with PP = 8 and M = 8: M must be at least 2 PP = 16, as deepseek-ai/DualPipe asserts");
  }
}

TEST_CASE("DualPipe places stage r of direction 0 and stage PP-1-r of direction 1 on rank r, DualPipeV stages r and PP-1-r of one pipe") {
  const Schedule d = make_schedule(ScheduleKind::DualPipe, 8, 20);
  CHECK(d.ranks == 8);
  CHECK(d.chunks_per_rank() == 2);
  const Schedule v = make_schedule(ScheduleKind::DualPipeV, 8, 20);
  CHECK(v.ranks == 4);
  CHECK(v.chunks_per_rank() == 2);
  for (int r = 0; r < 8; ++r)
    for (const Op& op : d.programs[static_cast<size_t>(r)].ops)
      for (const Chunk& c : {op.f, op.b})
        if (c.mb >= 0) {
          CHECK(c.stage == (c.direction == 0 ? r : 7 - r));
          CHECK((c.mb >= 10) == (c.direction == 1));   // M/2 micro-batches enter from each end
        }
  for (int r = 0; r < 4; ++r)
    for (const Op& op : v.programs[static_cast<size_t>(r)].ops)
      for (const Chunk& c : {op.f, op.b})
        if (c.mb >= 0) CHECK((c.stage == r || c.stage == 7 - r));
  // DualPipeV's turn at the last rank is local: stage 3's output feeds stage 4 with no message.
  for (const Op& op : v.programs[3].ops)
    for (const Transfer& t : op.comm) CHECK(t.peer == 2);
}

TEST_CASE("every schedule is valid for a range of PP and M: F before B before W, matched transfers, no deadlock") {
  for (ScheduleKind k : all_schedules())
    for (int pp : {2, 4, 6, 8, 16})
      for (int m : {1, 2, 3, 4, 7, 8, 12, 16, 20, 32, 33}) {
        Schedule s;
        try {
          s = make_schedule(k, pp, m);
        } catch (const std::invalid_argument&) {
          const bool dual = k == ScheduleKind::DualPipe, v = k == ScheduleKind::DualPipeV;
          CHECK(((dual && (m % 2 != 0 || m < 2 * pp)) || (v && m < pp)));   // refused only where DualPipe's code refuses
          continue;
        }
        INFO(schedule_name(k) << " PP=" << pp << " M=" << m);
        CHECK(validate(s) == "");
        int forwards = 0;
        for (const RankProgram& p : s.programs)
          for (const Op& op : p.ops) forwards += op.kind == OpKind::F || op.kind == OpKind::FB;
        CHECK(forwards == pp * m);   // every micro-batch through every stage once
      }
}

TEST_CASE("1F1B: rank r warms up with PP-1-r forwards, GPipe runs every forward first, ZB1P splits every backward") {
  const Schedule s = make_schedule(ScheduleKind::OneFOneB, 4, 8);
  for (int r = 0; r < 4; ++r) {
    const auto& ops = s.programs[static_cast<size_t>(r)].ops;
    int warmup = 0;
    while (ops[static_cast<size_t>(warmup)].kind == OpKind::F) ++warmup;
    CHECK(warmup == 4 - r);   // PP-1-r warm-up forwards, then the first steady-state forward
  }
  CHECK(format_rank(make_schedule(ScheduleKind::GPipe, 2, 3), 0) == "F0.0 [s1:a0.0] F0.1 [s1:a0.1] F0.2 [s1:a0.2 r1:g0.2] B0.2 [r1:g0.1] B0.1 [r1:g0.0] B0.0");
  // ZB1P on the last rank of 4: F b F b F b F b W ... (the Ws wait until 4 micro-batches are held).
  const std::string last = format_rank(make_schedule(ScheduleKind::ZB1P, 4, 6), 3);
  CHECK(last.rfind("[r2:a0.0] F0.0 b0.0 [s2:g0.0 r2:a0.1] F0.1 b0.1 [s2:g0.1 r2:a0.2] F0.2 b0.2 [s2:g0.2 r2:a0.3] F0.3 b0.3 [s2:g0.3] W0.0", 0) == 0);
  const Schedule zb = make_schedule(ScheduleKind::ZB1P, 4, 6);   // named: a range-for over a temporary's member dangles (ASan)
  for (const Op& op : zb.programs[1].ops)
    if (op.kind == OpKind::B) CHECK(op.split);
}

TEST_CASE("broken schedules are reported in one sentence naming the op") {
  // B before its F.
  Schedule s = make_schedule(ScheduleKind::OneFOneB, 2, 2);
  auto& last = s.programs[1].ops;   // F0 B0 F1 B1 on the last rank
  std::swap(last[2].kind, last[3].kind);
  std::swap(last[2].f, last[3].f);
  std::swap(last[2].b, last[3].b);
  CHECK(validate(s) == "the backward of micro-batch 1 at stage 1 (rank 1, op 2) runs before its forward");

  // A split backward whose W is missing.
  s = make_schedule(ScheduleKind::ZB1P, 2, 2);
  auto& ops = s.programs[0].ops;
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].kind == OpKind::W) {
      ops.erase(ops.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  CHECK(validate(s) == "micro-batch 0 at stage 0 (rank 0) splits its backward but never runs its W");

  // A W before its B: rank 1 runs F0 b0 F1 b1 W0 W1; move W0 to the front of b0.
  s = make_schedule(ScheduleKind::ZB1P, 2, 2);
  auto& zb = s.programs[1].ops;
  REQUIRE(zb[4].kind == OpKind::W);
  Op w0 = zb[4];
  zb.erase(zb.begin() + 4);
  zb[4].comm = std::move(w0.comm);   // the transfers stay where they were
  w0.comm.clear();
  zb.insert(zb.begin() + 1, w0);
  CHECK(validate(s) == "the weight-gradient op W of micro-batch 0 at stage 1 (rank 1, op 1) runs before its backward");

  // A missing receive.
  s = make_schedule(ScheduleKind::OneFOneB, 2, 2);
  s.programs[1].ops[0].comm.clear();   // rank 1 no longer receives micro-batch 0's activation
  CHECK(validate(s) == "the forward of micro-batch 0 at stage 1 (rank 1, op 0) runs before its input activation has arrived");

  // Receives in the wrong order.
  s = make_schedule(ScheduleKind::GPipe, 2, 2);
  auto& g = s.programs[1].ops;   // [r0:a0.0] F0.0 [s0:... r0:a0.1] F0.1 ...
  std::swap(g[0].comm, g[1].comm);
  CHECK(!validate(s).empty());

  // A deadlock: rank 0 holds micro-batch 0's activation back until after its backward, which
  // needs rank 1's gradient, which needs that activation.
  s = make_schedule(ScheduleKind::OneFOneB, 2, 1);   // rank 0: F0 [s1:a0.0 r1:g0.0] B0; rank 1: [r0:a0.0] F0 B0 [s0:g0.0]
  REQUIRE(s.programs[0].ops[1].comm.size() == 2);
  s.programs[0].tail.push_back(s.programs[0].ops[1].comm[0]);
  s.programs[0].ops[1].comm.erase(s.programs[0].ops[1].comm.begin());
  CHECK(structural_error(s) == "");
  CHECK(validate(s) ==
        "deadlock: rank 0 waits before the backward of micro-batch 0 at stage 0 (rank 0, op 1) to receive a gradient from rank 1, "
        "which is blocked before the forward of micro-batch 0 at stage 1 (rank 1, op 0)");

  // A send before the op that computes it.
  s = make_schedule(ScheduleKind::OneFOneB, 2, 2);
  s.programs[0].ops[0].comm.push_back(s.programs[0].ops[1].comm[0]);
  s.programs[0].ops[1].comm.erase(s.programs[0].ops[1].comm.begin());
  CHECK(validate(s) == "rank 0 sends the activation from the forward of micro-batch 0 at stage 0 before the forward of micro-batch 0 at stage 0 "
                       "(rank 0, op 0), before computing it");
}

TEST_CASE("make_schedule refuses what the schedules cannot run, in one sentence") {
  CHECK_THROWS_WITH_AS(make_schedule(ScheduleKind::DualPipe, 6, 13), "DualPipe with PP = 6 and M = 13: M must be even (half the micro-batches go each way)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule(ScheduleKind::DualPipeV, 5, 20), "DualPipeV with PP = 5 and M = 20: PP must be even", std::invalid_argument);
  CHECK_THROWS_AS(make_schedule(ScheduleKind::OneFOneB, 1, 4), std::invalid_argument);
  CHECK_THROWS_AS(make_schedule(ScheduleKind::GPipe, 4, 0), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("pipedream"), "unknown schedule 'pipedream' (choose gpipe, 1f1b, zb1p, dualpipe or dualpipev)",
                       std::invalid_argument);
}
