#include <cmath>

#include "ch07/grpo.hpp"
#include "ch07/masked.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;
using test::rnd;

namespace {
Tensor mask_of(const std::vector<int>& lengths, int64_t t) {
  std::vector<float> m;
  for (const int n : lengths)
    for (int64_t j = 0; j < t; ++j) m.push_back(j < n ? 1.f : 0.f);
  return Tensor::from(m, {static_cast<int64_t>(lengths.size()), t});
}
GrpoOptions opts(LossType type, float beta = 0.f, int64_t max_len = 0) {
  GrpoOptions o;
  o.loss_type = type;
  o.beta = beta;
  o.max_completion_length = max_len;
  return o;
}
}  // namespace

TEST_CASE("grpo advantages: group, batch and none by hand") {
  const std::vector<float> r = {1, 0, 0, 1, 1, 1, 1, 1};
  // Group 1: mean 0.5, unbiased std sqrt(1/3). Group 2: all equal, so advantage 0.
  const float a = 0.5f / (std::sqrt(1.f / 3.f) + 1e-4f);
  const auto g = group_advantages(r, 4, ScaleRewards::group);
  const std::vector<float> expect_g = {a, -a, -a, a, 0, 0, 0, 0};
  for (size_t i = 0; i < r.size(); ++i) CHECK(g[i] == doctest::Approx(expect_g[i]).epsilon(1e-6));
  // Batch: the baseline is still the group's mean, the scale the batch's std sqrt(1.5 / 7).
  const float b = 0.5f / (std::sqrt(1.5f / 7.f) + 1e-4f);
  const auto bt = group_advantages(r, 4, ScaleRewards::batch);
  CHECK(bt[0] == doctest::Approx(b).epsilon(1e-6));
  CHECK(bt[1] == doctest::Approx(-b).epsilon(1e-6));
  CHECK(bt[5] == 0.f);
  const auto n = group_advantages(r, 4, ScaleRewards::none);
  CHECK(n == std::vector<float>{0.5f, -0.5f, -0.5f, 0.5f, 0, 0, 0, 0});
  CHECK_THROWS_WITH_AS(group_advantages(r, 3, ScaleRewards::group), "group_advantages: 8 rewards do not split into groups of 3",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_scale_rewards("std"), "scale_rewards must be group, batch or none, not 'std'", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_loss_type("bnpo"), "loss_type must be grpo, dapo or dr_grpo, not 'bnpo'", std::invalid_argument);
  CHECK(parse_loss_type(name_of(LossType::dr_grpo)) == LossType::dr_grpo);
  CHECK(parse_scale_rewards(name_of(ScaleRewards::batch)) == ScaleRewards::batch);
}

TEST_CASE("grpo loss: the three normalisations by hand, on-policy") {
  // Two sequences of 2 and 3 tokens, advantages 1 and -0.5; on-policy every ratio is 1, so each
  // token's loss is -A_i.
  const Tensor mask = mask_of({2, 3}, 3), lp = rnd({2, 3}, 1);
  const std::vector<float> adv = {1.f, -0.5f};
  CHECK(grpo_loss(lp, lp, {}, mask, adv, opts(LossType::grpo)).loss.item() == doctest::Approx(-(2.0 / 2 - 1.5 / 3) / 2));
  CHECK(grpo_loss(lp, lp, {}, mask, adv, opts(LossType::dapo)).loss.item() == doctest::Approx(-(2.0 - 1.5) / 5));
  CHECK(grpo_loss(lp, lp, {}, mask, adv, opts(LossType::dr_grpo, 0.f, 4)).loss.item() == doctest::Approx(-(2.0 - 1.5) / (2 * 4)));
  CHECK_THROWS_WITH_AS(grpo_loss(lp, lp, {}, mask, adv, opts(LossType::dr_grpo)),
                       "grpo_loss: loss_type dr_grpo needs max_completion_length, its constant divisor", std::invalid_argument);
  CHECK_THROWS_WITH_AS(grpo_loss(lp, lp, {}, mask, {1.f}, opts(LossType::grpo)), "grpo_loss: 1 advantages for 2 sequences",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(grpo_loss(lp, lp, {}, mask, adv, opts(LossType::grpo, 0.04f)),
                       "grpo_loss: beta is not 0, so the reference log-probs ref_logp are needed", std::invalid_argument);
}

TEST_CASE("grpo loss: the clipped ratio and clip-higher by hand") {
  // One sequence of two tokens with ratios 1.5 and 0.5.
  const Tensor mask = mask_of({2}, 2), old = Tensor::from({-1.f, -1.f}, {1, 2});
  const Tensor lp = Tensor::from({-1.f + std::log(1.5f), -1.f + std::log(0.5f)}, {1, 2});
  GrpoOptions o = opts(LossType::grpo);
  // A = 1: min(1.5, 1.2) = 1.2 and min(0.5, 0.8) = 0.5.
  Tensor x = lp.clone().requires_grad_();
  GrpoTerms t = grpo_loss(x, old, {}, mask, {1.f}, o);
  CHECK(t.loss.item() == doctest::Approx(-(1.2 + 0.5) / 2));
  t.loss.backward();
  CHECK(x.grad().data()[0] == 0.f);                                   // clipped: no gradient
  CHECK(x.grad().data()[1] == doctest::Approx(-0.5 / 2).epsilon(1e-6));   // d(-rho)/dlogp = -rho
  CHECK(t.clip_high == doctest::Approx(0.5));
  CHECK(t.clip_low == 0.f);
  CHECK(t.ratio_mean == doctest::Approx(1.0));
  // How far the update left pi_old: 0.5 (log rho)^2 per token, averaged; 0 on-policy.
  CHECK(t.approx_kl == doctest::Approx(0.25 * (std::log(1.5) * std::log(1.5) + std::log(0.5) * std::log(0.5))).epsilon(1e-5));
  CHECK(grpo_loss(old, old, {}, mask, {1.f}, o).approx_kl == 0.f);
  // A = -1: min(-1.5, -1.2) = -1.5 and min(-0.5, -0.8) = -0.8; the low clip binds on token 2.
  t = grpo_loss(lp, old, {}, mask, {-1.f}, o);
  CHECK(t.loss.item() == doctest::Approx((1.5 + 0.8) / 2));
  CHECK(t.clip_low == doctest::Approx(0.5));
  // DAPO's clip-higher: the upper bound moves to 1.28.
  o.epsilon_high = 0.28f;
  CHECK(grpo_loss(lp, old, {}, mask, {1.f}, o).loss.item() == doctest::Approx(-(1.28 + 0.5) / 2));
}

TEST_CASE("grpo loss: the k3 KL term by hand, k3 >= 0 and 0 for equal policies") {
  const Tensor mask = mask_of({2}, 2), lp = Tensor::from({-1.f, -2.f}, {1, 2}), ref = Tensor::from({-1.5f, -1.f}, {1, 2});
  const double k0 = std::exp(-0.5) + 0.5 - 1, k1 = std::exp(1.0) - 1 - 1;
  const GrpoTerms t = grpo_loss(lp, lp, ref, mask, {0.f}, opts(LossType::grpo, 0.1f));
  CHECK(t.loss.item() == doctest::Approx(0.1 * (k0 + k1) / 2).epsilon(1e-5));
  CHECK(t.kl == doctest::Approx((k0 + k1) / 2).epsilon(1e-5));
  CHECK(grpo_loss(lp, lp, lp, mask, {0.f}, opts(LossType::grpo, 0.1f)).kl == 0.f);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Tensor a = mul_scalar(rnd({4, 8}, seed), 3.f), b = mul_scalar(rnd({4, 8}, seed + 100), 3.f);
    const Tensor k = kl_k3(a, b);
    for (int64_t i = 0; i < k.numel(); ++i) CHECK(k[i] >= 0.f);
    for (const float v : kl_k3(a, a).to_vector()) CHECK(v == 0.f);
  }
}

TEST_CASE("grpo loss: on-policy with beta 0 its gradient is REINFORCE with the group mean as baseline") {
  // A tiny "policy": logits [B*T, V] -> log-probs of sampled tokens [B, T].
  const int64_t b = 6, t = 4, v = 5, g = 3;
  const Tensor mask = mask_of({4, 2, 3, 1, 4, 3}, t);
  Rng rng(5);
  std::vector<int32_t> tokens;
  for (int64_t i = 0; i < b * t; ++i) tokens.push_back(static_cast<int32_t>(rng.randint(v)));
  const IntTensor ids(tokens, {b * t});
  const std::vector<float> rewards = {1, 0, 0, 0.1f, 1, 1};
  const Tensor logits0 = rnd({b * t, v}, 6);

  // GRPO (scale none: the advantage is r - group mean).
  Tensor l1 = logits0.clone().requires_grad_();
  const Tensor lp1 = reshape(token_log_probs(l1, ids), {b, t});
  grpo_loss(lp1, lp1.detach(), {}, mask, group_advantages(rewards, g, ScaleRewards::none), opts(LossType::grpo)).loss.backward();

  // REINFORCE: -1/B sum_i (r_i - mean of its group) * 1/|o_i| sum_t log pi(o_it).
  Tensor l2 = logits0.clone().requires_grad_();
  const Tensor lp2 = reshape(token_log_probs(l2, ids), {b, t});
  std::vector<float> weight(b);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t s = i / g * g;
    const float mean = (rewards[s] + rewards[s + 1] + rewards[s + 2]) / 3.f;
    weight[i] = (rewards[i] - mean) / static_cast<float>(row_tokens(mask, i)) / static_cast<float>(b);
  }
  neg(sum(mul(sum(mul(lp2, mask), 1), Tensor::from(weight, {b})))).backward();
  CHECK(test::max_abs_diff(l1.grad(), l2.grad()) < 1e-6f);
  float norm = 0;
  for (const float x : l1.grad().to_vector()) norm += x * x;
  CHECK(norm > 1e-4f);   // the gradients compared are not trivially zero
}

TEST_CASE("grpo loss: on-policy gradient coefficient A_i + beta (pi_ref / pi - 1), DeepSeekMath eq. 21") {
  const int64_t b = 3, t = 4;
  const Tensor mask = mask_of({4, 2, 3}, t), lp0 = mul_scalar(rnd({b, t}, 8), 0.5f), ref = add(lp0, mul_scalar(rnd({b, t}, 9), 0.3f));
  const std::vector<float> adv = {0.7f, -1.2f, 0.4f};
  const float beta = 0.04f;
  Tensor lp = lp0.clone().requires_grad_();
  grpo_loss(lp, lp.detach(), ref, mask, adv, opts(LossType::grpo, beta)).loss.backward();
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < t; ++j) {
      const int64_t k = i * t + j;
      const double gc = adv[i] + beta * (std::exp(ref[k] - lp0[k]) - 1.0);
      const double expect = mask[k] == 0.f ? 0.0 : -gc / row_tokens(mask, i) / b;   // the loss is -J
      CHECK(lp.grad()[k] == doctest::Approx(expect).epsilon(1e-5));
    }
}

TEST_CASE("grpo loss: finite-difference gradient checks for every loss type") {
  const int64_t b = 4, t = 5;
  const Tensor mask = mask_of({5, 2, 4, 3}, t), lp = mul_scalar(rnd({b, t}, 10), 0.5f), ref = add(lp, mul_scalar(rnd({b, t}, 11), 0.3f));
  // Ratios e^d with d away from the clip kinks at log(0.8) and log(1.28), so differences are smooth.
  const float shifts[] = {-0.5f, -0.1f, 0.f, 0.1f, 0.4f};
  std::vector<float> old(b * t);
  for (int64_t i = 0; i < b * t; ++i) old[i] = lp[i] - shifts[i % 5];
  const Tensor old_lp = Tensor::from(old, {b, t});
  const std::vector<float> adv = {1.1f, -0.6f, 0.3f, -0.8f};
  for (const LossType type : {LossType::grpo, LossType::dapo, LossType::dr_grpo}) {
    GrpoOptions o = opts(type, 0.04f, t);
    o.epsilon_high = 0.28f;
    INFO("loss type " << name_of(type));
    const GrpoTerms terms = grpo_loss(lp, old_lp, ref, mask, adv, o);
    CHECK(terms.clip_low + terms.clip_high > 0.f);   // the clip is active somewhere in this batch
    CHECK_GRAD([&](auto& x) { return grpo_loss(x[0], old_lp, ref, mask, adv, o).loss; }, (std::vector<Tensor>{lp}));
  }
}

TEST_CASE("grpo loss: two micro-batches with the whole batch's divisors equal one batch") {
  const int64_t b = 4, t = 5;
  const Tensor mask = mask_of({5, 2, 4, 3}, t), lp0 = rnd({b, t}, 12), old = add(lp0, mul_scalar(rnd({b, t}, 13), 0.2f)),
               ref = add(lp0, mul_scalar(rnd({b, t}, 14), 0.2f));
  const std::vector<float> adv = {1.f, -1.f, 0.5f, -0.5f};
  for (const LossType type : {LossType::grpo, LossType::dapo, LossType::dr_grpo}) {
    INFO("loss type " << name_of(type));
    GrpoOptions o = opts(type, 0.04f, t);
    Tensor full = lp0.clone().requires_grad_();
    const float whole = grpo_loss(full, old, ref, mask, adv, o).loss.item();
    grpo_loss(full, old, ref, mask, adv, o).loss.backward();
    o.batch_sequences = b;
    o.batch_tokens = total_tokens(mask);
    Tensor parts = lp0.clone().requires_grad_();
    float summed = 0;
    for (int64_t h = 0; h < 2; ++h) {
      const auto rows = [&](const Tensor& x) { return slice(x, 0, 2 * h, 2 * h + 2); };
      const GrpoTerms part = grpo_loss(rows(parts), rows(old), rows(ref), rows(mask), {adv[2 * h], adv[2 * h + 1]}, o);
      summed += part.loss.item();
      part.loss.backward();
    }
    CHECK(summed == doctest::Approx(whole).epsilon(1e-5));
    CHECK(test::max_abs_diff(full.grad(), parts.grad()) < 1e-6f);
  }
}
