// PPO with a learned critic, the method GRPO replaces (DeepSeekMath sec. 4.1.1): the policy, a
// frozen reference, and a value model of the policy's size (a copy of the SFT model with a scalar
// value head, critic.hpp, trained by its own optimizer) -- the critic GRPO does away with.
// One step: sample, score the samples under the reference and the critic, per-token rewards with
// the KL penalty (DeepSeekMath eq. 2), GAE, whitened advantages, then ppo_epochs optimizer steps
// of the clipped policy loss and of the clipped value loss (ppo.hpp).
#pragma once

#include <memory>

#include "ch02/score.hpp"
#include "ch07/critic.hpp"
#include "ch07/grpo_learner.hpp"
#include "ch07/ppo.hpp"

namespace ds::ch07 {

struct PpoConfig {
  int64_t prompts = 16;
  int64_t samples = 8;          // completions per prompt (PPO needs no group; kept equal to GRPO's G for equal sampling)
  int64_t ppo_epochs = 1;       // optimizer steps per sampled batch
  float temperature = 1.f;
  float kl_coef = 0.05f;        // per-token KL penalty in the reward
  float gamma = 1.f, lambda = 0.95f;
  float clip = 0.2f;            // policy ratio clip
  float value_clip = 0.2f;      // value clip around the values at sampling time
  bool whiten_advantages = true;
};

// values [B, T] of the critic at the positions that predict each completion token of the rows.
ch02::TokenScores critic_values(Critic& critic, const std::vector<std::vector<int32_t>>& prompts,
                                const std::vector<std::vector<int32_t>>& completions);

class PpoLearner {
 public:
  // The critic starts as a copy of the policy with a fresh value head (rng); the reference is a frozen copy.
  PpoLearner(ch06::DeepSeekModel& policy, const TaskCodec& codec, const TrainerConfig& policy_tc, const TrainerConfig& critic_tc,
             const PpoConfig& cfg, Rng& rng);
  RlStepReport step(const std::vector<Problem>& problems, uint64_t seed);
  Critic& critic() { return *critic_; }
  PolicyTrainer policy_trainer;
  std::unique_ptr<Critic> critic_;
  std::unique_ptr<Trainer> critic_trainer;

 private:
  Loss policy_loss(const Batch& b);
  Loss value_loss(const Batch& b);
  ch06::DeepSeekModel& policy_;
  const TaskCodec& codec_;
  PpoConfig cfg_;
  std::unique_ptr<ch06::DeepSeekModel> reference_;
  Rollouts rollouts_;
  Tensor advantages_, returns_, old_values_;   // [rows, L]
};

}  // namespace ds::ch07
