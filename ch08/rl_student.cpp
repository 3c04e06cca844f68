#include "ch08/rl_student.hpp"

#include <stdexcept>

#include "ch07/sft.hpp"
#include "common/progress.hpp"
#include "common/timer.hpp"

namespace ds::ch08 {

double grpo_step_compute(const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& problems, const ch07::RlStepReport& rep,
                         const ch07::GrpoConfig& cfg) {
  double prompt_tokens = 0;
  for (const ch07::Problem& p : problems) prompt_tokens += static_cast<double>(codec.prompt(p).size());
  const double rows = static_cast<double>(problems.size() * cfg.group);
  // The accuracy reward is 0 or 1, so rep.accuracy is the share of right rows.
  const double completion_tokens = rows * (rep.accuracy * rep.length_correct + (1 - rep.accuracy) * rep.length_wrong);
  const double tokens = static_cast<double>(cfg.group) * prompt_tokens + completion_tokens - rows;
  const double passes = kForwardCost * (1 + (cfg.loss.beta != 0.f ? 1 : 0)) + kTrainCost * static_cast<double>(cfg.mu);
  return passes * tokens;
}

Curves train_rl_student(ch06::DeepSeekModel& model, ch06::DeepSeekModel* teacher, const CompareData& data, const RlStudentConfig& cfg) {
  const std::vector<TaskExample>& pool = cfg.sft_on_answers ? data.answers : data.train;
  if (pool.empty() || data.problems.empty()) throw std::invalid_argument("train_rl_student needs labelled problems");
  if (cfg.budget <= 0) throw std::invalid_argument("train_rl_student needs a compute budget");
  Curves c;
  const double every = cfg.budget / static_cast<double>(std::max<int64_t>(cfg.evals, 1));
  double next_eval = every;
  int64_t step = 0;
  auto record = [&](double loss) {
    c.step.push_back(static_cast<double>(++step));
    c.loss.push_back(loss);
    if (c.compute >= next_eval || c.compute >= cfg.budget) {
      evaluate(c, model, teacher, data, cfg.max_new_tokens, step, c.compute);
      while (next_eval <= c.compute) next_eval += every;
    }
  };
  evaluate(c, model, teacher, data, cfg.max_new_tokens, 0, 0.0);
  Rng rng(cfg.sft.seed);

  // 1. The brief SFT, through ch07's SFT trainer.
  {
    ch07::SftTrainer sft(model, cfg.sft);
    Progress bar(cfg.sft.steps, cfg.sft.label, cfg.sft.progress);
    for (int64_t s = 1; s <= cfg.sft.steps && c.compute < cfg.budget; ++s) {
      std::vector<TaskExample> examples;
      for (int64_t i = 0; i < cfg.sft.batch_size; ++i) examples.push_back(pool[static_cast<size_t>(rng.randint(static_cast<int64_t>(pool.size())))]);
      Timer timer;
      const StepStats st = sft.step(example_batch(examples, data.codec.eot()));
      c.seconds += timer.seconds();
      c.tokens += static_cast<int64_t>(example_tokens(examples));
      c.compute += kTrainCost * static_cast<double>(example_tokens(examples));
      record(st.loss);
      bar.update(s, {{"loss", st.loss}, {"acc", c.accuracy.back()}});
    }
    bar.finish();
  }

  // 2. GRPO on the labelled problems' prompts (their answers are the verifier's), ch07's learner.
  ch07::GrpoLearner grpo(model, data.codec, cfg.rl, cfg.grpo);
  Progress bar(100, cfg.rl.label, cfg.rl.progress);
  while (c.compute < cfg.budget) {
    std::vector<ch07::Problem> problems;
    for (int64_t i = 0; i < cfg.grpo.prompts; ++i)
      problems.push_back(data.problems[static_cast<size_t>(rng.randint(static_cast<int64_t>(data.problems.size())))]);
    Timer timer;
    const ch07::RlStepReport rep = grpo.step(problems, cfg.rl.seed * 1000003ULL + static_cast<uint64_t>(step));
    c.seconds += timer.seconds();
    c.compute += grpo_step_compute(data.codec, problems, rep, cfg.grpo);
    ++c.on_policy_batches;
    record(rep.loss);
    bar.update(std::min<int64_t>(100, static_cast<int64_t>(100 * c.compute / cfg.budget)), {{"reward", rep.reward}, {"acc", c.accuracy.back()}});
  }
  bar.finish();
  if (c.eval_compute.back() < c.compute) evaluate(c, model, teacher, data, cfg.max_new_tokens, step, c.compute);
  return c;
}

}  // namespace ds::ch08
