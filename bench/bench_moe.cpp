// bench/moe: the DeepSeekMoE layer's forward + backward time per token against a dense SwiGLU
// with the same active parameters, at the mini preset's shape (hidden 256, 16 routed experts of
// width 128 + 1 shared, 2 routed per token: active width 3 x 128 = 384) and a batch of 8 x 128
// tokens. The MoE pays for routing, gathering and scattering; the target is at most 1.5x dense.
#include <omp.h>

#include <cstdio>

#include "bench/bench_util.hpp"
#include "ch04/moe.hpp"
#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/ops.hpp"
#include "common/run.hpp"

using namespace ds;

int main(int argc, char** argv) {
  return run_main("bench_moe", [&] {
    Flags flags("bench_moe", "MoE layer vs dense SwiGLU of equal active parameters: forward + backward time per token.");
    RunOptions run;
    add_run_flags(flags, run, "bench_moe");
    double budget = 1.0;
    int64_t tokens = 1024, experts = 16, width = 128, top_k = 2, hidden = 256;
    flags.add("--budget", budget, "seconds spent timing each measurement").min(0.01).quick(0.05);
    flags.add("--tokens", tokens, "tokens per batch (8 x 128 in the mini preset's training step)").min(1);
    flags.add("--experts", experts, "routed experts").min(1);
    flags.add("--width", width, "width of each expert (moe_intermediate_size)").min(1);
    flags.add("--top-k", top_k, "routed experts per token").min(1);
    flags.add("--hidden", hidden, "model width").min(1);
    flags.parse(argc, argv);
    if (top_k > experts) fail("bench_moe", "--top-k cannot exceed --experts");
    RunReport report = start_run(run, flags);
    print_header("bench/moe", "DeepSeekMoE layer vs dense SwiGLU with the same active parameters, forward + backward");

    ch04::MoEConfig cfg;
    cfg.gate.hidden_size = hidden;
    cfg.gate.n_routed_experts = experts;
    cfg.gate.num_experts_per_tok = top_k;
    cfg.moe_intermediate_size = width;
    cfg.n_shared_experts = 1;
    // x, gy, x's gradient and the layer's output, and each token's top_k + 1 expert activations twice (SwiGLU's gate and up)
    memory::require_fits(4.0 * static_cast<double>(tokens) * static_cast<double>(4 * hidden + 2 * (top_k + 1) * width),
                         fmt("a batch of %lld tokens", (long long)tokens), "lower --tokens");
    Rng rng(run.seed);
    ch04::MoE moe(cfg, rng);
    ch02::SwiGLU dense(hidden, (top_k + 1) * width, rng);
    const Tensor x = randn({tokens, hidden}, rng), gy = randn({tokens, hidden}, rng);
    const int all = omp_get_max_threads();
    Table t({"layer", "threads", "forward us/token", "fwd+bwd us/token", "fwd+bwd vs dense"});
    Summary summary;
    for (int threads : {1, all}) {
      set_threads(threads);
      double dense_fb = 0;
      for (ch02::FeedForwardLayer* layer : {static_cast<ch02::FeedForwardLayer*>(&dense), static_cast<ch02::FeedForwardLayer*>(&moe)}) {
        const bool is_moe = layer == &moe;
        const double f = bench::seconds_per_call([&] { NoGradGuard ng; layer->forward(x); }, budget);
        Tensor xg = x.detach().requires_grad_();
        const double fb = bench::seconds_per_call([&] {
          layer->zero_grad();
          xg.zero_grad();
          layer->forward(xg).backward(gy);
        }, budget);
        if (!is_moe) dense_fb = fb;
        const std::string name = is_moe ? fmt("MoE (%lld x %lld, top-%lld, +1 shared)", (long long)experts, (long long)width, (long long)top_k)
                                        : fmt("dense SwiGLU (width %lld)", (long long)((top_k + 1) * width));
        t.row({name, std::to_string(threads), fmt("%.3f", f / tokens * 1e6), fmt("%.3f", fb / tokens * 1e6), fmt("%.2fx", fb / dense_fb)});
        const std::string key = std::string(is_moe ? "moe" : "dense") + (threads == 1 ? "_1t" : "");
        summary.set(key + ".fwd_us_per_token", f / tokens * 1e6);
        summary.set(key + ".fwd_bwd_us_per_token", fb / tokens * 1e6);
        if (is_moe) summary.set(std::string("moe_over_dense") + (threads == 1 ? "_1t" : ""), fb / dense_fb);
      }
    }
    t.print();
    summary.set("threads", all);
    report.write(summary);
    std::printf("\nwrote %s/summary.json\n", run.out.c_str());
    return 0;
  });
}
