// The pipeline simulator against DeepSeek-V3 Table 2: bubbles, parameter copies and activation
// memory of 1F1B, ZB1P, DualPipe and DualPipeV, and the timeline's own consistency.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <stdexcept>
#include <tuple>

#include "ch06/parallel/pipeline_schedule.hpp"
#include "ch06/parallel/pipeline_sim.hpp"
#include "common/fsutil.hpp"
#include "common/plot.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds::ch06;

namespace {

// V3 Table 2 (and deepseek-ai/DualPipe's README table); B is the full backward chunk.
double table2_bubble(ScheduleKind k, int pp, const Durations& d) {
  switch (k) {
    case ScheduleKind::GPipe:
    case ScheduleKind::OneFOneB: return (pp - 1) * (d.F + d.B);
    case ScheduleKind::ZB1P: return (pp - 1) * (d.F + d.B - 2 * d.W);
    case ScheduleKind::DualPipe:
    case ScheduleKind::DualPipeV: return (pp / 2 - 1) * (d.FB + d.B - 3 * d.W);
  }
  return 0;
}

// DeepSeek-V3 Figure 5's (and DualPipe's README's) picture, scaled: a forward, a backward for
// input and a backward for weights take one unit each, so the full backward takes two and an
// overlapped F&B three.
Durations figure5(double unit) { return Durations{unit, 2 * unit, unit, 3 * unit, 0}; }

std::vector<int> micro_batch_counts(ScheduleKind k, int pp) {
  if (k == ScheduleKind::DualPipe) return {2 * pp, 2 * pp + 2, 3 * pp, 4 * pp + 6};
  if (k == ScheduleKind::DualPipeV) return {pp, pp + 1, 2 * pp, 3 * pp + 5};
  return {pp, pp + 3, 2 * pp, 4 * pp};
}

void check_every_rank(const Timeline& t, double expected) {
  for (size_t r = 0; r < t.bubble.size(); ++r) {
    INFO("rank " << r);
    CHECK(t.bubble[r] == doctest::Approx(expected).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("V3 Table 2 exactly, under Figure 5's durations: every rank's bubble for PP 4, 8, 16 and several M") {
  for (ScheduleKind k : all_schedules())
    for (int pp : {4, 8, 16})
      for (int m : micro_batch_counts(k, pp))
        for (double unit : {1.0, 0.5, 3.0}) {
          INFO(schedule_name(k) << " PP=" << pp << " M=" << m << " unit=" << unit);
          const Durations d = figure5(unit);
          const Timeline t = simulate(make_schedule(k, pp, m), d);
          REQUIRE(t.deadlock.empty());
          for (double b : t.bubble) CHECK(b == table2_bubble(k, pp, d));   // binary fractions: exact
        }
}

TEST_CASE("1F1B (PP-1)(F+B) holds for any durations, ZB1P (PP-1)(F+B-2W) whenever a W fits in the gap of an F or an input backward") {
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(0.2, 2.0);
  for (int pp : {4, 8, 16})
    for (int trial = 0; trial < 12; ++trial) {
      Durations d;
      d.F = u(gen);
      const double input = u(gen);                 // backward for input
      d.W = std::min({u(gen), d.F, input});         // Qi et al.'s handcrafted ZB-H1 assumes F = B_input = W
      d.B = input + d.W;
      d.FB = d.F + d.B;
      const int m = 2 * pp + trial;
      INFO("PP=" << pp << " M=" << m << " F=" << d.F << " B=" << d.B << " W=" << d.W);
      check_every_rank(simulate(make_schedule(ScheduleKind::OneFOneB, pp, m), d), table2_bubble(ScheduleKind::OneFOneB, pp, d));
      check_every_rank(simulate(make_schedule(ScheduleKind::ZB1P, pp, m), d), table2_bubble(ScheduleKind::ZB1P, pp, d));
    }
  // A W longer than F no longer fits where ZB1P puts it: the bubble exceeds the formula.
  const Durations slow_w{1, 3, 1.5, 4, 0};
  CHECK(simulate(make_schedule(ScheduleKind::ZB1P, 8, 32), slow_w).max_bubble() > table2_bubble(ScheduleKind::ZB1P, 8, slow_w) + 0.1);
}

TEST_CASE("DualPipe and DualPipeV (PP/2-1)(F&B+B-3W): the busiest rank's bubble whenever F = B - W >= W, every rank's when F&B = F + B") {
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> u(0.2, 2.0), frac(0.0, 1.0);
  for (ScheduleKind k : {ScheduleKind::DualPipe, ScheduleKind::DualPipeV})
    for (int pp : {4, 8, 16})
      for (int trial = 0; trial < 10; ++trial) {
        Durations d;
        d.F = u(gen);
        d.W = std::min(u(gen), d.F);
        d.B = d.F + d.W;                                     // the backward for input as long as the forward
        d.FB = d.B + frac(gen) * d.F;                        // anywhere from max(F, B) to F + B
        const int m = micro_batch_counts(k, pp)[static_cast<size_t>(trial % 4)];
        INFO(schedule_name(k) << " PP=" << pp << " M=" << m << " F=" << d.F << " W=" << d.W << " F&B=" << d.FB);
        const Schedule s = make_schedule(k, pp, m);
        CHECK(simulate(s, d).max_bubble() == doctest::Approx(table2_bubble(k, pp, d)).epsilon(1e-12));
        d.FB = d.F + d.B;
        check_every_rank(simulate(s, d), table2_bubble(k, pp, d));
      }
}

TEST_CASE("DualPipe's bubble does not grow with M") {
  for (int pp : {4, 8, 16})
    for (const Durations& d : {figure5(1), Durations{1.5, 2.5, 1, 3.2, 0}}) {
      const double first = simulate(make_schedule(ScheduleKind::DualPipe, pp, 2 * pp), d).max_bubble();
      for (int m = 2 * pp + 2; m <= 2 * pp + 40; m += 2) {
        INFO("PP=" << pp << " M=" << m);
        CHECK(simulate(make_schedule(ScheduleKind::DualPipe, pp, m), d).max_bubble() == doctest::Approx(first).epsilon(1e-12));
      }
    }
}

TEST_CASE("V3 Table 2's memory columns: parameters 1x / 1x / 2x per device, activations PP / PP / PP+1 micro-batches") {
  for (int pp : {4, 8, 16}) {
    INFO("PP=" << pp);
    const int m = 3 * pp;
    const Timeline gpipe = simulate(make_schedule(ScheduleKind::GPipe, pp, m), figure5(1));
    const Timeline one = simulate(make_schedule(ScheduleKind::OneFOneB, pp, m), figure5(1));
    const Timeline zb = simulate(make_schedule(ScheduleKind::ZB1P, pp, m), figure5(1));
    const Timeline dual = simulate(make_schedule(ScheduleKind::DualPipe, pp, m), figure5(1));
    const Timeline v = simulate(make_schedule(ScheduleKind::DualPipeV, pp, m), figure5(1));
    CHECK(gpipe.max_peak_activations() == m);   // GPipe holds every micro-batch until its backward
    CHECK(one.max_peak_activations() == pp);
    for (int r = 0; r < pp; ++r) CHECK(one.peak_activations[static_cast<size_t>(r)] == pp - r);
    for (int peak : zb.peak_activations) CHECK(peak == pp);   // ZB1P spends the memory 1F1B leaves idle on later ranks
    CHECK(dual.max_peak_activations() == pp + 1);
    CHECK(v.max_peak_activations() == pp + 1);
    CHECK(make_schedule(ScheduleKind::OneFOneB, pp, m).chunks_per_rank() == 1);
    CHECK(make_schedule(ScheduleKind::ZB1P, pp, m).chunks_per_rank() == 1);
    CHECK(make_schedule(ScheduleKind::DualPipe, pp, m).chunks_per_rank() == 2);
    CHECK(make_schedule(ScheduleKind::DualPipeV, pp, m).chunks_per_rank() == 2);
    CHECK(make_schedule(ScheduleKind::DualPipeV, pp, m).ranks == pp / 2);   // V3's #devices column
  }
}

TEST_CASE("the timeline respects every dependency and transfer latency, and its op spans do not overlap") {
  const Durations d{1.0, 2.5, 0.75, 3.0, 0.3};
  for (ScheduleKind k : all_schedules()) {
    const Schedule s = make_schedule(k, 8, 20);
    const Timeline t = simulate(s, d);
    INFO(schedule_name(k));
    REQUIRE(t.deadlock.empty());
    // When each chunk's forward and backward end, to check the next stage against.
    std::map<std::tuple<int, int, int>, double> f_end, b_end;
    for (int r = 0; r < s.ranks; ++r) {
      const auto& ops = s.programs[static_cast<size_t>(r)].ops;
      const auto& spans = t.spans[static_cast<size_t>(r)];
      REQUIRE(spans.size() == ops.size());
      double busy = 0;
      for (size_t i = 0; i < ops.size(); ++i) {
        CHECK(spans[i].end - spans[i].start == doctest::Approx(op_duration(ops[i], d)));
        if (i > 0) CHECK(spans[i].start >= spans[i - 1].end);
        busy += spans[i].end - spans[i].start;
        if (ops[i].kind == OpKind::F || ops[i].kind == OpKind::FB) f_end[{ops[i].f.direction, ops[i].f.mb, ops[i].f.stage}] = spans[i].end;
        if (ops[i].kind == OpKind::B || ops[i].kind == OpKind::FB) b_end[{ops[i].b.direction, ops[i].b.mb, ops[i].b.stage}] = spans[i].end;
      }
      CHECK(t.bubble[static_cast<size_t>(r)] == doctest::Approx(t.makespan - busy));
    }
    for (int r = 0; r < s.ranks; ++r) {
      const auto& ops = s.programs[static_cast<size_t>(r)].ops;
      for (size_t i = 0; i < ops.size(); ++i) {
        const double start = t.spans[static_cast<size_t>(r)][i].start;
        const Op& op = ops[i];
        auto hop = [&](const Chunk& c, int step) { return s.rank_of(Chunk{c.mb, c.stage + step, c.direction}) == r ? 0.0 : d.latency; };
        if ((op.kind == OpKind::F || op.kind == OpKind::FB) && op.f.stage > 0)
          CHECK(start >= f_end[{op.f.direction, op.f.mb, op.f.stage - 1}] + hop(op.f, -1) - 1e-9);
        if ((op.kind == OpKind::B || op.kind == OpKind::FB) && op.b.stage < s.pp - 1)
          CHECK(start >= b_end[{op.b.direction, op.b.mb, op.b.stage + 1}] + hop(op.b, +1) - 1e-9);
      }
    }
  }
}

TEST_CASE("transfer latency: one micro-batch through the pipe pays it at every hop, both ways") {
  for (int pp : {2, 4, 8}) {
    const Durations d{1, 2, 1, 3, 0.25};
    const Timeline t = simulate(make_schedule(ScheduleKind::OneFOneB, pp, 1), d);
    CHECK(t.makespan == pp * (d.F + d.B) + 2 * (pp - 1) * d.latency);
  }
  // More latency never shortens a step.
  for (ScheduleKind k : all_schedules()) {
    const Schedule s = make_schedule(k, 8, 24);
    double last = 0;
    for (double lat : {0.0, 0.1, 0.5, 1.0}) {
      const double makespan = simulate(s, Durations{1, 2, 1, 3, lat}).makespan;
      CHECK(makespan >= last);
      last = makespan;
    }
  }
}

TEST_CASE("sends that block like receives: every list still runs, DualPipe keeps its bubble, ZB1P's deferred Ws wait and lose some") {
  const Durations d = figure5(1);
  for (ScheduleKind k : all_schedules()) {
    const Schedule s = make_schedule(k, 8, 24);
    INFO(schedule_name(k));
    const Timeline t = simulate(s, d, SendWait::BeforeNextOp);
    CHECK(t.deadlock.empty());
    if (k == ScheduleKind::DualPipe || k == ScheduleKind::DualPipeV || k == ScheduleKind::OneFOneB)
      CHECK(t.max_bubble() == table2_bubble(k, 8, d));
    if (k == ScheduleKind::ZB1P) CHECK(t.max_bubble() > table2_bubble(k, 8, d));
  }
}

TEST_CASE("impossible durations are refused in one sentence") {
  CHECK(durations_error(figure5(1)) == "");
  CHECK(durations_error(Durations{1, 2, 3, 3, 0}) == "W is part of the full backward B, so it cannot be longer than B");
  CHECK(durations_error(Durations{1, 2, 1, 3.5, 0}) == "F&B overlaps a forward and a full backward, so it lies between max(F, B) and F + B");
  CHECK(durations_error(Durations{1, 2, 1, 3, -1}) == "the latency must be a finite duration >= 0");
  CHECK_THROWS_AS(simulate(make_schedule(ScheduleKind::OneFOneB, 4, 8), Durations{0, 2, 1, 3, 0}), std::invalid_argument);
}

TEST_CASE("timeline_from_spans: the statistics of measured op spans") {
  // 1F1B on 2 ranks with one micro-batch, timed by hand: rank 0 F [0,1] B [3,5], rank 1 F [1,2] B [2,4].
  const Schedule s = make_schedule(ScheduleKind::OneFOneB, 2, 1);
  const Timeline t = timeline_from_spans(s, {{{0, 1}, {3, 5}}, {{1, 2}, {2, 4}}});
  CHECK(t.makespan == 5);
  CHECK(t.busy == std::vector<double>{3, 3});
  CHECK(t.bubble == std::vector<double>{2, 2});
  CHECK(t.peak_activations == std::vector<int>{1, 1});
  CHECK(t.held[0].back() == std::pair<double, int>{5.0, 0});
}

TEST_CASE("timeline_gantt: one lane per rank, every op a box, F&B boxes name both micro-batches, idle drawn") {
  const Schedule s = make_schedule(ScheduleKind::DualPipe, 4, 8);
  const Timeline t = simulate(s, figure5(1));
  const ds::Gantt g = timeline_gantt(s, t, "DualPipe");
  CHECK(g.lanes.size() == 4);
  CHECK(g.lanes[1] == "rank 1 (stages 1, 2)");
  size_t ops = 0;
  for (const RankProgram& p : s.programs) ops += p.ops.size();
  CHECK(g.boxes.size() == ops);
  CHECK(g.show_idle);
  bool overlapped = false;
  for (const ds::GanttBox& b : g.boxes)
    if (b.category == "overlapped forward & backward") overlapped = b.label.find('|') != std::string::npos;
  CHECK(overlapped);
}

TEST_CASE("timeline_gantt drawn: every box of every schedule carries its label at PP 8, M 20 (the chart widens instead of dropping them)") {
  ds::test::TempDir dir("ds_gantt_labels");
  for (ScheduleKind k : {ScheduleKind::GPipe, ScheduleKind::OneFOneB, ScheduleKind::ZB1P, ScheduleKind::DualPipe, ScheduleKind::DualPipeV}) {
    CAPTURE(schedule_name(k));
    const Schedule s = make_schedule(k, 8, 20);
    const ds::Gantt g = timeline_gantt(s, simulate(s, figure5(1)), schedule_title(k));
    const std::string path = dir.file("gantt.svg");
    ds::write_gantt(path, g);
    const std::string svg = ds::read_text_file(path);
    size_t boxes = 0, labels = 0;
    for (size_t at = svg.find("stroke=\"#fff\""); at != std::string::npos; at = svg.find("stroke=\"#fff\"", at + 1)) ++boxes;
    for (const char* font : {"font-size=\"10\"", "font-size=\"8\""})
      for (size_t at = svg.find(font); at != std::string::npos; at = svg.find(font, at + 1)) ++labels;
    CHECK(boxes == g.boxes.size());
    CHECK(labels == boxes);
  }
}
