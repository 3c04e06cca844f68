// Logit distillation's loss: its two ends, its masks, its gradient, and the tokenizer check.
#include <cmath>

#include "ch07/task_tokenizer.hpp"
#include "ch08/logit_kd.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch08;
using ds::test::rnd;

namespace {
IntTensor some_targets() {   // [2, 3], the first and the last position masked
  return IntTensor({-100, 4, 1, 0, 6, -100}, {2, 3});
}
}  // namespace

TEST_CASE("logit_kd_loss: alpha 0 is the cross-entropy, alpha 1 the T^2-scaled KL, and between them the mix") {
  const Tensor s = rnd({2, 3, 7}, 1), t = rnd({2, 3, 7}, 2);
  const IntTensor y = some_targets();
  const float ce = cross_entropy(reshape(s, {6, 7}), y).item();
  const KDLoss hard = logit_kd_loss(s, t, y, {.alpha = 0.f, .temperature = 3.f});
  const KDLoss soft = logit_kd_loss(s, t, y, {.alpha = 1.f, .temperature = 3.f});
  const KDLoss mix = logit_kd_loss(s, t, y, {.alpha = 0.25f, .temperature = 3.f});
  CHECK(hard.loss.item() == doctest::Approx(ce));
  // The soft term by hand: the mean over the four counted rows of distill_kl (which holds T^2).
  const Tensor kl = distill_kl(reshape(s, {6, 7}), reshape(t, {6, 7}), 3.f);
  CHECK(soft.loss.item() == doctest::Approx((kl[1] + kl[2] + kl[3] + kl[4]) / 4));
  CHECK(mix.loss.item() == doctest::Approx(0.25 * soft.soft + 0.75 * hard.hard));
}

TEST_CASE("logit_kd_loss: masked positions change nothing and get no gradient") {
  const Tensor s = rnd({2, 3, 7}, 3), t = rnd({2, 3, 7}, 4);
  const IntTensor y = some_targets();
  Tensor s2 = s.clone(), t2 = t.clone();
  for (int64_t j = 0; j < 7; ++j) {   // scramble position (0, 0) and (1, 2), both masked
    s2.data()[j] += 5.f * float(j);
    t2.data()[5 * 7 + j] -= 3.f * float(j);
  }
  const LogitKDOptions o{.alpha = 0.6f, .temperature = 2.f, .beta = 0.5f};
  CHECK(logit_kd_loss(s, t, y, o).loss.item() == doctest::Approx(logit_kd_loss(s2, t2, y, o).loss.item()).epsilon(1e-6));
  Tensor sg = s.clone().requires_grad_();
  logit_kd_loss(sg, t, y, o).loss.backward();
  for (int64_t j = 0; j < 7; ++j) {
    CHECK(sg.grad()[j] == 0.f);
    CHECK(sg.grad()[5 * 7 + j] == 0.f);
  }
  CHECK(std::abs(sg.grad()[7]) > 0.f);
}

TEST_CASE("logit_kd_loss and masked_divergence: gradient against finite differences") {
  const Tensor t = rnd({2, 3, 6}, 5, 1.5f);
  const IntTensor y = IntTensor({-100, 4, 1, 0, 5, -100}, {2, 3});
  for (float beta : {0.f, 0.5f, 1.f}) {
    INFO("beta " << beta);
    CHECK_GRAD([&](const std::vector<Tensor>& x) { return logit_kd_loss(x[0], t, y, {.alpha = 0.7f, .temperature = 2.f, .beta = beta}).loss; },
               {rnd({2, 3, 6}, 6, 1.5f)});
  }
  const Tensor mask = Tensor::from({1, 1, 0, 1, 0, 0}, {2, 3});
  CHECK_GRAD([&](const std::vector<Tensor>& x) { return masked_divergence(x[0], t, mask, {.beta = 0.3f}); }, {rnd({2, 3, 6}, 7)});
}

TEST_CASE("check_shared_tokenizer: one tokenizer passes, two different tokenizers of one size are refused in one sentence") {
  const std::vector<std::string> a = {"the cat sat on the mat and the cat ran", "a dog and a cat"};
  const std::vector<std::string> b = {"numbers and letters mixed up quickly", "zebras quietly jump over lazy foxes"};
  const Tokenizer ta = Tokenizer::train(a, 270), tb = Tokenizer::train(b, 270);
  REQUIRE(ta.vocab_size() == tb.vocab_size());   // a shape check on the logits would pass them
  CHECK_NOTHROW(check_shared_tokenizer(ta, ta));
  CHECK_NOTHROW(check_shared_tokenizer(ta, Tokenizer(ta)));
  std::string msg;
  try {
    check_shared_tokenizer(ta, tb);
  } catch (const std::invalid_argument& e) {
    msg = e.what();
  }
  CHECK(msg.find("tokenizers differ at id 256") != std::string::npos);
  CHECK(msg.find("need one tokenizer") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK_THROWS_AS(check_shared_tokenizer(ta, Tokenizer::train(a, 265)), std::invalid_argument);
  // Same tokens, other merges: split_digits keeps every id but drops the digit merges.
  const Tokenizer digits = Tokenizer::train({"12 12 12 345 345 12 99 99"}, 270);
  REQUIRE(ch07::count_digit_merges(digits) > 0);
  CHECK_THROWS_AS(check_shared_tokenizer(digits, ch07::split_digits(digits)), std::invalid_argument);
}
