#include <cmath>

#include "ch07/masked.hpp"
#include "ch07/ppo.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;
using test::rnd;

namespace {
Tensor t2(std::vector<float> v, int64_t b, int64_t t) { return Tensor::from(v, {b, t}); }
}  // namespace

TEST_CASE("ppo: GAE against a hand-worked example") {
  // Row 0: three completion tokens, reward 1 at the end. gamma 0.9, lambda 0.8.
  //   t=2: delta = 1 - 0.7 = 0.3                     A = 0.3
  //   t=1: delta = 0.9 * 0.7 - 0.6 = 0.03            A = 0.03 + 0.72 * 0.3 = 0.246
  //   t=0: delta = 0.9 * 0.6 - 0.5 = 0.04            A = 0.04 + 0.72 * 0.246 = 0.21712
  // Row 1: two tokens then padding (whose value 5 must not leak in), reward 2 on token 1.
  //   t=1: delta = 2 - 1 = 1                         A = 1
  //   t=0: delta = 0.9 * 1 - 1 = -0.1                A = -0.1 + 0.72 = 0.62
  const Tensor rewards = t2({0, 0, 1, 0, 2, 0}, 2, 3), values = t2({0.5f, 0.6f, 0.7f, 1, 1, 5}, 2, 3), mask = t2({1, 1, 1, 1, 1, 0}, 2, 3);
  const Gae g = gae(rewards, values, mask, 0.9f, 0.8f);
  const std::vector<float> adv = {0.21712f, 0.246f, 0.3f, 0.62f, 1.f, 0.f}, ret = {0.71712f, 0.846f, 1.f, 1.62f, 2.f, 0.f};
  for (int i = 0; i < 6; ++i) {
    CHECK(g.advantages[i] == doctest::Approx(adv[i]).epsilon(1e-6));
    CHECK(g.returns[i] == doctest::Approx(ret[i]).epsilon(1e-6));
  }
}

TEST_CASE("ppo: GAE with gamma = lambda = 1 is the Monte Carlo return minus the value, and lambda 0 is one-step TD") {
  const Tensor r = rnd({3, 6}, 1), v = rnd({3, 6}, 2);
  const Tensor mask = t2({1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0}, 3, 6);
  const Gae mc = gae(r, v, mask, 1.f, 1.f), td = gae(r, v, mask, 0.95f, 0.f);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t n = row_tokens(mask, i);
    for (int64_t j = 0; j < n; ++j) {
      double future = 0;
      for (int64_t k = j; k < n; ++k) future += r[i * 6 + k];
      CHECK(mc.advantages[i * 6 + j] == doctest::Approx(future - v[i * 6 + j]).epsilon(1e-5));
      CHECK(mc.returns[i * 6 + j] == doctest::Approx(future).epsilon(1e-5));
      const double next = j + 1 < n ? v[i * 6 + j + 1] : 0.0;
      CHECK(td.advantages[i * 6 + j] == doctest::Approx(r[i * 6 + j] + 0.95 * next - v[i * 6 + j]).epsilon(1e-5));
    }
    for (int64_t j = n; j < 6; ++j) CHECK(mc.advantages[i * 6 + j] == 0.f);
  }
}

TEST_CASE("ppo: per-token KL penalty in the reward, the score on the last completion token") {
  const Tensor old_lp = t2({-1, -2, -1, -0.5f, -3, 0}, 2, 3), ref = t2({-1.5f, -1, -1, -0.5f, -2, 0}, 2, 3);
  const Tensor mask = t2({1, 1, 1, 1, 1, 0}, 2, 3);
  const Tensor r = kl_penalized_rewards({1.f, -0.5f}, old_lp, ref, mask, 0.1f);
  const std::vector<float> expect = {-0.05f, 0.1f, 1.f, 0.f, 0.1f - 0.5f, 0.f};
  for (int i = 0; i < 6; ++i) CHECK(r[i] == doctest::Approx(expect[i]).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(kl_penalized_rewards({1.f, 0.f}, old_lp, ref, t2({1, 1, 1, 0, 0, 0}, 2, 3), 0.1f),
                       "kl_penalized_rewards: sequence 1 has no completion tokens to reward", std::invalid_argument);
  CHECK_THROWS_WITH_AS(kl_penalized_rewards({1.f}, old_lp, ref, mask, 0.1f), "kl_penalized_rewards: 1 scores for 2 sequences",
                       std::invalid_argument);
}

TEST_CASE("ppo: whitening gives mean 0 and unbiased variance 1 over completion tokens") {
  const Tensor x = mul_scalar(add_scalar(rnd({3, 5}, 3), 2.f), 3.f);
  const Tensor mask = t2({1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0}, 3, 5);
  const Tensor w = whiten(x, mask);
  const int64_t n = total_tokens(mask);
  double mean = 0, ss = 0;
  for (int64_t i = 0; i < 15; ++i) mean += mask[i] * w[i];
  mean /= n;
  for (int64_t i = 0; i < 15; ++i) ss += mask[i] * (w[i] - mean) * (w[i] - mean);
  CHECK(mean == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(ss / (n - 1) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(w[7] == 0.f);
  const Tensor u = whiten(x, mask, false);
  CHECK(masked_average(u, mask) == doctest::Approx(masked_average(x, mask)).epsilon(1e-5));
}

TEST_CASE("ppo: the clipped policy loss by hand") {
  // Ratios 1.5 and 0.5 with advantages +1 and -1, eps 0.2:
  //   token 0: A = 1,  min(1.5, 1.2) = 1.2 (clipped, no gradient)
  //   token 1: A = -1, min(-0.5, -0.8) = -0.8 (clipped, no gradient)
  //   token 2: A = 2,  ratio 1: 2 (gradient -2 / 3)
  const Tensor old = t2({-1, -1, -1}, 1, 3), mask = t2({1, 1, 1}, 1, 3);
  Tensor lp = t2({-1.f + std::log(1.5f), -1.f + std::log(0.5f), -1.f}, 1, 3).requires_grad_();
  const PpoPolicyTerms t = ppo_policy_loss(lp, old, t2({1, -1, 2}, 1, 3), mask, 0.2f);
  CHECK(t.loss.item() == doctest::Approx(-(1.2 - 0.8 + 2.0) / 3));
  CHECK(t.clip_fraction == doctest::Approx(2.0 / 3));
  t.loss.backward();
  CHECK(lp.grad()[0] == 0.f);
  CHECK(lp.grad()[1] == 0.f);
  CHECK(lp.grad()[2] == doctest::Approx(-2.0 / 3));
}

TEST_CASE("ppo: the clipped value loss by hand") {
  // old value 1, clip 0.2, returns r:
  //   V = 1.5, r = 2: unclipped err 0.25, clipped (1.2) err 0.64 -> 0.64, V outside the clip: no gradient
  //   V = 0.9, r = 2: inside the clip, err 1.21, gradient (V - r) = -1.1
  //   V = 1.5, r = 0: unclipped err 2.25 > clipped 1.44 -> 2.25, gradient V - r = 1.5
  const Tensor old = t2({1, 1, 1}, 1, 3), ret = t2({2, 2, 0}, 1, 3), mask = t2({1, 1, 1}, 1, 3);
  Tensor v = t2({1.5f, 0.9f, 1.5f}, 1, 3).requires_grad_();
  const PpoValueTerms t = ppo_value_loss(v, old, ret, mask, 0.2f);
  CHECK(t.loss.item() == doctest::Approx(0.5 * (0.64 + 1.21 + 2.25) / 3));
  CHECK(t.clip_fraction == doctest::Approx(1.0 / 3));
  t.loss.backward();
  CHECK(v.grad()[0] == 0.f);
  CHECK(v.grad()[1] == doctest::Approx(-1.1 / 3));
  CHECK(v.grad()[2] == doctest::Approx(1.5 / 3));
}

TEST_CASE("ppo: finite-difference gradient checks of the policy and value losses") {
  const int64_t b = 3, t = 5;
  const Tensor mask = t2({1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0}, b, t);
  const Tensor lp = mul_scalar(rnd({b, t}, 4), 0.5f), adv = rnd({b, t}, 5);
  const float shifts[] = {-0.5f, -0.1f, 0.f, 0.1f, 0.4f};   // away from the kinks at log(0.8) and log(1.2)
  std::vector<float> old(b * t);
  for (int64_t i = 0; i < b * t; ++i) old[i] = lp[i] - shifts[(i * 3) % 5];
  const Tensor old_lp = Tensor::from(old, {b, t});
  CHECK(ppo_policy_loss(lp, old_lp, adv, mask, 0.2f).clip_fraction > 0.f);
  CHECK_GRAD([&](auto& x) { return ppo_policy_loss(x[0], old_lp, adv, mask, 0.2f).loss; }, (std::vector<Tensor>{lp}));
  const Tensor old_v = rnd({b, t}, 6), ret = rnd({b, t}, 7);
  const float dv[] = {-0.5f, -0.1f, 0.05f, 0.12f, 0.4f};   // V - old_V, away from the kinks at +-0.2
  std::vector<float> vals(b * t);
  for (int64_t i = 0; i < b * t; ++i) vals[i] = old_v[i] + dv[(i * 2) % 5];
  const Tensor v = Tensor::from(vals, {b, t});
  CHECK(ppo_value_loss(v, old_v, ret, mask, 0.2f).clip_fraction > 0.f);
  CHECK_GRAD([&](auto& x) { return ppo_value_loss(x[0], old_v, ret, mask, 0.2f).loss; }, (std::vector<Tensor>{v}));
}

TEST_CASE("ppo: bad shapes and missing tensors are one sentence, not a crash") {
  const Tensor x = rnd({2, 3}, 8), mask = Tensor::ones({2, 3});
  CHECK_THROWS_WITH_AS(ppo_policy_loss(x, x, rnd({2, 2}, 9), mask, 0.2f),
                       "ppo_policy_loss: advantages must have the shape of the mask (got [2, 3] and [2, 2])", std::invalid_argument);
  CHECK_THROWS_WITH_AS(ppo_value_loss(x, Tensor{}, x, mask, 0.2f), "ppo_value_loss: old_values must have the shape of the mask (got [2, 3] and [])",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(gae(x, x, Tensor::from({1, 0.5f, 1, 1, 1, 1}, {2, 3}), 1.f, 1.f), "gae: the completion mask must hold only 0 and 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ppo_policy_loss(x, x, x, mask, 1.5f), "clipped_surrogate: the clip range needs 0 <= eps_low < 1 and eps_high >= 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(whiten(x, Tensor::from({1, 0, 0, 0, 0, 0}, {2, 3})), "whiten: needs at least 2 completion tokens for a variance",
                       std::invalid_argument);
}
