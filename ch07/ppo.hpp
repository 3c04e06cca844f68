// Proximal Policy Optimization as RLHF uses it (Schulman et al. 2017; Ouyang et al. 2022), the
// method GRPO was made to simplify (DeepSeekMath sec. 4.1.1). PPO keeps a value model V (a
// scalar head on the policy's hidden states) and turns one score per completion into per-token
// advantages:
//
//   r_t   = -kl_coef * log(pi_old(o_t) / pi_ref(o_t))   (+ the score on the last token)   DeepSeekMath eq. 2
//   delta = r_t + gamma V(t+1) - V(t),   A_t = delta_t + gamma lambda A_(t+1)             GAE, Schulman et al. 2015
//   R_t   = A_t + V(t)                                                                     the value target
//
// then maximises the clipped surrogate min(rho A, clip(rho, 1-eps, 1+eps) A) (DeepSeekMath eq. 1)
// and fits V to R with a clipped squared error. The completion ends the episode: the value after
// its last token is 0. Advantages are whitened over the batch's completion tokens before use.
// Whitening and the clipped value loss follow TRL's PPOTrainer (unbiased variance, + 1e-8).
#pragma once

#include <vector>

#include "common/tensor.hpp"

namespace ds::ch07 {

// scores [B] (one verifier score per completion), old_logp / ref_logp / mask [B, T]  ->  rewards [B, T]:
// -kl_coef * (old_logp - ref_logp) on every completion token, plus the score on the last one.
// Plain data (not on the tape). A row without completion tokens is an error.
Tensor kl_penalized_rewards(const std::vector<float>& scores, const Tensor& old_logp, const Tensor& ref_logp, const Tensor& mask,
                            float kl_coef);

struct Gae {
  Tensor advantages;   // [B, T], 0 off the completion
  Tensor returns;      // [B, T], advantages + values: the value model's target
};
// rewards, values, mask [B, T] (plain data)  ->  generalized advantage estimates. Positions with
// mask 0 end the episode (next value 0, running advantage reset).
Gae gae(const Tensor& rewards, const Tensor& values, const Tensor& mask, float gamma, float lambda);

// x, mask [B, T]  ->  (x - mean) / sqrt(var + 1e-8) over the completion tokens (unbiased var);
// shift_mean false adds the mean back (TRL's masked_whiten). Positions with mask 0 are set to 0.
Tensor whiten(const Tensor& x, const Tensor& mask, bool shift_mean = true);

// PPO's clipped surrogate as a per-token loss (DeepSeekMath eq. 1, negated):
// -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) with rho = exp(logp - old_logp). GRPO uses
// it with one advantage per sequence ([B, 1], broadcast) and DAPO's eps_high; PPO with [B, T].
// When both terms are equal (rho inside the clip) the gradient is the unclipped one's.
struct ClippedSurrogate {
  Tensor loss;    // [B, T], on the tape through logp
  Tensor ratio;   // [B, T], rho
};
ClippedSurrogate clipped_surrogate(const Tensor& logp, const Tensor& old_logp, const Tensor& advantages, float eps_low, float eps_high);

struct PpoPolicyTerms {
  Tensor loss;            // scalar: token mean of -min(rho A, clip(rho) A); differentiable through logp
  float clip_fraction = 0;   // completion tokens where the clip binds (A > 0 and rho > 1 + eps, or A < 0 and rho < 1 - eps)
  float approx_kl = 0;       // mean of 0.5 (logp - old_logp)^2 over completion tokens
};
// logp [B, T] (on the tape), old_logp [B, T], advantages [B, T] (already whitened if wanted), mask [B, T].
PpoPolicyTerms ppo_policy_loss(const Tensor& logp, const Tensor& old_logp, const Tensor& advantages, const Tensor& mask,
                               float clip_eps);

struct PpoValueTerms {
  Tensor loss;               // scalar: 0.5 * token mean of max((V - R)^2, (V_clipped - R)^2)
  float clip_fraction = 0;   // completion tokens where the clipped error was the larger
};
// values [B, T] (on the tape), old_values [B, T] (the values at sampling time), returns [B, T], mask [B, T].
// V_clipped = old_values + clip(values - old_values, -clip_value, clip_value).
PpoValueTerms ppo_value_loss(const Tensor& values, const Tensor& old_values, const Tensor& returns, const Tensor& mask,
                             float clip_value);

}  // namespace ds::ch07
