#include "ch07/sft_control.hpp"

#include <algorithm>
#include <cmath>

#include "common/progress.hpp"

namespace ds::ch07 {

ProblemSource answers_only_source(const RlRunConfig& rl) {
  return [rl](int n, Rng& rng) {
    std::vector<Problem> p = draw_rl_prompts(rl, n, rng);
    for (Problem& x : p) x.reasoning.clear();
    return p;
  };
}

ControlTrace sft_control(ch06::DeepSeekModel& model, const TaskCodec& codec, const LabelledSet& labelled, const std::vector<Problem>& probe,
                         const ControlConfig& cfg, const std::function<bool()>& stop) {
  const std::vector<Problem> pool = labelled.long_problems();
  return sft_control(model, codec, [&labelled, pool](int n, Rng& r) { return labelled.draw(pool, n, r); }, probe, cfg, stop);
}

ControlTrace sft_control(ch06::DeepSeekModel& model, const TaskCodec& codec, const ProblemSource& draw, const std::vector<Problem>& probe,
                         const ControlConfig& cfg, const std::function<bool()>& stop) {
  TrainerConfig tc;
  tc.steps = cfg.max_steps > 0 ? cfg.max_steps : 1000000;
  tc.batch_size = cfg.batch;
  tc.lr = cfg.lr;
  tc.min_lr = cfg.lr;
  tc.warmup = 5;
  tc.weight_decay = 0.f;
  tc.progress = false;
  SftTrainer sft(model, tc);
  Rng rng(cfg.seed);
  ControlTrace t;
  auto probe_now = [&] {
    if (probe.empty()) return;
    t.probe_seconds.push_back(t.seconds);
    t.probe_em.push_back(100 * greedy_eval(model, codec, probe).exact_match);
  };
  probe_now();
  const int64_t budget = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(cfg.seconds)));
  Progress bar(budget, "sft control (CPU seconds)", true);
  double next_probe = cfg.probe_every;
  while (t.seconds < cfg.seconds && (cfg.max_steps <= 0 || t.steps < cfg.max_steps) && !(stop && stop())) {
    const double cpu0 = process_cpu_seconds();
    sft_steps(sft, codec, draw, 1, rng);
    t.seconds += process_cpu_seconds() - cpu0;
    ++t.steps;
    if (cfg.probe_every > 0 && t.seconds >= next_probe) {
      probe_now();
      next_probe += cfg.probe_every;
    }
    bar.update(std::min<int64_t>(budget, static_cast<int64_t>(t.seconds)),
               {{"step", static_cast<double>(t.steps)}, {"loss", sft.trainer->history.train.at("loss").back()}});
  }
  bar.finish();
  if (t.probe_seconds.empty() || t.probe_seconds.back() != t.seconds) probe_now();
  return t;
}

}  // namespace ds::ch07
