// bench/train_throughput: tokens per second of one full training step of the mini-DeepSeek
// (forward with MTP, backward, clipping, AdamW, bias update) at batch 8 x 128 random tokens,
// the same step bench/torch_reference.py times in PyTorch. Prints one JSON line, with the step's
// model FLOPs per second as a share of the GEMM roof measured right after (ch06::step_utilisation).
#include <omp.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "bench/bench_util.hpp"
#include "ch06/model.hpp"
#include "ch06/pretrain.hpp"
#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/gemm.hpp"
#include "common/gemm_onednn.hpp"
#include "common/memory.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;

namespace {
// Where a step's time goes, per op, in milliseconds per step (op_profile's accounting).
void print_profile(double steps, double step_s, double optimizer_s) {
  op_profile::stop();
  Table t({"op", "calls/step", "forward ms", "backward ms", "total ms", "share of step"});
  double ops = 0;
  for (const op_profile::Entry& e : op_profile::entries()) {
    const double total = (e.forward_s + e.backward_s) / steps;
    ops += total;
    t.row({e.op, fmt("%.0f", e.calls / steps), fmt("%.2f", 1e3 * e.forward_s / steps), fmt("%.2f", 1e3 * e.backward_s / steps),
           fmt("%.2f", 1e3 * total), fmt("%.1f%%", 100 * total / step_s)});
  }
  const double rest = step_s - ops - optimizer_s;
  t.row({"(optimizer: grad norm, AdamW, bias update)", "", "", "", fmt("%.2f", 1e3 * optimizer_s), fmt("%.1f%%", 100 * optimizer_s / step_s)});
  t.row({"(rest: leaf gradients, freeing, glue)", "", "", "", fmt("%.2f", 1e3 * rest), fmt("%.1f%%", 100 * rest / step_s)});
  std::fprintf(stderr, "time per training step by op (%.1f ms per step; an op's forward time includes the glue code before it)\n", 1e3 * step_s);
  std::fputs(t.str().c_str(), stderr);
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("bench_train_throughput", [&] {
    Flags flags("bench_train_throughput", "Tokens/s of a full mini-DeepSeek training step; one JSON line on stdout.");
    std::string config_path;
    int64_t batch = 8, seq = 128, steps = 10, warmup = 2;
    int threads = 0;
    uint64_t seed = 1234;
    flags.add("--config", config_path, "a config.json to time instead of the mini preset");
    flags.add("--batch", batch, "sequences per step").min(1);
    flags.add("--seq", seq, "tokens per sequence").min(2);
    flags.add("--steps", steps, "timed steps").min(1);
    flags.add("--warmup", warmup, "untimed steps first").min(0);
    flags.add("--threads", threads, "threads (0 = all cores)").min(0);
    bool profile = false;
    std::string precision = "float32";
    flags.add_choice("--precision", precision, {"float32", "bf16", "auto"},
                     "GEMM precision: float32, bf16 (BF16 inputs, float32 accumulation and weights) or auto (bf16 where the CPU has it)");
    flags.add("--seed", seed, "weights and tokens");
    flags.add_flag("--profile", profile, "also print, on stderr, the timed steps' time per op (forward and backward)");
    flags.parse(argc, argv);
    if (threads > 0) set_threads(threads);
    std::fprintf(stderr, "%s\n", ch06::apply_precision(precision).c_str());
    const ch06::DeepSeekConfig cfg = config_path.empty() ? ch06::preset("mini") : ch06::load_config(config_path);
    if (seq > cfg.max_position_embeddings) fail("bench_train_throughput", "--seq exceeds the config's max_position_embeddings");
    Rng rng(seed);
    ch06::DeepSeekModel model(cfg, rng);
    ch06::PretrainConfig pc;
    pc.train.steps = warmup + steps;
    pc.train.warmup = 1;
    pc.train.batch_size = batch;
    pc.train.seq_len = seq;
    memory::require_fits(training_bytes_floor(cfg, batch, 1, seq), fmt("a training step of %lld x %lld tokens", (long long)batch, (long long)seq),
                         "lower --batch or --seq");
    ch06::Pretrainer p(model, pc);
    std::vector<int32_t> ids(static_cast<size_t>(batch * seq)), tg(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      ids[i] = static_cast<int32_t>(rng.randint(cfg.vocab_size));
      tg[i] = static_cast<int32_t>(rng.randint(cfg.vocab_size));
    }
    const Batch b{IntTensor(ids, {batch, seq}), IntTensor(tg, {batch, seq})};
    for (int64_t i = 0; i < warmup; ++i) p.trainer.train_step(b);
    if (profile) op_profile::start();
    Timer t;
    const std::clock_t cpu0 = std::clock();   // process CPU time: on a busy machine, with one thread, the load-independent figure
    double fwd = 0, bwd = 0, optim = 0;
    for (int64_t i = 0; i < steps; ++i) {
      op_profile::mark();
      const StepStats s = p.trainer.train_step(b);
      fwd += s.forward_s;
      bwd += s.backward_s;
      optim += s.optimizer_s;
    }
    const double step_s = t.seconds() / static_cast<double>(steps);
    const double cpu_step_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC / static_cast<double>(steps);
    const double tokens_per_s = static_cast<double>(batch * seq) / step_s;
    const ch06::StepUtilisation u = ch06::step_utilisation(cfg, seq, tokens_per_s);
    const nlohmann::json out = {{"impl", "cpp"},
                                {"tokens_per_s", tokens_per_s},
                                {"batch", batch},
                                {"seq", seq},
                                {"hidden", cfg.hidden_size},
                                {"flops_per_token", u.flops_per_token},
                                {"flops_formula", u.formula},
                                {"gflops", u.gflops},
                                {"roof_gflops", u.roof_gflops},
                                {"share_of_roof", u.share},
                                {"precision", u.precision},
                                {"gemm", gemm_precision() == GemmPrecision::BF16 ? "onednn " + bf16_gemm_implementation() : gemm_backend_name(gemm_backend())},
                                {"step_s", step_s},
                                {"cpu_step_s", cpu_step_s},
                                {"threads", omp_get_max_threads()},
                                {"params", model.num_parameters()},
                                {"active_params", ch06::count_parameters(cfg).active},
                                {"forward_s", fwd / static_cast<double>(steps)},
                                {"backward_s", bwd / static_cast<double>(steps)},
                                {"optimizer_s", optim / static_cast<double>(steps)}};
    std::printf("%s\n", out.dump().c_str());
    if (profile) print_profile(static_cast<double>(steps), step_s, optim / static_cast<double>(steps));
    return 0;
  });
}
