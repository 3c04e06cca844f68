#include "ch07/ppo.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "ch07/masked.hpp"
#include "common/ops.hpp"

namespace ds::ch07 {
namespace {
// Each named tensor must be given and have the mask's shape.
void same_shapes(const char* op, const Tensor& mask, std::initializer_list<std::pair<const char*, Tensor>> xs) {
  for (const auto& [what, x] : xs)
    if (!x.defined() || x.shape() != mask.shape())
      shape_error(op, std::string(what) + " must have the shape of the mask", mask.shape(), x.defined() ? x.shape() : Shape{});
}
}  // namespace

Tensor kl_penalized_rewards(const std::vector<float>& scores, const Tensor& old_logp, const Tensor& ref_logp, const Tensor& mask,
                            float kl_coef) {
  check_tokens("kl_penalized_rewards", old_logp, mask);
  same_shapes("kl_penalized_rewards", mask, {{"ref_logp", ref_logp}});
  const int64_t b = mask.size(0), t = mask.size(1);
  if (static_cast<int64_t>(scores.size()) != b)
    throw std::invalid_argument("kl_penalized_rewards: " + std::to_string(scores.size()) + " scores for " + std::to_string(b) + " sequences");
  Tensor r = Tensor::zeros({b, t});
  for (int64_t i = 0; i < b; ++i) {
    int64_t last = -1;
    for (int64_t j = 0; j < t; ++j) {
      const int64_t k = i * t + j;
      if (mask[k] == 0.f) continue;
      r.data()[k] = -kl_coef * (old_logp[k] - ref_logp[k]);   // k1 estimate of the KL, per token (eq. 2)
      last = j;
    }
    if (last < 0) throw std::invalid_argument("kl_penalized_rewards: sequence " + std::to_string(i) + " has no completion tokens to reward");
    r.data()[i * t + last] += scores[static_cast<size_t>(i)];
  }
  return r;
}

Gae gae(const Tensor& rewards, const Tensor& values, const Tensor& mask, float gamma, float lambda) {
  check_tokens("gae", rewards, mask);
  same_shapes("gae", mask, {{"values", values}});
  const int64_t b = mask.size(0), t = mask.size(1);
  Gae out{Tensor::zeros({b, t}), Tensor::zeros({b, t})};
  for (int64_t i = 0; i < b; ++i) {
    double next_value = 0, running = 0;   // beyond the last token: the episode is over
    for (int64_t j = t - 1; j >= 0; --j) {
      const int64_t k = i * t + j;
      if (mask[k] == 0.f) {
        next_value = running = 0;
        continue;
      }
      const double delta = rewards[k] + gamma * next_value - values[k];
      running = delta + gamma * lambda * running;
      out.advantages.data()[k] = static_cast<float>(running);
      out.returns.data()[k] = static_cast<float>(running + values[k]);
      next_value = values[k];
    }
  }
  return out;
}

Tensor whiten(const Tensor& x, const Tensor& mask, bool shift_mean) {
  check_tokens("whiten", x, mask);
  const int64_t n = total_tokens(mask);
  if (n < 2) throw std::invalid_argument("whiten: needs at least 2 completion tokens for a variance");
  double mean = 0, ss = 0;
  for (int64_t i = 0; i < x.numel(); ++i) mean += mask[i] != 0.f ? x[i] : 0.0;
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < x.numel(); ++i)
    if (mask[i] != 0.f) ss += (x[i] - mean) * (x[i] - mean);
  const double inv_std = 1.0 / std::sqrt(ss / static_cast<double>(n - 1) + 1e-8);
  Tensor out = Tensor::zeros(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i)
    if (mask[i] != 0.f) out.data()[i] = static_cast<float>((x[i] - mean) * inv_std + (shift_mean ? 0.0 : mean));
  return out;
}

ClippedSurrogate clipped_surrogate(const Tensor& logp, const Tensor& old_logp, const Tensor& advantages, float eps_low, float eps_high) {
  if (!(eps_low >= 0 && eps_low < 1 && eps_high >= 0))
    throw std::invalid_argument("clipped_surrogate: the clip range needs 0 <= eps_low < 1 and eps_high >= 0");
  const Tensor adv = advantages.detach();
  ClippedSurrogate out;
  out.ratio = exp(sub(logp, old_logp.detach()));
  const Tensor surr = mul(out.ratio, adv), surr_clipped = mul(clamp(out.ratio, 1.f - eps_low, 1.f + eps_high), adv);
  out.loss = neg(minimum(surr, surr_clipped));   // the pessimistic bound; ties go to the unclipped term
  return out;
}

PpoPolicyTerms ppo_policy_loss(const Tensor& logp, const Tensor& old_logp, const Tensor& advantages, const Tensor& mask,
                               float clip_eps) {
  check_tokens("ppo_policy_loss", logp, mask);
  same_shapes("ppo_policy_loss", mask, {{"old_logp", old_logp}, {"advantages", advantages}});
  const ClippedSurrogate s = clipped_surrogate(logp, old_logp, advantages, clip_eps, clip_eps);
  PpoPolicyTerms out;
  out.loss = masked_mean(s.loss, mask);   // token mean
  int64_t clipped = 0;
  double kl = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) {
    if (mask[i] == 0.f) continue;
    const double r = s.ratio[i], a = advantages[i];
    clipped += (a > 0 && r > 1 + clip_eps) || (a < 0 && r < 1 - clip_eps);
    kl += 0.5 * std::log(r) * std::log(r);
  }
  const double n = static_cast<double>(std::max<int64_t>(total_tokens(mask), 1));
  out.clip_fraction = static_cast<float>(clipped / n);
  out.approx_kl = static_cast<float>(kl / n);
  return out;
}

PpoValueTerms ppo_value_loss(const Tensor& values, const Tensor& old_values, const Tensor& returns, const Tensor& mask,
                             float clip_value) {
  check_tokens("ppo_value_loss", values, mask);
  same_shapes("ppo_value_loss", mask, {{"old_values", old_values}, {"returns", returns}});
  if (!(clip_value > 0)) throw std::invalid_argument("ppo_value_loss: clip_value must be positive");
  const Tensor old = old_values.detach(), ret = returns.detach();
  const Tensor clipped = add(old, clamp(sub(values, old), -clip_value, clip_value));
  const Tensor err = square(sub(values, ret)), err_clipped = square(sub(clipped, ret));
  PpoValueTerms out;
  // max(a, b) = -min(-a, -b): the pessimistic of the two errors, as the policy loss.
  out.loss = mul_scalar(masked_mean(neg(minimum(neg(err), neg(err_clipped))), mask), 0.5f);
  int64_t n_clipped = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) n_clipped += mask[i] != 0.f && err_clipped[i] > err[i];
  out.clip_fraction = static_cast<float>(n_clipped) / static_cast<float>(std::max<int64_t>(total_tokens(mask), 1));
  return out;
}

}  // namespace ds::ch07
