// DPO training on preference pairs built from the policy's own samples (as in iterative/online
// DPO for reasoning, Pang et al. 2024): for a prompt whose samples include a verified-correct and
// a wrong completion, the correct one is chosen and the wrong one rejected. The reference is a
// frozen copy of the policy DPO starts from; its log-probs of every pair are scored once.
#pragma once

#include <memory>

#include "ch07/dpo.hpp"
#include "ch07/rollout.hpp"
#include "ch07/sft.hpp"

namespace ds::ch07 {

struct PreferencePair {
  std::vector<int32_t> prompt, chosen, rejected;
};
// One pair per prompt of `r` that has both a correct and a wrong sample: its first correct and its
// first wrong one (in sampling order). Prompts whose samples all agree give no pair.
std::vector<PreferencePair> preference_pairs(const Rollouts& r);

class DpoLearner {
 public:
  // The reference is a frozen copy of the policy as it is now.
  DpoLearner(ch06::DeepSeekModel& policy, const TrainerConfig& tc, const DpoOptions& opt);
  // Replaces the pairs the steps draw from and scores them under the reference.
  void set_pairs(std::vector<PreferencePair> pairs);
  // One optimizer step on the pairs `rows` (indices into the current pairs). Metrics: margin,
  // pair_acc (chosen reward above rejected), chosen_reward, rejected_reward, nll.
  StepStats step(const std::vector<int64_t>& rows);
  int64_t pairs() const { return static_cast<int64_t>(pairs_.size()); }
  PolicyTrainer trainer;

 private:
  Loss loss(const Batch& b);
  ch06::DeepSeekModel& policy_;
  std::unique_ptr<ch06::DeepSeekModel> reference_;
  DpoOptions opt_;
  std::vector<PreferencePair> pairs_;
  Tensor ref_chosen_, ref_rejected_;   // [pairs, L] reference token log-probs
};

}  // namespace ds::ch07
