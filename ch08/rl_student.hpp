// The other road to a reasoning student, the one DeepSeek-R1 compared distillation with (R1
// sec. 4.1, Table 6: Qwen-32B-Base trained with large-scale RL reached about QwQ-32B-Preview,
// while the same base distilled from DeepSeek-R1 was better on every benchmark): the student
// learns from the verifier alone. It is fine-tuned briefly on what it has without a teacher,
// then trained with ch07's GRPO (group-relative advantages, clipped ratio, k3 KL to its SFT
// start) on the labelled problems' prompts, rewarded by ch07's verifier, until it has spent the
// same student compute as the distilled student (compare.hpp counts it; GRPO's rollouts are
// student forward passes, its reference model's scoring too).
#pragma once

#include "ch07/grpo_learner.hpp"
#include "ch08/compare.hpp"

namespace ds::ch08 {

struct RlStudentConfig {
  bool sft_on_answers = true;   // the brief SFT's data: the answers alone (R1's situation) or the worked solutions
  TrainerConfig sft;            // the brief SFT: its steps, batch, learning rate and schedule
  TrainerConfig rl;             // GRPO's optimizer (batch_size = prompts x group; steps: an upper bound for the schedule)
  ch07::GrpoConfig grpo;
  double budget = 0;            // student compute to spend in all, SFT included (forward-token equivalents)
  int64_t evals = 8;            // evaluations over the run (plus one at the start)
  int64_t max_new_tokens = 64;  // of the held-out greedy answers
};

// One GRPO step's student compute: rollouts sampled (a forward over each sequence), scored by the
// frozen reference when beta > 0 (another forward) and trained on mu times. Sequences are the
// prompts' tokens and the completions' (rep's mean lengths of right and wrong answers), less one.
double grpo_step_compute(const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& problems, const ch07::RlStepReport& rep,
                         const ch07::GrpoConfig& cfg);

// Trains `model` (the student at its initial weights) by brief SFT then GRPO until cfg.budget is
// spent, evaluated like every other student on data.test. Curves: loss is SFT's cross-entropy,
// then GRPO's loss; steps count SFT and GRPO steps; on_policy_batches counts GRPO steps.
Curves train_rl_student(ch06::DeepSeekModel& model, ch06::DeepSeekModel* teacher, const CompareData& data, const RlStudentConfig& cfg);

}  // namespace ds::ch08
