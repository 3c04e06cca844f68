#include <cmath>

#include "ch07/dpo.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;
using test::rnd;

TEST_CASE("dpo: log-ratios +2 and -2 with beta 0.1 give 0.5130") {
  // chosen: sum(-1, -1) - sum(-2, -2) = +2; rejected: -3 - (-1) = -2; z = 0.1 * 4 = 0.4.
  Tensor w = Tensor::from({-1.f, -1.f}, {1, 2}).requires_grad_();
  Tensor l = Tensor::from({-3.f, -9.f}, {1, 2}).requires_grad_();   // the second rejected token is padding
  const Tensor mw = Tensor::ones({1, 2}), ml = Tensor::from({1.f, 0.f}, {1, 2});
  const Tensor rw = Tensor::from({-2.f, -2.f}, {1, 2}), rl = Tensor::from({-1.f, 0.f}, {1, 2});
  const DpoTerms t = dpo_loss(w, mw, l, ml, rw, rl, {0.1f, 0.f});
  CHECK(t.loss.item() == doctest::Approx(0.5130).epsilon(1e-4));
  CHECK(t.loss.item() == doctest::Approx(std::log1p(std::exp(-0.4))).epsilon(1e-6));
  CHECK(t.chosen_rewards[0] == doctest::Approx(0.2));
  CHECK(t.rejected_rewards[0] == doctest::Approx(-0.2));
  CHECK(t.margin == doctest::Approx(0.4));
  CHECK(t.accuracy == 1.f);
  t.loss.backward();
  // dL/dlogp = -beta * sigmoid(-z) on chosen tokens, +beta * sigmoid(-z) on rejected ones, 0 on padding.
  const double s = 1.0 / (1.0 + std::exp(0.4));
  CHECK(w.grad()[0] == doctest::Approx(-0.1 * s).epsilon(1e-6));
  CHECK(w.grad()[1] == doctest::Approx(-0.1 * s).epsilon(1e-6));
  CHECK(l.grad()[0] == doctest::Approx(0.1 * s).epsilon(1e-6));
  CHECK(l.grad()[1] == 0.f);
}

TEST_CASE("dpo: at the reference the loss is log 2 and the gradient -beta/2, exactly (log_sigmoid at 0)") {
  const Tensor w0 = rnd({2, 3}, 1), l0 = rnd({2, 4}, 2), mw = Tensor::ones({2, 3}), ml = Tensor::ones({2, 4});
  Tensor w = w0.clone().requires_grad_();
  const DpoTerms t = dpo_loss(w, mw, l0, ml, w0, l0, {0.1f, 0.f});
  CHECK(t.loss.item() == doctest::Approx(std::log(2.0)).epsilon(1e-6));
  CHECK(t.margin == 0.f);
  CHECK(t.accuracy == 0.f);   // a tie is not a win
  t.loss.backward();
  for (const float g : w.grad().to_vector()) CHECK(g == doctest::Approx(-0.1 * 0.5 / 2).epsilon(1e-6));
}

TEST_CASE("dpo: the NLL term on the chosen answer, and huge margins stay finite") {
  const Tensor w = Tensor::from({-1.f, -3.f}, {1, 2}), l = Tensor::from({-2.f}, {1, 1}), mw = Tensor::ones({1, 2}), ml = Tensor::ones({1, 1});
  const DpoTerms plain = dpo_loss(w, mw, l, ml, w, l, {0.1f, 0.f});
  const DpoTerms with_nll = dpo_loss(w, mw, l, ml, w, l, {0.1f, 0.5f});
  CHECK(plain.nll == doctest::Approx(2.0));   // mean of 1 and 3
  CHECK(with_nll.loss.item() == doctest::Approx(plain.loss.item() + 0.5 * 2.0).epsilon(1e-6));
  // Log-ratios of -2000 and +1000 nats (z = -3000): log(sigmoid(z)) would be log(0); log_sigmoid is exact.
  const DpoTerms far = dpo_loss(w, mw, l, ml, add_scalar(w, 1000.f), add_scalar(l, -1000.f), {1.f, 0.f});
  CHECK(std::isfinite(far.loss.item()));
  CHECK(far.loss.item() == doctest::Approx(3000.0));
  CHECK_THROWS_WITH_AS(dpo_loss(w, mw, l, Tensor::zeros({1, 1}), w, l), "dpo_loss: pair 0 has an empty completion", std::invalid_argument);
  CHECK_THROWS_WITH_AS(dpo_loss(w, mw, l, ml, w, l, {0.f, 0.f}), "dpo_loss: beta must be positive", std::invalid_argument);
}

TEST_CASE("dpo: finite-difference gradient check through both completions") {
  const Tensor mw = Tensor::from({1, 1, 1, 1, 1, 0}, {2, 3}), ml = Tensor::from({1, 0, 1, 1}, {2, 2});
  const Tensor rw = rnd({2, 3}, 3), rl = rnd({2, 2}, 4);
  CHECK_GRAD([&](auto& x) { return dpo_loss(x[0], mw, x[1], ml, rw, rl, {0.5f, 0.3f}).loss; },
             (std::vector<Tensor>{rnd({2, 3}, 5), rnd({2, 2}, 6)}));
}
