// Direct Preference Optimization (Rafailov et al. 2023, eq. 7): for a prompt x with a preferred
// completion y_w and a dispreferred one y_l,
//
//   L = -log sigmoid( beta [ log pi(y_w|x)/pi_ref(y_w|x) - log pi(y_l|x)/pi_ref(y_l|x) ] )
//
// where log pi(y|x) is the sum of the completion's token log-probs. No sampling during
// training and no reward model: the policy's log-ratio to the frozen reference is an implicit
// reward r(x, y) = beta log pi(y|x)/pi_ref(y|x) (sec. 5), and the loss is a logistic regression
// on the reward margin r_w - r_l. DeepSeekMath's App. A.1.4 writes the same loss with per-token
// means instead of sums; this file uses sums, as the DPO paper and TRL do.
//
// Optional NLL on the chosen answer (Pang et al. 2024, "Iterative Reasoning Preference
// Optimization"; TRL's rpo_alpha): + nll_weight * (-mean log pi over the chosen tokens), which
// stops DPO from lowering the chosen answer's likelihood while it widens the margin.
#pragma once

#include <vector>

#include "common/tensor.hpp"

namespace ds::ch07 {

struct DpoOptions {
  float beta = 0.1f;         // inverse temperature of the implicit reward
  float nll_weight = 0.f;    // weight of the NLL term on the chosen completions
};

struct DpoTerms {
  Tensor loss;                          // scalar: mean over pairs (+ the NLL term); differentiable through the policy's log-probs
  std::vector<float> chosen_rewards;    // [B] beta * (log pi(y_w) - log pi_ref(y_w))
  std::vector<float> rejected_rewards;  // [B] beta * (log pi(y_l) - log pi_ref(y_l))
  float margin = 0;                     // mean of chosen - rejected reward
  float accuracy = 0;                   // fraction of pairs with chosen reward > rejected reward
  float nll = 0;                        // mean -log pi over the chosen tokens (the NLL term before its weight)
};

// logp_chosen [B, Tw], mask_chosen [B, Tw]: the policy's token log-probs of y_w and its completion mask
// logp_rejected [B, Tr], mask_rejected [B, Tr]: the same for y_l
// ref_chosen [B, Tw], ref_rejected [B, Tr]: the frozen reference's token log-probs
DpoTerms dpo_loss(const Tensor& logp_chosen, const Tensor& mask_chosen, const Tensor& logp_rejected, const Tensor& mask_rejected,
                  const Tensor& ref_chosen, const Tensor& ref_rejected, const DpoOptions& opt = {});

}  // namespace ds::ch07
