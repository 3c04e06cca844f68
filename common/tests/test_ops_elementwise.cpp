#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("elementwise: broadcasting forward follows NumPy") {
  Tensor a = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from({10, 20, 30}, {3});
  Tensor c = Tensor::from({100, 200}, {2, 1});
  CHECK(add(a, b).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(add(a, c).to_vector() == std::vector<float>{101, 102, 103, 204, 205, 206});
  CHECK(mul(b, c).shape() == Shape{2, 3});
  CHECK_THROWS_WITH_AS(add(a, Tensor::zeros({2})), "add: shapes cannot be broadcast together (got [2, 3] and [2])", std::invalid_argument);
}

TEST_CASE("elementwise: binary gradients with broadcasting") {
  const Tensor a = rnd({2, 3, 4}, 1), b = rnd({3, 1}, 2), bpos = add_scalar(mul(rnd({1, 4}, 3), rnd({1, 4}, 3)), 0.5f);
  CHECK_GRAD([](auto& x) { return add(x[0], x[1]); }, (std::vector<Tensor>{a, b}));
  CHECK_GRAD([](auto& x) { return sub(x[0], x[1]); }, (std::vector<Tensor>{a, b}));
  CHECK_GRAD([](auto& x) { return mul(x[0], x[1]); }, (std::vector<Tensor>{a, b}));
  CHECK_GRAD([](auto& x) { return div(x[0], x[1]); }, (std::vector<Tensor>{a, bpos}));
  CHECK_GRAD([](auto& x) { return minimum(x[0], x[1]); }, (std::vector<Tensor>{a, rnd({2, 3, 4}, 9)}));
  CHECK_GRAD([](auto& x) { return mul(x[0], x[0]); }, (std::vector<Tensor>{a}));   // same tensor twice
}

TEST_CASE("elementwise: unary gradients") {
  const Tensor x = rnd({3, 5}, 4);
  const Tensor pos = add_scalar(square(rnd({3, 5}, 5)), 0.3f);
  for (auto f : {+[](const std::vector<Tensor>& v) { return exp(v[0]); }, +[](const std::vector<Tensor>& v) { return tanh(v[0]); },
                 +[](const std::vector<Tensor>& v) { return sigmoid(v[0]); }, +[](const std::vector<Tensor>& v) { return silu(v[0]); },
                 +[](const std::vector<Tensor>& v) { return log_sigmoid(v[0]); },
                 +[](const std::vector<Tensor>& v) { return gelu(v[0]); }, +[](const std::vector<Tensor>& v) { return gelu_tanh(v[0]); },
                 +[](const std::vector<Tensor>& v) { return square(v[0]); }, +[](const std::vector<Tensor>& v) { return mul_scalar(v[0], -2.5f); },
                 +[](const std::vector<Tensor>& v) { return add_scalar(v[0], 3.f); }, +[](const std::vector<Tensor>& v) { return neg(v[0]); },
                 +[](const std::vector<Tensor>& v) { return relu(v[0]); }, +[](const std::vector<Tensor>& v) { return clamp(v[0], -0.5f, 0.5f); }})
    CHECK_GRAD(f, (std::vector<Tensor>{x}));
  CHECK_GRAD([](auto& v) { return log(v[0]); }, (std::vector<Tensor>{pos}));
  CHECK_GRAD([](auto& v) { return sqrt(v[0]); }, (std::vector<Tensor>{pos}));
}

TEST_CASE("elementwise: activation values") {
  const Tensor x = Tensor::from({-1.f, 0.f, 2.f}, {3});
  CHECK(gelu(x).data()[2] == doctest::Approx(1.9544997));
  CHECK(gelu_tanh(x).data()[0] == doctest::Approx(-0.1588080));
  CHECK(silu(x).data()[2] == doctest::Approx(2.0 / (1.0 + std::exp(-2.0))));
}

TEST_CASE("elementwise: log_sigmoid is finite and exact far from 0 where log(sigmoid) is not") {
  const Tensor x = Tensor::from({-200.f, -20.f, 0.f, 3.f, 200.f}, {5});
  const std::vector<float> y = log_sigmoid(x).to_vector();
  CHECK(y[0] == doctest::Approx(-200.0));
  CHECK(std::isinf(log(sigmoid(x)).data()[0]));   // the naive form underflows to log(0)
  CHECK(y[1] == doctest::Approx(-20.0 - std::log1p(std::exp(-20.0))));
  CHECK(y[2] == doctest::Approx(-std::log(2.0)));
  CHECK(y[3] == doctest::Approx(-std::log1p(std::exp(-3.0))));
  CHECK(y[4] == 0.f);
  Tensor xg = x.clone().requires_grad_();
  sum(log_sigmoid(xg)).backward();
  CHECK(xg.grad().data()[0] == doctest::Approx(1.0));
  CHECK(xg.grad().data()[2] == doctest::Approx(0.5));
  CHECK(xg.grad().data()[4] == 0.f);
}

TEST_CASE("elementwise: swiglu equals silu(gate) * up and has correct gradients") {
  const Tensor g = rnd({4, 6}, 11), u = rnd({4, 6}, 12);
  CHECK(test::max_abs_diff(swiglu(g, u), mul(silu(g), u)) < 1e-6f);
  CHECK_GRAD([](auto& v) { return swiglu(v[0], v[1]); }, (std::vector<Tensor>{g, u}));
}
