#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("softmax family: values") {
  Tensor x = Tensor::from({1, 2, 3, 1000, 1000, 1000}, {2, 3});
  Tensor s = softmax(x);
  CHECK(s.data()[2] == doctest::Approx(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  CHECK(s.data()[3] == doctest::Approx(1.0 / 3));   // stable for large logits
  CHECK(log_softmax(x).data()[5] == doctest::Approx(-std::log(3.0)));
}

TEST_CASE("softmax family: gradients") {
  CHECK_GRAD([](auto& x) { return softmax(x[0]); }, (std::vector<Tensor>{rnd({3, 5}, 1)}));
  CHECK_GRAD([](auto& x) { return log_softmax(x[0]); }, (std::vector<Tensor>{rnd({2, 3, 5}, 2)}));
  const IntTensor t({1, 4, -100, 0}, {4});
  CHECK_GRAD([t](auto& x) { return cross_entropy(x[0], t); }, (std::vector<Tensor>{rnd({4, 6}, 3)}));
}

TEST_CASE("cross_entropy: matches -mean log_softmax at targets, ignores ignore_index") {
  const Tensor x = rnd({2, 2, 5}, 4);
  const IntTensor t({3, -100, 0, 4}, {2, 2});
  const Tensor ls = log_softmax(x);
  const float expect = -(ls.data()[0 * 5 + 3] + ls.data()[2 * 5 + 0] + ls.data()[3 * 5 + 4]) / 3.f;
  CHECK(cross_entropy(x, t).item() == doctest::Approx(expect).epsilon(1e-6));
  CHECK(cross_entropy(x, IntTensor({-100, -100, -100, -100}, {4})).item() == 0.f);
  CHECK_THROWS_WITH_AS(cross_entropy(x, IntTensor({0, 9, 0, 0}, {4})), "cross_entropy: target 9 is outside the vocabulary of 5", std::invalid_argument);
  CHECK_THROWS_AS(cross_entropy(x, IntTensor({0, 1}, {2})), std::invalid_argument);
}

TEST_CASE("cross_entropy of uniform logits is log V") {
  CHECK(cross_entropy(Tensor::zeros({3, 1024}), IntTensor({1, 2, 3}, {3})).item() == doctest::Approx(std::log(1024.0)));
}
