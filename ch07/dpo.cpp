#include "ch07/dpo.hpp"

#include <stdexcept>
#include <string>

#include "ch07/masked.hpp"
#include "common/ops.hpp"

namespace ds::ch07 {

DpoTerms dpo_loss(const Tensor& logp_chosen, const Tensor& mask_chosen, const Tensor& logp_rejected, const Tensor& mask_rejected,
                  const Tensor& ref_chosen, const Tensor& ref_rejected, const DpoOptions& opt) {
  check_tokens("dpo_loss (chosen)", logp_chosen, mask_chosen);
  check_tokens("dpo_loss (rejected)", logp_rejected, mask_rejected);
  if (!ref_chosen.defined() || !ref_rejected.defined() || ref_chosen.shape() != logp_chosen.shape() || ref_rejected.shape() != logp_rejected.shape())
    throw std::invalid_argument("dpo_loss: the reference log-probs must have the shapes of the policy's");
  const int64_t b = logp_chosen.size(0);
  if (logp_rejected.size(0) != b)
    throw std::invalid_argument("dpo_loss: " + std::to_string(b) + " chosen but " + std::to_string(logp_rejected.size(0)) + " rejected completions");
  if (!(opt.beta > 0)) throw std::invalid_argument("dpo_loss: beta must be positive");
  for (int64_t i = 0; i < b; ++i)
    if (row_tokens(mask_chosen, i) == 0 || row_tokens(mask_rejected, i) == 0)
      throw std::invalid_argument("dpo_loss: pair " + std::to_string(i) + " has an empty completion");

  // log pi(y|x) - log pi_ref(y|x) per sequence [B]; the reference is a constant.
  const Tensor ratio_w = sub(masked_row_sum(logp_chosen, mask_chosen), masked_row_sum(ref_chosen.detach(), mask_chosen));
  const Tensor ratio_l = sub(masked_row_sum(logp_rejected, mask_rejected), masked_row_sum(ref_rejected.detach(), mask_rejected));
  const Tensor logits = mul_scalar(sub(ratio_w, ratio_l), opt.beta);
  DpoTerms out;
  out.loss = neg(mean(log_sigmoid(logits)));   // eq. 7
  out.nll = -masked_average(logp_chosen, mask_chosen);
  if (opt.nll_weight != 0.f) out.loss = add(out.loss, mul_scalar(neg(masked_mean(logp_chosen, mask_chosen)), opt.nll_weight));
  for (int64_t i = 0; i < b; ++i) {
    const float w = opt.beta * ratio_w[i], l = opt.beta * ratio_l[i];
    out.chosen_rewards.push_back(w);
    out.rejected_rewards.push_back(l);
    out.margin += (w - l) / static_cast<float>(b);
    out.accuracy += (w > l ? 1.f : 0.f) / static_cast<float>(b);
  }
  return out;
}

}  // namespace ds::ch07
