// bench/split_backward: the two halves of a split backward (common/autograd.hpp) through one
// MLA + DeepSeekMoE block of the mini preset at batch 8 x 128: B (backward_inputs, the gradient
// of the block's input, which a pipeline stage sends upstream at once) and W (WeightGradWork::run,
// the weight gradients, which ZB1P and DualPipe run later to fill bubbles), against one full
// backward; and the same for the routed-experts op alone. A zero-bubble schedule wants W to cost
// about what B does and B + W to cost no more than the full backward.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include "bench/bench_util.hpp"
#include "ch04/moe.hpp"
#include "ch06/config.hpp"
#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/ops.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using bench::cpu_seconds;
using bench::median;

namespace {
struct Times {
  double b = 0, w = 0, full = 0;           // median wall seconds
  double b_cpu = 0, w_cpu = 0, full_cpu = 0;   // median CPU seconds of the process: the work done, which other
                                               // programs on a loaded machine do not inflate (run with --threads 1)
};

// forward() builds the graph and returns {output, input leaf}; params are the leaves W fills.
template <class Forward>
Times time_halves(const Forward& forward, const std::vector<Tensor>& params, const Tensor& gy, int reps) {
  std::vector<double> b, w, full, b_cpu, w_cpu, full_cpu;
  for (int r = 0; r < reps + 1; ++r) {   // the first round warms up
    for (Tensor p : params) p.zero_grad();
    auto [y, x] = forward();
    Timer t;
    const double c0 = cpu_seconds();
    WeightGradWork work = backward_inputs({y}, {gy}, {x});
    const double tb = t.seconds(), cb = cpu_seconds() - c0;
    work.run();
    const double tw = t.seconds() - tb, cw = cpu_seconds() - c0 - cb;
    for (Tensor p : params) p.zero_grad();
    auto [y2, x2] = forward();
    Timer t2;
    const double c2 = cpu_seconds();
    y2.backward(gy);
    const double tf = t2.seconds(), cf = cpu_seconds() - c2;
    if (r == 0) continue;
    b.push_back(tb);
    w.push_back(tw);
    full.push_back(tf);
    b_cpu.push_back(cb);
    w_cpu.push_back(cw);
    full_cpu.push_back(cf);
  }
  return {median(b), median(w), median(full), median(b_cpu), median(w_cpu), median(full_cpu)};
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("bench_split_backward", [&] {
    Flags flags("bench_split_backward", "B and W halves of a split backward through an MLA + MoE block and through the routed experts alone.");
    RunOptions run;
    add_run_flags(flags, run, "bench_split_backward");
    int64_t batch = 8, seq = 128;
    int reps = 15;
    flags.add("--batch", batch, "sequences").min(1);
    flags.add("--seq", seq, "tokens per sequence").min(2).max(256);
    flags.add("--reps", reps, "timed repetitions (medians are reported)").min(1).quick(2);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("bench/split_backward", "split backward B (input gradients) and W (weight gradients) against one full backward");

    const ch06::DeepSeekConfig cfg = ch06::preset("mini");
    // x0, gy, the block's input gradient and output, and a copy for the experts alone: 5 [batch, seq, hidden] tensors at least
    memory::require_fits(5.0 * 4.0 * static_cast<double>(batch) * static_cast<double>(seq) * static_cast<double>(cfg.hidden_size),
                         fmt("a batch of %lld x %lld tokens", (long long)batch, (long long)seq), "lower --batch");
    const ch04::MoEModelConfig mc = ch06::model_config(cfg);
    Rng rng(run.seed);
    ch02::Block block(mc.lm, ch04::moe_model_attention(mc)(1, rng), ch04::moe_model_feed_forward(mc)(1, rng));   // layer 1: MoE
    auto* moe = dynamic_cast<ch04::MoE*>(block.mlp.get());
    const Tensor x0 = randn({batch, seq, cfg.hidden_size}, rng), gy = randn({batch, seq, cfg.hidden_size}, rng, 1e-3f);
    const Times blk = time_halves(
        [&] {
          Tensor x = x0.clone().requires_grad_();
          return std::pair{block.forward(x, nullptr), x};
        },
        block.parameters(), gy, reps);

    // The routed experts alone, with the routing the block's gate makes of x0.
    const int64_t n = batch * seq, k = cfg.num_experts_per_tok;
    const Tensor u = reshape(x0, {n, cfg.hidden_size});
    const ch04::Routing r = [&] {
      NoGradGuard ng;
      return moe->gate.forward(u);
    }();
    std::vector<std::vector<int32_t>> slots(static_cast<size_t>(cfg.n_routed_experts));
    for (int32_t q = 0; q < static_cast<int32_t>(n * k); ++q) slots[static_cast<size_t>(r.experts[q])].push_back(q);
    const Tensor g = reshape(r.weights, {n * k}).clone().requires_grad_();
    const ch04::ExpertWeights ew = moe->expert_weights();
    std::vector<Tensor> expert_params;
    for (const auto* list : {&ew.gate_proj, &ew.up_proj, &ew.down_proj}) expert_params.insert(expert_params.end(), list->begin(), list->end());
    const Tensor gy_flat = reshape(gy, {n, cfg.hidden_size});
    const Times op = time_halves(
        [&] {
          Tensor x = u.clone().requires_grad_();   // g enters through an op, as the gate's weights do: B owes its gradient
          return std::pair{ch04::routed_experts(x, mul_scalar(g, 1.f), k, slots, ew), x};
        },
        [&] {
          std::vector<Tensor> p = expert_params;
          p.push_back(g);
          return p;
        }(),
        gy_flat, reps);

    Table t({"", "B (input grads) ms", "W (weight grads) ms", "W / B", "B + W ms", "full backward ms"});
    for (auto [name, tm] : {std::pair{"MLA + MoE block", blk}, std::pair{"routed experts op", op}}) {
      t.row({std::string(name) + ", wall", fmt("%.2f", 1e3 * tm.b), fmt("%.2f", 1e3 * tm.w), fmt("%.2f", tm.w / tm.b), fmt("%.2f", 1e3 * (tm.b + tm.w)),
             fmt("%.2f", 1e3 * tm.full)});
      t.row({std::string(name) + ", CPU", fmt("%.2f", 1e3 * tm.b_cpu), fmt("%.2f", 1e3 * tm.w_cpu), fmt("%.2f", tm.w_cpu / tm.b_cpu),
             fmt("%.2f", 1e3 * (tm.b_cpu + tm.w_cpu)), fmt("%.2f", 1e3 * tm.full_cpu)});
    }
    std::printf("mini preset, batch %lld x %lld tokens, %d threads, medians of %d runs (wall time, and CPU time of all threads)\n\n", (long long)batch,
                (long long)seq, omp_get_max_threads(), reps);
    t.print();
    Summary s;
    s.set("block.b_ms", 1e3 * blk.b);
    s.set("block.w_ms", 1e3 * blk.w);
    s.set("block.full_ms", 1e3 * blk.full);
    s.set("block.w_over_b", blk.w / blk.b);
    s.set("block.w_over_b_cpu", blk.w_cpu / blk.b_cpu);
    s.set("routed_experts.b_ms", 1e3 * op.b);
    s.set("routed_experts.w_ms", 1e3 * op.w);
    s.set("routed_experts.full_ms", 1e3 * op.full);
    s.set("routed_experts.w_over_b", op.w / op.b);
    s.set("routed_experts.w_over_b_cpu", op.w_cpu / op.b_cpu);
    report.write(s);
    return 0;
  });
}
