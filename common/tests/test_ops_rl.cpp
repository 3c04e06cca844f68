#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("token_log_probs equals gather of log_softmax") {
  const Tensor x = rnd({3, 7}, 1);
  const IntTensor t({6, 0, 3}, {3});
  CHECK(test::max_abs_diff(token_log_probs(x, t), gather_last(log_softmax(x), t)) < 1e-6f);
  CHECK_GRAD([t](auto& v) { return token_log_probs(v[0], t); }, (std::vector<Tensor>{x}));
}

TEST_CASE("token_log_probs: targets equal to the ignore index -100 give 0 and no gradient") {
  const Tensor x = rnd({4, 6}, 5);
  const IntTensor t({2, -100, 5, -100}, {4});
  Tensor xg = x.clone();
  xg.requires_grad_(true);
  const Tensor lp = token_log_probs(xg, t);
  const Tensor full = gather_last(log_softmax(x), IntTensor({2, 0, 5, 0}, {4}));
  CHECK(lp.data()[0] == doctest::Approx(full.data()[0]).epsilon(1e-6));
  CHECK(lp.data()[1] == 0.f);
  CHECK(lp.data()[2] == doctest::Approx(full.data()[2]).epsilon(1e-6));
  CHECK(lp.data()[3] == 0.f);
  sum(lp).backward();
  for (int64_t j = 0; j < 6; ++j) {
    CHECK(xg.grad().data()[6 + j] == 0.f);
    CHECK(xg.grad().data()[18 + j] == 0.f);
  }
  CHECK(xg.grad().data()[2] != 0.f);
  CHECK_GRAD([t](auto& v) { return token_log_probs(v[0], t); }, (std::vector<Tensor>{x}));
  CHECK_THROWS_AS(token_log_probs(x, IntTensor({2, -1, 5, 0}, {4})), std::invalid_argument);   // only -100 is ignored
}

TEST_CASE("entropy: log V for uniform logits, 0 for a one-hot limit, gradient") {
  CHECK(entropy_from_logits(Tensor::zeros({1, 8})).item() == doctest::Approx(std::log(8.0)));
  CHECK(entropy_from_logits(Tensor::from({100, 0, 0}, {1, 3})).item() < 1e-6f);
  CHECK_GRAD([](auto& v) { return entropy_from_logits(v[0]); }, (std::vector<Tensor>{rnd({3, 5}, 2)}));
}

TEST_CASE("kl_k3: zero when the policies agree, positive otherwise, gradient only through logp") {
  const Tensor lp = Tensor::from({-1.f, -2.f}, {2});
  CHECK(kl_k3(lp, lp).to_vector() == std::vector<float>{0, 0});
  const Tensor k = kl_k3(lp, Tensor::from({-1.5f, -1.f}, {2}));
  CHECK(k.data()[0] == doctest::Approx(std::exp(-0.5) + 0.5 - 1));
  CHECK(k.data()[1] > 0.f);
  const Tensor ref = rnd({4}, 3);
  CHECK_GRAD([ref](auto& v) { return kl_k3(v[0], ref); }, (std::vector<Tensor>{rnd({4}, 4)}));
}

TEST_CASE("distill_kl: zero for equal logits, matches the definition, gradient") {
  const Tensor s = rnd({2, 5}, 5), t = rnd({2, 5}, 6);
  CHECK(distill_kl(s, s, 2.f).data()[0] == doctest::Approx(0.0).epsilon(1e-6));
  const Tensor p = softmax(mul_scalar(t, 0.5f)), lq = log_softmax(mul_scalar(s, 0.5f)), lp = log_softmax(mul_scalar(t, 0.5f));
  const float expect = 4.f * sum(mul(slice(p, 0, 0, 1), sub(slice(lp, 0, 0, 1), slice(lq, 0, 0, 1)))).item();
  CHECK(distill_kl(s, t, 2.f).data()[0] == doctest::Approx(expect).epsilon(1e-5));
  CHECK_GRAD([t](auto& v) { return distill_kl(v[0], t, 2.f); }, (std::vector<Tensor>{s}));
}
