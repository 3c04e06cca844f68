#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("matmul: values of a small product") {
  Tensor a = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from({1, 0, 0, 1, 1, 1}, {3, 2});
  CHECK(matmul(a, b).to_vector() == std::vector<float>{4, 5, 10, 11});
  CHECK_THROWS_WITH_AS(matmul(a, a), "matmul: inner dimensions differ (got [2, 3] and [2, 3])", std::invalid_argument);
}

TEST_CASE("matmul: gradients, 2-D, batched and shared right operand") {
  CHECK_GRAD([](auto& x) { return matmul(x[0], x[1]); }, (std::vector<Tensor>{rnd({3, 4}, 1), rnd({4, 5}, 2)}));
  CHECK_GRAD([](auto& x) { return matmul(x[0], x[1]); }, (std::vector<Tensor>{rnd({2, 3, 3, 4}, 3), rnd({2, 3, 4, 2}, 4)}));
  CHECK_GRAD([](auto& x) { return matmul(x[0], x[1]); }, (std::vector<Tensor>{rnd({2, 3, 4}, 5), rnd({4, 2}, 6)}));
}

TEST_CASE("linear: y = x W^T with PyTorch's [out, in] weight, gradients") {
  Tensor x = Tensor::from({1, 2}, {1, 2});
  Tensor w = Tensor::from({1, 0, 0, 1, 1, 1}, {3, 2});
  CHECK(linear(x, w).to_vector() == std::vector<float>{1, 2, 3});
  CHECK_GRAD([](auto& v) { return linear(v[0], v[1]); }, (std::vector<Tensor>{rnd({2, 3, 4}, 7), rnd({5, 4}, 8)}));
  CHECK_GRAD([](auto& v) { return linear(v[0], v[1], v[2]); }, (std::vector<Tensor>{rnd({3, 4}, 7), rnd({5, 4}, 8), rnd({5}, 9)}));
  CHECK_THROWS_AS(linear(rnd({2, 3}, 1), rnd({3, 2}, 1)), std::invalid_argument);
}
