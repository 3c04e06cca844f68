// ch05_fp8_train: the same model trained four ways, same seed, data and steps: float32; BF16
// GEMM operands (the baseline DeepSeek-V3 measures against); FP8 GEMMs with V3's fine-grained
// scaling (1x128 / 128x1 tiles for activations and gradients, 128x128 blocks for weights); FP8
// GEMMs with one scale per tensor. V3 (Appendix B.1) reports its fine-grained FP8 loss within
// 0.25% of BF16's.
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>

#include "ch02/next_token_loss.hpp"
#include "ch02/small_model.hpp"
#include "ch04/moe_model.hpp"
#include "ch05/fp8_linear.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
constexpr size_t kWindow = 20;   // steps averaged for the curves and the gaps (one batch is noisy)

// Mean of the `window` values ending at each point: a training curve without the batch noise.
std::vector<double> trailing_mean(const std::vector<double>& v, size_t window) {
  std::vector<double> out;
  double sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    sum += v[i] - (i >= window ? v[i - window] : 0.0);
    out.push_back(sum / static_cast<double>(std::min(i + 1, window)));
  }
  return out;
}

struct Recipe {
  std::string name, key;
  std::function<std::unique_ptr<LinearOverride>()> install;   // null: plain float32
};

std::vector<Recipe> recipes(Fp8Format f) {
  auto fp8 = [f](bool fine) {
    return [f, fine] {
      return std::make_unique<LinearOverride>([f, fine](const Tensor& x, const Tensor& w) { return fp8_linear(x, w, {fine, f}); });
    };
  };
  return {{"float32", "fp32", nullptr},
          {"BF16 operands (V3's baseline)", "bf16", [] { return std::make_unique<LinearOverride>(bf16_linear); }},
          {"FP8, fine-grained (tiles / blocks)", "fp8_fine", fp8(true)},
          {"FP8, per-tensor scales", "fp8_tensor", fp8(false)}};
}

struct Outcome {
  std::unique_ptr<ch02::TransformerLM> model;
  TrainHistory history;
  std::vector<double> curve;   // trailing mean of the training loss
};

// Trains a fresh model (same seed for every recipe) with the recipe's Linear override installed.
// moe: chapter 4's MoE model, whose routed experts' GEMMs the override reaches too (as V3 runs them in FP8).
Outcome train_recipe(const Recipe& r, const CorpusData& data, const RunOptions& run, int64_t steps, bool moe) {
  Rng rng(run.seed);
  const int64_t vocab = data.tokenizer.vocab_size();
  Outcome o{moe ? ch04::make_moe_model(ch04::program_moe_config(vocab, run.quick), rng)
                : ch02::make_small_model(ch02::small_model_config(vocab, run.quick), rng),
            {}, {}};
  TrainerConfig tc = program_train_config(steps, run.seed);
  tc.label = r.key;
  const std::unique_ptr<LinearOverride> narrow = r.install ? r.install() : nullptr;   // every Linear of the model, while alive
  Trainer trainer(o.model->named_parameters(), tc, ch02::next_token_loss(*o.model));
  o.history = trainer.run(data.dataset);
  o.curve = trailing_mean(o.history.train.at("loss"), kWindow);
  return o;
}

double gap(double loss, double reference) { return (loss - reference) / reference; }

// The table, both plots and summary.json; runs[0] is float32, runs[1] BF16.
void report_runs(const std::vector<Recipe>& rs, const std::vector<Outcome>& runs, RunReport& report, Summary& s) {
  LineChart curves{
      fmt("Training loss (%zu-step mean): float32, BF16 and FP8 GEMMs", kWindow), "training step", "training loss (nats/token)", {}};
  LineChart gaps{fmt("Relative gap to float32 of the training loss (%zu-step mean)", kWindow), "training step",
                 "(loss - float32 loss) / float32 loss (%)", {}};
  Table t({"run", "final val loss", fmt("train loss (last %zu)", kWindow), "gap to float32", "gap to BF16", "tokens/s"});
  const std::vector<double>& fp32 = runs[0].curve;
  const std::vector<double>& bf16 = runs[1].curve;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string& key = rs[i].key;
    const TrainHistory& h = runs[i].history;
    const std::vector<double>& c = runs[i].curve;
    const bool fp8 = key.starts_with("fp8");
    t.row({rs[i].name, fmt("%.4f", h.final_val()), fmt("%.4f", c.back()), i ? fmt("%+.2f%%", 100 * gap(c.back(), fp32.back())) : "-",
           fp8 ? fmt("%+.2f%%", 100 * gap(c.back(), bf16.back())) : "-", fmt("%.0f", h.tokens_per_second())});
    curves.series.push_back({rs[i].name, h.step, c});
    if (i > 0) {
      Series g{rs[i].name, h.step, {}};
      for (size_t k = 0; k < c.size(); ++k) g.y.push_back(100 * gap(c[k], fp32[k]));
      gaps.series.push_back(g);
    }
    s.set("runs." + key + ".final_val_loss", h.final_val());
    s.set("runs." + key + ".train_loss_end", c.back());
    s.set("runs." + key + ".gap_to_fp32", gap(c.back(), fp32.back()));
    if (fp8) s.set("runs." + key + ".gap_to_bf16", gap(c.back(), bf16.back()));
    s.set("runs." + key + ".tokens_per_second", h.tokens_per_second());
  }
  std::printf("\n");
  t.print();
  std::string ends, gap_ends;
  for (size_t i = 0; i < runs.size(); ++i) {
    ends += fmt("%s%s %.4f", i ? ", " : "", rs[i].key.c_str(), runs[i].curve.back());
    if (i) gap_ends += fmt("%s%s %+.3f%%", i > 1 ? ", " : "", rs[i].key.c_str(), 100 * gap(runs[i].curve.back(), fp32.back()));
  }
  curves.caption = "Whether narrow GEMMs change training: the curves should lie on top of each other, and any that drifts above the "
                   "others is losing to rounding (last values: " + ends + ").";
  gaps.caption = "The same runs as gaps to float32, in percent (at the end: " + gap_ends +
                 "); BF16's gap is the size of the disturbance any change of rounding makes to a run this short, the yardstick for the FP8 lines.";
  report.plot("loss_curves.svg", curves);
  report.plot("loss_gap.svg", gaps);
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch05_fp8_train", [&] {
    Flags flags("ch05_fp8_train",
                "Float32 vs BF16 vs fine-grained FP8 vs per-tensor FP8 training of the same model: loss curves and the gaps.");
    RunOptions run;
    add_run_flags(flags, run, "ch05_fp8_train");
    int64_t steps = 130;
    std::string format = "e4m3", data_path;
    bool moe = false;
    flags.add("--steps", steps, "training steps of each run").min(1).quick(8);
    flags.add_choice("--format", format, {"e4m3", "e5m2"}, "FP8 format of all three GEMMs (V3: E4M3 everywhere)");
    flags.add_flag("--moe", moe, "train chapter 4's MoE model instead of the dense one: the routed experts' GEMMs run in FP8 too");
    flags.add("--data", data_path, "train on this UTF-8 text file instead of the built-in corpus");
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    print_header("ch05_fp8_train",
                 "FP8 mixed-precision training (simulated): float32 master weights, narrow operands in every Linear's GEMMs");
    const CorpusData data = program_corpus(run.quick, run.seed, data_path);
    const Fp8Format f = format == "e4m3" ? Fp8Format::E4M3 : Fp8Format::E5M2;
    const std::vector<Recipe> rs = recipes(f);
    std::vector<Outcome> runs;
    for (const Recipe& r : rs) runs.push_back(train_recipe(r, data, run, steps, moe));
    Summary s;
    report_runs(rs, runs, report, s);

    // The float32 run's weights evaluated through FP8 GEMMs: the forward pass's rounding alone.
    const TrainerConfig tc = program_train_config(steps, run.seed);
    double fp8_eval = 0;
    {
      Fp8Autocast fp8({true, f});
      fp8_eval = evaluate(ch02::next_token_loss(*runs[0].model), data.dataset.eval_batches(Split::Val, tc.batch_size, tc.seq_len, tc.eval_batches))
                     .at("loss");
    }
    const double fp32_val = runs[0].history.final_val();
    s.set("runs.fp32.val_loss_fp8_forward", fp8_eval);
    std::printf("DeepSeek-V3 (Appendix B.1): its fine-grained FP8 loss stays within 0.25%% of BF16's. Gaps are on the training loss\n"
                "averaged over the last %zu steps. BF16 rounding alone moves this run by %+.2f%% against float32: a yardstick for\n"
                "how much any change of rounding perturbs a run this short.\n"
                "The float32 run's final weights evaluated through fine-grained FP8 GEMMs: val loss %.4f (%+.2f%%), the cost of\n"
                "FP8's rounding in the forward pass alone; the rest of a gap comes from training through it.\n",
                kWindow, 100 * gap(runs[1].curve.back(), runs[0].curve.back()), fp8_eval, 100 * gap(fp8_eval, fp32_val));
    report.write(s);
    std::printf("\nwrote %s/loss_curves.svg, loss_gap.svg (+ .csv), summary.json\n", run.out.c_str());
    return 0;
  });
}
