// Group Relative Policy Optimization (DeepSeekMath, Shao et al. 2024; used for DeepSeek-R1).
//
// For each prompt q, sample G completions o_1..o_G from the old policy, score them, and
// maximise (DeepSeekMath eq. 3, with the KL estimator of eq. 4)
//
//   J = 1/G sum_i 1/|o_i| sum_t { min( rho_it A_i, clip(rho_it, 1 - eps, 1 + eps_high) A_i )
//                                 - beta KL_k3(pi_theta || pi_ref)_it }
//
// with rho_it = pi_theta(o_it | q, o_i<t) / pi_old(o_it | q, o_i<t) and the group-relative
// advantage A_i = (r_i - mean(r_group)) / std(r_group) (sec. 4.1.2, outcome supervision), the same
// for every token of o_i. No value model: the group's mean reward is the baseline. On-policy
// (pi_old = pi_theta, one update per batch as in sec. 4.2) the gradient is App. A.1.6's eq. 20
// with coefficient eq. 21: GC_it = A_i + beta (pi_ref / pi_theta - 1) per token, so with beta 0
// GRPO is REINFORCE with the group mean as baseline (test_grpo.cpp checks both).
//
// Variants this file also implements, because they change what the chapter measures:
//  - eps_high > eps: DAPO's "clip-higher" (Yu et al. 2025, sec. 3.1; eps 0.2, eps_high 0.28): the
//    upper clip is looser so unlikely tokens that were rewarded can still grow, which keeps the
//    entropy from collapsing.
//  - loss_type dapo: the token-level mean over all tokens of the batch (DAPO sec. 3.3) instead of
//    a mean per sequence, so the tokens of a long sequence are not down-weighted.
//  - loss_type dr_grpo and scale_rewards none: Dr. GRPO (Liu et al. 2025, "Understanding
//    R1-Zero-like training", sec. 3.1) divides by a constant (the maximum completion length) and
//    not by the group std: 1/|o_i| favours short correct and long wrong answers, and the std
//    up-weights groups that are almost all right or all wrong.
//  - scale_rewards batch: one std over the whole batch (TRL's option of that name).
// The advantage normalisation follows TRL's GRPOTrainer: torch's unbiased std and + 1e-4.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/tensor.hpp"

namespace ds::ch07 {

enum class ScaleRewards { group, batch, none };
enum class LossType { grpo, dapo, dr_grpo };
// "group" / "batch" / "none" and "grpo" / "dapo" / "dr_grpo"; anything else throws one sentence.
ScaleRewards parse_scale_rewards(std::string_view name);
LossType parse_loss_type(std::string_view name);
const char* name_of(ScaleRewards s);
const char* name_of(LossType t);

// rewards [N * G]: the G samples of prompt 0, then of prompt 1, ...  ->  advantages [N * G]:
// r - mean of its group, divided by (std + 1e-4) of its group (group), of all rewards (batch),
// or not divided (none). A group whose rewards are all equal gets advantage 0: it teaches nothing.
std::vector<float> group_advantages(const std::vector<float>& rewards, int64_t group_size, ScaleRewards scale);

struct GrpoOptions {
  float epsilon = 0.2f;        // lower clip: the ratio may fall to 1 - epsilon
  float epsilon_high = 0.2f;   // upper clip: the ratio may rise to 1 + epsilon_high (DAPO: 0.28)
  float beta = 0.04f;          // weight of the k3 KL to the reference (DeepSeekMath sec. 4.2: 0.04; DAPO, Dr. GRPO: 0)
  LossType loss_type = LossType::grpo;
  int64_t max_completion_length = 0;   // dr_grpo's constant divisor (required for dr_grpo)
  // When one batch is split into micro-batches whose gradients are summed, the divisors must be
  // the whole batch's: its sequence count (grpo, dr_grpo) and completion tokens (dapo). 0 means
  // this call's own batch.
  int64_t batch_sequences = 0;
  int64_t batch_tokens = 0;
};

struct GrpoTerms {
  Tensor loss;              // scalar, -J; differentiable through logp only
  float kl = 0;             // mean k3 KL over completion tokens (0 when beta is 0 and ref_logp is undefined)
  float clip_low = 0;       // fraction of completion tokens with A < 0 and ratio < 1 - epsilon
  float clip_high = 0;      // fraction with A > 0 and ratio > 1 + epsilon_high
  float ratio_mean = 0;     // mean ratio over completion tokens
  float approx_kl = 0;      // mean of 0.5 (logp - old_logp)^2 over completion tokens: how far the update moved from pi_old (PPO's approx KL)
};

// logp [B, T]     the policy's log-probs of the sampled tokens (on the tape)
// old_logp [B, T] the same tokens under the policy that sampled them (pi_old; logp.detach() on-policy)
// ref_logp [B, T] the same tokens under the frozen reference (may be undefined when beta is 0)
// mask [B, T]     1 on completion tokens, 0 on prompt and padding
// advantages [B]  one per sequence (group_advantages)
GrpoTerms grpo_loss(const Tensor& logp, const Tensor& old_logp, const Tensor& ref_logp, const Tensor& mask,
                    const std::vector<float>& advantages, const GrpoOptions& opt);

}  // namespace ds::ch07
