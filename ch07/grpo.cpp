#include "ch07/grpo.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "ch07/masked.hpp"
#include "ch07/ppo.hpp"
#include "common/ops.hpp"

namespace ds::ch07 {

ScaleRewards parse_scale_rewards(std::string_view name) {
  if (name == "group") return ScaleRewards::group;
  if (name == "batch") return ScaleRewards::batch;
  if (name == "none") return ScaleRewards::none;
  throw std::invalid_argument("scale_rewards must be group, batch or none, not '" + std::string(name) + "'");
}

LossType parse_loss_type(std::string_view name) {
  if (name == "grpo") return LossType::grpo;
  if (name == "dapo") return LossType::dapo;
  if (name == "dr_grpo") return LossType::dr_grpo;
  throw std::invalid_argument("loss_type must be grpo, dapo or dr_grpo, not '" + std::string(name) + "'");
}

const char* name_of(ScaleRewards s) { return s == ScaleRewards::group ? "group" : s == ScaleRewards::batch ? "batch" : "none"; }
const char* name_of(LossType t) { return t == LossType::grpo ? "grpo" : t == LossType::dapo ? "dapo" : "dr_grpo"; }

namespace {
struct Moments {
  double mean = 0, std = 0;
};
// Mean and unbiased standard deviation (torch.std's default) of r[begin, end); std 0 for one value.
Moments moments(const std::vector<float>& r, size_t begin, size_t end) {
  const double n = static_cast<double>(end - begin);
  Moments m;
  for (size_t i = begin; i < end; ++i) m.mean += r[i];
  m.mean /= n;
  if (n < 2) return m;
  double ss = 0;
  for (size_t i = begin; i < end; ++i) ss += (r[i] - m.mean) * (r[i] - m.mean);
  m.std = std::sqrt(ss / (n - 1));
  return m;
}
}  // namespace

std::vector<float> group_advantages(const std::vector<float>& rewards, int64_t group_size, ScaleRewards scale) {
  if (group_size < 1) throw std::invalid_argument("group_advantages: the group size must be at least 1");
  const auto g = static_cast<size_t>(group_size);
  if (rewards.empty() || rewards.size() % g != 0)
    throw std::invalid_argument("group_advantages: " + std::to_string(rewards.size()) + " rewards do not split into groups of " +
                                std::to_string(group_size));
  const Moments batch = moments(rewards, 0, rewards.size());
  std::vector<float> adv(rewards.size());
  for (size_t start = 0; start < rewards.size(); start += g) {
    const Moments group = moments(rewards, start, start + g);
    const double std = scale == ScaleRewards::group ? group.std : batch.std;
    for (size_t i = start; i < start + g; ++i) {
      const double a = rewards[i] - group.mean;   // the baseline is always the group's mean
      adv[i] = static_cast<float>(scale == ScaleRewards::none ? a : a / (std + 1e-4));
    }
  }
  return adv;
}

namespace {
void check_inputs(const Tensor& logp, const Tensor& old_logp, const Tensor& ref_logp, const Tensor& mask, size_t n_adv,
                  const GrpoOptions& opt) {
  check_tokens("grpo_loss", logp, mask);
  const auto shape_of = [](const Tensor& x) { return x.defined() ? x.shape() : Shape{}; };
  if (shape_of(old_logp) != logp.shape()) shape_error("grpo_loss", "old_logp must have the shape of logp", logp.shape(), shape_of(old_logp));
  if (static_cast<int64_t>(n_adv) != logp.size(0))
    throw std::invalid_argument("grpo_loss: " + std::to_string(n_adv) + " advantages for " + std::to_string(logp.size(0)) + " sequences");
  if (opt.beta != 0.f && !ref_logp.defined())
    throw std::invalid_argument("grpo_loss: beta is not 0, so the reference log-probs ref_logp are needed");
  if (ref_logp.defined() && ref_logp.shape() != logp.shape())
    shape_error("grpo_loss", "ref_logp must have the shape of logp", logp.shape(), ref_logp.shape());
  if (opt.loss_type == LossType::dr_grpo && opt.max_completion_length <= 0)
    throw std::invalid_argument("grpo_loss: loss_type dr_grpo needs max_completion_length, its constant divisor");
}

// Fractions of completion tokens where the lower / upper clip binds (as TRL logs them).
std::pair<float, float> clip_fractions(const Tensor& ratio, const Tensor& mask, const std::vector<float>& adv, const GrpoOptions& opt) {
  const int64_t t = ratio.size(1), n = total_tokens(mask);
  int64_t low = 0, high = 0;
  for (int64_t i = 0; i < ratio.numel(); ++i) {
    if (mask[i] == 0.f) continue;
    const float a = adv[static_cast<size_t>(i / t)], r = ratio[i];
    low += a < 0 && r < 1.f - opt.epsilon;
    high += a > 0 && r > 1.f + opt.epsilon_high;
  }
  if (n == 0) return {0.f, 0.f};
  return {static_cast<float>(low) / static_cast<float>(n), static_cast<float>(high) / static_cast<float>(n)};
}

// Mean of 0.5 (log rho)^2 over completion tokens: 0 on the first of mu steps, growing as the
// updates leave the policy that sampled the batch (the estimator ppo_policy_loss reports).
float approx_kl_to_old(const Tensor& ratio, const Tensor& mask) {
  double s = 0;
  for (int64_t i = 0; i < ratio.numel(); ++i)
    if (mask[i] != 0.f) s += 0.5 * std::log(ratio[i]) * std::log(ratio[i]);
  return static_cast<float>(s / static_cast<double>(std::max<int64_t>(total_tokens(mask), 1)));
}
}  // namespace

GrpoTerms grpo_loss(const Tensor& logp, const Tensor& old_logp, const Tensor& ref_logp, const Tensor& mask,
                    const std::vector<float>& advantages, const GrpoOptions& opt) {
  check_inputs(logp, old_logp, ref_logp, mask, advantages.size(), opt);
  const int64_t b = logp.size(0);
  // PPO's clipped surrogate with one advantage per sequence, broadcast over its tokens.
  const ClippedSurrogate s = clipped_surrogate(logp, old_logp, Tensor::from(advantages, {b, 1}), opt.epsilon, opt.epsilon_high);
  Tensor per_token = s.loss;
  Tensor kl;   // also computed for logging when a reference is given with beta 0
  if (ref_logp.defined()) {
    kl = kl_k3(logp, ref_logp.detach());
    if (opt.beta != 0.f) per_token = add(per_token, mul_scalar(kl, opt.beta));
  }

  const int64_t n_seq = opt.batch_sequences > 0 ? opt.batch_sequences : b;
  GrpoTerms out;
  switch (opt.loss_type) {
    case LossType::grpo:   // 1/G sum_i 1/|o_i| sum_t (DeepSeekMath eq. 3)
      out.loss = mul_scalar(sum(masked_row_mean(per_token, mask)), 1.f / static_cast<float>(n_seq));
      break;
    case LossType::dapo: {   // 1/sum_i |o_i| sum_i sum_t (DAPO sec. 3.3)
      const int64_t tokens = opt.batch_tokens > 0 ? opt.batch_tokens : std::max<int64_t>(total_tokens(mask), 1);
      out.loss = masked_sum_over(per_token, mask, static_cast<double>(tokens));
      break;
    }
    case LossType::dr_grpo:   // 1/(G L_max) sum_i sum_t (Dr. GRPO)
      out.loss = masked_sum_over(per_token, mask, static_cast<double>(n_seq) * static_cast<double>(opt.max_completion_length));
      break;
  }

  // What a training step logs, computed off the tape.
  std::tie(out.clip_low, out.clip_high) = clip_fractions(s.ratio, mask, advantages, opt);
  out.ratio_mean = masked_average(s.ratio, mask);
  out.approx_kl = approx_kl_to_old(s.ratio, mask);
  out.kl = kl.defined() ? masked_average(kl, mask) : 0.f;
  return out;
}

}  // namespace ds::ch07
