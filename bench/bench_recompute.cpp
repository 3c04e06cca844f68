// bench/recompute: DeepSeek-V3's recomputation (section 3.2.3: RMSNorm and the MLA up-projections
// recomputed in backward, their outputs not kept; here the four RMSNorms of every block) on the
// whole mini-DeepSeek, MTP module included: one training step (forward, loss L_Main + lambda
// L_MTP, backward) with it off and on, interleaved. Memory from the core's accounting
// (common/memory.hpp): the activation bytes held when the forward ends and the step's peak,
// against the saving the shapes predict (ch03/mla_activations.hpp); time as medians, wall and CPU.
#include <omp.h>

#include <cstdio>
#include <vector>

#include "bench/bench_util.hpp"
#include "ch03/mla_activations.hpp"
#include "ch03/mla_model.hpp"
#include "ch06/model.hpp"
#include "common/autograd.hpp"
#include "common/flags.hpp"
#include "common/memory.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using bench::cpu_seconds;
using bench::median;

namespace {
struct Samples {
  std::vector<double> forward, backward, step, step_cpu;   // seconds
  int64_t kept = 0, peak = 0;   // bytes above what was live before the step: after the forward, at the step's peak
};

// ids [B, T] and their next tokens, drawn uniformly (the memory and time do not depend on the text).
std::pair<IntTensor, IntTensor> random_batch(int64_t b, int64_t t, int64_t vocab, Rng& rng) {
  std::vector<int32_t> ids, next;
  for (int64_t r = 0; r < b; ++r) {
    int32_t cur = static_cast<int32_t>(rng.randint(vocab));
    for (int64_t i = 0; i < t; ++i) {
      ids.push_back(cur);
      cur = static_cast<int32_t>(rng.randint(vocab));
      next.push_back(cur);
    }
  }
  return {IntTensor(ids, {b, t}), IntTensor(next, {b, t})};
}

void one_step(ch06::DeepSeekModel& m, const IntTensor& ids, const IntTensor& targets, Samples& s) {
  m.zero_grad();
  const int64_t base = memory::live_bytes();
  memory::reset_peak();
  Timer t;
  const double c0 = cpu_seconds();
  {
    const ch05::MTPLoss l = ch05::mtp_loss(m.forward_all(ids), targets, 0.3f);
    s.kept = memory::live_bytes() - base;
    s.forward.push_back(t.seconds());
    l.total.backward();
  }
  s.step.push_back(t.seconds());
  s.step_cpu.push_back(cpu_seconds() - c0);
  s.backward.push_back(s.step.back() - s.forward.back());
  s.peak = memory::peak_bytes() - base;
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("bench_recompute", [&] {
    Flags flags("bench_recompute", "Memory saved and time paid by recomputing RMSNorm and the MLA up-projections in backward (DeepSeek-V3 section 3.2.3).");
    RunOptions run;
    add_run_flags(flags, run, "bench_recompute");
    std::string preset = "mini";
    int64_t batch = 8, seq = 128;
    int reps = 7;
    flags.add_choice("--preset", preset, {"tiny", "mini"}, "model size").quick("tiny");
    flags.add("--batch", batch, "sequences per step").min(1).quick(2);
    flags.add("--seq", seq, "tokens per sequence").min(2).max(256).quick(16);
    flags.add("--reps", reps, "timed steps of each kind (medians are reported)").min(1).quick(2);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("bench/recompute", "one training step of the mini-DeepSeek with V3's recomputation off and on: bytes kept and time paid");

    const ch06::DeepSeekConfig cfg = ch06::preset(preset);
    memory::require_fits(training_bytes_floor(cfg, batch, 1, seq), fmt("a training step of %lld x %lld tokens", (long long)batch, (long long)seq),
                         "lower --batch");
    Rng rng(run.seed);
    ch06::DeepSeekModel m(cfg, rng);
    const auto [ids, targets] = random_batch(batch, seq, cfg.vocab_size, rng);
    Samples off, on, warm_up;
    for (int r = 0; r < reps + 1; ++r)   // interleaved, so both see the same load; the first round warms up
      for (Samples* s : {&off, &on}) {
        m.set_recompute(s == &on);
        one_step(m, ids, targets, r == 0 ? warm_up : *s);
      }

    const auto saved_per_token = [](const ch06::DeepSeekConfig& c, int64_t bytes_per_value) {
      return ch03::block_recompute_elements_per_token(ch03::mla_config(c), c.hidden_size) * bytes_per_value;
    };
    const int64_t blocks = cfg.num_hidden_layers + cfg.num_nextn_predict_layers;
    const int64_t tokens = cfg.num_hidden_layers * batch * seq + cfg.num_nextn_predict_layers * batch * (seq - 1);   // MTP depth 1 covers T - 1
    const int64_t predicted = saved_per_token(cfg, 4) * tokens;
    const double mb = 1e-6;
    Table t({"recompute", "forward ms", "backward ms", "step ms", "step CPU ms", "kept after forward MB", "step peak MB"});
    for (auto [name, s] : {std::pair{"off", &off}, std::pair{"on", &on}})
      t.row({name, fmt("%.1f", 1e3 * median(s->forward)), fmt("%.1f", 1e3 * median(s->backward)), fmt("%.1f", 1e3 * median(s->step)),
             fmt("%.1f", 1e3 * median(s->step_cpu)), fmt("%.2f", mb * static_cast<double>(s->kept)), fmt("%.2f", mb * static_cast<double>(s->peak))});
    std::printf("%s preset (%lld blocks with the MTP module's), batch %lld x %lld tokens, %d threads, medians of %d steps each\n\n", preset.c_str(),
                (long long)blocks, (long long)batch, (long long)seq, omp_get_max_threads(), reps);
    t.print();
    const double saved = static_cast<double>(off.kept - on.kept), paid = median(on.step) / median(off.step) - 1;
    std::printf("\nsaved: %.2f MB kept after the forward (%.1f%%), %.2f MB per block; the shapes predict %.2f MB (%lld bytes per token per block)\n",
                mb * saved, 100 * saved / static_cast<double>(off.kept), mb * saved / static_cast<double>(blocks), mb * static_cast<double>(predicted),
                (long long)saved_per_token(cfg, 4));
    std::printf("peak of the step: %.2f MB -> %.2f MB (%.1f%% less); time paid: %+.1f%% wall, %+.1f%% CPU per step\n", mb * static_cast<double>(off.peak),
                mb * static_cast<double>(on.peak), 100.0 * static_cast<double>(off.peak - on.peak) / static_cast<double>(off.peak), 100 * paid,
                100 * (median(on.step_cpu) / median(off.step_cpu) - 1));
    // At V3's shapes and BF16: this core's count (its tape holds every op's inputs), and what a
    // PyTorch implementation, whose graph holds only the tensors each backward saves, keeps out:
    // the two norms' outputs, q_norm's and kv_norm's (read by wq_b, wkv_b), and q, k, v.
    const ch06::DeepSeekConfig v3 = ch06::preset("deepseek-v3");
    const int64_t v3_here = saved_per_token(v3, 2), qk = v3.qk_nope_head_dim + v3.qk_rope_head_dim;
    const int64_t v3_saved =
        2 * (2 * v3.hidden_size + v3.q_lora_rank + v3.kv_lora_rank + 2 * v3.num_attention_heads * qk + v3.num_attention_heads * v3.v_head_dim);
    for (auto [what, bytes] : {std::pair{"saved tensors only, as PyTorch", v3_saved}, std::pair{"this core's tape", v3_here}})
      std::printf("DeepSeek-V3 at BF16, %s: %lld bytes per token per layer, %.0f MB per layer for one 4096-token sequence, %.1f GB over its 61 layers\n", what,
                  (long long)bytes, mb * static_cast<double>(bytes) * 4096,
                  1e-9 * static_cast<double>(bytes) * 4096 * static_cast<double>(v3.num_hidden_layers));
    Summary s;
    s.set("preset", preset);
    s.set("tokens_per_step", static_cast<double>(batch * seq));
    s.set("kept_off_bytes", static_cast<double>(off.kept));
    s.set("kept_on_bytes", static_cast<double>(on.kept));
    s.set("saved_bytes", saved);
    s.set("saved_bytes_per_block", saved / static_cast<double>(blocks));
    s.set("predicted_saved_bytes", static_cast<double>(predicted));
    s.set("peak_off_bytes", static_cast<double>(off.peak));
    s.set("peak_on_bytes", static_cast<double>(on.peak));
    s.set("step_off_ms", 1e3 * median(off.step));
    s.set("step_on_ms", 1e3 * median(on.step));
    s.set("step_cpu_off_ms", 1e3 * median(off.step_cpu));
    s.set("step_cpu_on_ms", 1e3 * median(on.step_cpu));
    s.set("time_paid_fraction", paid);
    s.set("v3_bf16_saved_bytes_per_token_per_layer", static_cast<double>(v3_saved));
    report.write(s);
    return 0;
  });
}
