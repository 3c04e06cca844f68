#include "ch07/sft_start.hpp"

#include <algorithm>
#include <cstdio>

#include "ch07/plateau.hpp"
#include "ch07/rollout.hpp"
#include "ch07/sft.hpp"
#include "common/timer.hpp"

namespace ds::ch07 {

namespace {
TrainerConfig sft_trainer_config(const SftStartConfig& cfg, uint64_t seed) {
  TrainerConfig tc;
  tc.steps = cfg.short_steps + cfg.long_steps;
  tc.batch_size = cfg.batch;
  tc.lr = cfg.lr;
  tc.min_lr = cfg.lr / 10;
  tc.warmup = std::min<int64_t>(20, std::max<int64_t>(tc.steps / 10, 1));
  tc.weight_decay = 0.0f;
  tc.label = "sft";
  tc.seed = seed;
  tc.progress = cfg.progress;
  return tc;
}
}  // namespace

SftStart train_sft_start(const SftStartConfig& cfg, uint64_t seed, const std::function<bool()>& stop) {
  SftStart out;
  out.policy.codec = TaskCodec{task_tokenizer(cfg.task, cfg.vocab), ChatTemplate::compact()};
  const TaskCodec& codec = out.policy.codec;
  Rng rng(seed);
  out.policy.model = std::make_unique<ch06::DeepSeekModel>(task_model_config(cfg.model_size, codec.tok.vocab_size()), rng);
  ch06::DeepSeekModel& model = *out.policy.model;
  out.example = sample_problem(cfg.task, cfg.long_lengths.back(), Split::train, rng);   // drawn here: the batches that follow depend on it
  SftTrainer sft(model, sft_trainer_config(cfg, seed));

  // Probes while training come from the training split minus the labelled set, so stopping
  // stage 2 never looks at the test set nor at problems trained on.
  LabelledSet& labelled = out.labelled;
  labelled.task = cfg.task;
  labelled.short_lengths = cfg.short_lengths;
  labelled.long_lengths = cfg.long_lengths;
  labelled.long_examples = cfg.long_examples;
  const std::vector<Problem> pool = labelled.long_problems();
  const std::vector<Problem> short_probe = flatten(held_out_sets(cfg.task, cfg.short_lengths, std::min(cfg.probe_n, 16), 1001, Split::train)),
                             long_probe = validation_set(cfg.task, cfg.long_lengths, cfg.probe_n, pool);
  out.validation_problems = long_probe.size();
  auto probe = [&] {
    out.probe_step.push_back(static_cast<double>(sft.trainer->step_count()));
    out.short_em.push_back(100 * greedy_eval(model, codec, short_probe).exact_match);
    out.long_em.push_back(100 * greedy_eval(model, codec, long_probe).exact_match);
  };
  bool stage2 = false, reached = false;
  PlateauStop plateau;
  plateau.patience = cfg.patience;
  Snapshot best;
  double loss_sum = 0;
  int64_t loss_n = 0;
  auto on_step = [&](const StepStats& s) {
    loss_sum += s.loss;
    ++loss_n;
    if (s.step % (stage2 ? cfg.long_eval_every : cfg.eval_every) != 0) return !(stop && stop());
    const double recent_loss = loss_sum / static_cast<double>(loss_n);
    loss_sum = 0;
    loss_n = 0;
    probe();
    if (stage2) {
      // Convergence: the labelled set is exhausted once validation stops improving; keep the best.
      if (plateau.observe(out.long_em.back(), s.step)) best.take(model);
      if (cfg.patience > 0 && plateau.done() && recent_loss < cfg.fitted_loss) reached = out.stopped = true;
      if (cfg.long_target > 0 && out.long_em.back() >= cfg.long_target) reached = out.stopped = true;
      if (cfg.progress)
        std::printf("\n  validation probe after step %lld: %.1f%% (best %.1f%% at step %lld)\n", (long long)s.step, out.long_em.back(), plateau.best,
                    (long long)plateau.best_step);
    }
    return !(stop && stop()) && !reached;
  };
  Timer timer;
  probe();
  out.stage1_steps = sft_steps(sft, codec, cfg.task, cfg.short_lengths, cfg.short_steps, rng, on_step, "sft stage 1 (short)");
  stage2 = true;
  // Short lengths stay in stage 2's mix so they are not forgotten.
  if (!(stop && stop()))
    out.stage2_steps = sft_steps(sft, codec, [&](int n, Rng& r) { return labelled.draw(pool, n, r); }, cfg.long_steps, rng, on_step, "sft stage 2 (long)");
  if (out.probe_step.back() != static_cast<double>(sft.trainer->step_count())) {
    probe();
    if (plateau.observe(out.long_em.back(), sft.trainer->step_count())) best.take(model);
  }
  // Keep the best probe's weights (the convergence stop), unless the target stop ended stage 2 first.
  const bool keep_best = cfg.patience > 0 && !best.empty() && !(cfg.long_target > 0 && out.long_em.back() >= cfg.long_target);
  if (keep_best) best.restore(model);
  out.kept_step = keep_best ? plateau.best_step : sft.trainer->step_count();
  out.best_validation = plateau.best;
  out.history = sft.trainer->history;
  out.seconds = timer.seconds();
  return out;
}

void make_quick(SftStartConfig& c) {
  c.model_size = "tiny";
  c.short_steps = std::min<int64_t>(c.short_steps, 12);
  c.long_steps = std::min<int64_t>(c.long_steps, 4);
  c.batch = std::min<int64_t>(c.batch, 8);
  c.eval_every = 8;
  c.long_eval_every = 2;
  c.probe_n = std::min(c.probe_n, 4);
  c.long_examples = std::min(c.long_examples, 16);
  c.progress = false;
}

void save_sft_start(const std::string& dir, const SftStart& s) {
  save_policy(dir, *s.policy.model, s.policy.codec.tok, [&](const std::string& folder) { s.labelled.save(folder); });
}

}  // namespace ds::ch07
