#include "ch07/rl_loop.hpp"

#include <ctime>
#include <stdexcept>

#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/timer.hpp"

namespace ds::ch07 {

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<Problem> draw_rl_prompts(const RlRunConfig& cfg, int n, Rng& rng) {
  std::vector<Problem> out;
  for (int tries = 0; static_cast<int>(out.size()) < n; ++tries) {
    if (tries > 1000 * n) throw std::runtime_error("the training split has (almost) no problems outside the excluded validation set");
    Problem p = sample_train_problems(cfg.task, cfg.lengths, 1, rng).front();
    if (!cfg.exclude.count(problem_key(p))) out.push_back(std::move(p));
  }
  return out;
}

std::vector<Problem> keep_validation_apart(RlRunConfig& cfg, const LabelledSet& labelled) {
  std::vector<Problem> v = validation_set(cfg.task, cfg.lengths, kRlValidationProblems, labelled.long_problems(), kRlValidationSeed);
  for (const Problem& p : v) cfg.exclude.insert(problem_key(p));
  return v;
}

RlTrace run_rl(const RlStepFn& learner, ch06::DeepSeekModel& policy, const TaskCodec& codec, const std::vector<Problem>& probe,
               const RlRunConfig& cfg, int64_t samples_per_step, const std::function<bool()>& stop) {
  RlTrace t;
  Rng rng(cfg.seed);
  auto probe_em = [&] {
    t.eval_step.push_back(static_cast<double>(t.steps));
    t.eval_samples.push_back(static_cast<double>(t.drawn));
    t.eval_em.push_back(100 * greedy_eval(policy, codec, probe).exact_match);
  };
  probe_em();
  Timer timer;
  Progress bar(cfg.steps, cfg.label, true);
  while (t.steps < cfg.steps) {
    const std::vector<Problem> batch = draw_rl_prompts(cfg, static_cast<int>(cfg.prompts), rng);
    const double cpu0 = process_cpu_seconds();
    const RlStepReport r = learner(batch, cfg.seed * 1000003 + static_cast<uint64_t>(t.steps));
    t.cpu_seconds += process_cpu_seconds() - cpu0;
    ++t.steps;
    t.sample_seconds += r.sample_seconds;
    t.train_seconds += r.train_seconds;
    t.step.push_back(static_cast<double>(t.steps));
    t.drawn += r.samples > 0 ? r.samples : samples_per_step;
    t.samples.push_back(static_cast<double>(t.drawn));
    t.reward.push_back(r.reward);
    t.accuracy.push_back(100 * r.accuracy);
    t.format.push_back(100 * r.format);
    t.kl.push_back(r.kl);
    t.entropy.push_back(r.entropy);
    t.len_right.push_back(r.length_correct);
    t.len_wrong.push_back(r.length_wrong);
    t.mixed.push_back(100 * r.mixed_groups);
    t.clip.push_back(100 * (r.clip_low + r.clip_high));
    t.approx_kl.push_back(r.approx_kl);
    const bool out_of_time = (cfg.max_seconds > 0 && timer.seconds() >= cfg.max_seconds) || (cfg.max_samples > 0 && t.drawn >= cfg.max_samples);
    const bool stopping = out_of_time || (stop && stop());
    if (t.steps % cfg.eval_every == 0 || t.steps == cfg.steps || stopping) probe_em();
    bar.update(t.steps, {{"acc", r.accuracy}, {"kl", r.kl}, {"probe_em", t.eval_em.back() / 100}});
    if (stopping) break;
  }
  bar.finish();
  t.seconds = timer.seconds();
  return t;
}

void write_rl_plots(RunReport& report, const std::string& method, const RlTrace& t) {
  LineChart acc{method + ": accuracy during training", "step", "%", {}};
  acc.series.push_back({"sampled completions verified correct", t.step, t.accuracy, false, 5});
  if (!t.mixed.empty() && t.mixed.back() > 0) acc.series.push_back({"groups with mixed rewards", t.step, t.mixed, true, 5});
  acc.series.push_back({"greedy exact match, held-out probe", t.eval_step, t.eval_em});
  acc.caption =
      "The sampled accuracy climbs as the policy sharpens; only groups with mixed rewards carry a gradient, and they thin out as accuracy nears 100%.";
  report.plot("accuracy.svg", acc);
  LineChart kl{method + ": KL to the frozen starting model", "step", "nats per token", {{"KL", t.step, t.kl, false, 5}}};
  kl.caption = "The KL grows from 0 as the policy leaves its reference; the KL penalty keeps it small.";
  report.plot("kl.svg", kl);
  // With one optimizer step per batch the ratio is exactly 1 and no clip can bind; from the
  // second pass on (mu, ppo_epochs > 1) the update leaves pi_old and the clip starts to work.
  LineChart clip{method + ": the clip at work (mean over the passes on each batch)", "step", "% of tokens / millinats per token", {}};
  clip.series.push_back({"tokens clipped (%)", t.step, t.clip, false, 5});
  std::vector<double> approx_milli;
  for (double x : t.approx_kl) approx_milli.push_back(1000 * x);
  clip.series.push_back({"approx KL to pi_old (millinats/token)", t.step, approx_milli, true, 5});
  clip.caption = "With one pass per batch both are 0 (the ratio is 1); each further pass moves the policy from the one that sampled, "
                 "and the clip stops tokens whose ratio left [1 - eps, 1 + eps].";
  report.plot("clip.svg", clip);
  LineChart ent{method + ": policy entropy (mean -log p of the sampled tokens)", "step", "nats per token", {{"entropy", t.step, t.entropy, false, 5}}};
  ent.caption = "Entropy falls as RL concentrates probability on answers that verify; a collapse to 0 would end exploration.";
  report.plot("entropy.svg", ent);
  LineChart len{method + ": completion length of right and of wrong answers", "step", "tokens", {}};
  len.series.push_back({"correct", t.step, t.len_right, false, 5});
  len.series.push_back({"wrong", t.step, t.len_wrong, true, 5});
  len.caption =
      "Wrong answers are also the harder sums (more carries, longer worked solutions); whether 1/|o| adds a length bias (Dr. GRPO) shows against --loss-type "
      "dr_grpo.";
  report.plot("length.svg", len);
}

}  // namespace ds::ch07
