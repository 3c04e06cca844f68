// Supervised fine-tuning on (prompt, completion) pairs, the first stage of DeepSeek-R1's pipeline
// (R1 sec. 2.3.1, "cold start") and the loss of rejection-sampling fine-tuning (RFT, STaR) and of
// sequence-level distillation (ch08): next-token cross-entropy on the completion's tokens only,
// averaged over those tokens. The prompt is context, not something to imitate, so its tokens
// carry no loss (targets -100); every completion token of the batch weighs the same, so a long
// worked solution is not down-weighted against a short one.
//
// Training goes through the repository's one trainer (common/trainer.hpp: AdamW, warmup +
// cosine, clipping, saved state) with the auxiliary-loss-free balancing hook of the MoE layers
// (DeepSeek-V3 sec. 2.1.2); this file only builds the batches and the loss.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "ch04/balance_hook.hpp"
#include "ch07/task_model.hpp"
#include "common/trainer.hpp"

namespace ds::ch07 {

// prompts[i] + completions[i] -> a right-padded batch: inputs [B, T] are the sequences without
// their last token, targets [B, T] the next token where that token belongs to the completion and
// -100 elsewhere (prompt, padding). T = the longest prompt + completion - 1; padding is `pad`.
Batch sft_batch(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<int32_t>>& completions, int32_t pad);
// The same for problems and their worked solutions (codec.prompt, codec.completion).
Batch sft_batch(const TaskCodec& codec, const std::vector<Problem>& problems);

// The SFT loss of a batch made by sft_batch: cross-entropy over its completion tokens, mean over
// them. Metric "token_acc": the fraction of completion tokens the model's argmax gets right.
LossFn sft_loss(ch02::LanguageModel& model);

// The trainer settings of a post-training run: `steps` steps of `batch` sequences, the learning
// rate warming up over min(5, steps) steps and then cosine from lr to min_lr (min_lr = lr: constant),
// no weight decay, no progress bar of its own.
TrainerConfig post_training_config(int64_t steps, int64_t batch, float lr, float min_lr);

// n problems of the training split, each of a length drawn uniformly from `lengths`.
std::vector<Problem> sample_train_problems(Task task, const std::vector<int>& lengths, int n, Rng& rng);

// The trainer of a ch06 model with a given loss. With balance_bias, the auxiliary-loss-free bias
// update of its MoE layers runs after every step (it sees only training forwards: sampling and
// evaluation do not move the biases). RL and DPO turn it off: DeepSeek-V3 sets the bias update
// speed to 0 for the last 500B tokens of pretraining (sec. 4.2), and a bias that moves on its own
// would change the policy outside the gradient that the KL and the clip keep in check.
struct PolicyTrainer {
  PolicyTrainer(ch06::DeepSeekModel& model, const TrainerConfig& cfg, LossFn loss, bool balance_bias = true);
  std::unique_ptr<ch04::BalanceHook> balance;
  std::unique_ptr<Trainer> trainer;
  // One optimizer step on this batch, recorded in trainer->history.
  StepStats step(const Batch& batch);
};

// The SFT trainer: PolicyTrainer with sft_loss.
struct SftTrainer : PolicyTrainer {
  SftTrainer(ch06::DeepSeekModel& model, const TrainerConfig& cfg);
};

// `steps` SFT steps, each on trainer.batch_size fresh training problems of `lengths`, with a
// progress bar labelled `label`; on_step runs after each step and may return false to stop (Ctrl-C).
// Returns the steps taken.
int64_t sft_steps(SftTrainer& sft, const TaskCodec& codec, Task task, const std::vector<int>& lengths, int64_t steps, Rng& rng,
                  const std::function<bool(const StepStats&)>& on_step = {}, const std::string& label = "sft");
// The same with the batches' problems from `draw` (n problems per call), e.g. a finite labelled
// set (labelled_set.hpp).
using ProblemSource = std::function<std::vector<Problem>(int n, Rng& rng)>;
int64_t sft_steps(SftTrainer& sft, const TaskCodec& codec, const ProblemSource& draw, int64_t steps, Rng& rng,
                  const std::function<bool(const StepStats&)>& on_step = {}, const std::string& label = "sft");

// `steps` SFT steps on batches of trainer.batch_size pairs drawn uniformly (with replacement)
// from the given examples: rejection-sampling fine-tuning and distillation data. Returns the steps
// taken (fewer when stop() says so).
int64_t sft_on_examples(SftTrainer& sft, const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<int32_t>>& completions,
                        int32_t pad, int64_t steps, Rng& rng, const std::function<bool()>& stop = {});

}  // namespace ds::ch07
