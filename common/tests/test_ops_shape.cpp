#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("shape ops: permute, slice and concat values") {
  Tensor x = Tensor::from({0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(transpose(x, 0, 1).to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(slice(x, 1, 1, 3).to_vector() == std::vector<float>{1, 2, 4, 5});
  CHECK(concat({x, slice(x, 1, 0, 1)}, 1).to_vector() == std::vector<float>{0, 1, 2, 0, 3, 4, 5, 3});
  Tensor y = rnd({2, 3, 4, 5}, 1);
  Tensor p = permute(y, {0, 2, 1, 3});
  CHECK(p.shape() == Shape{2, 4, 3, 5});
  CHECK(p.data()[((1 * 4 + 2) * 3 + 1) * 5 + 3] == y.data()[((1 * 3 + 1) * 4 + 2) * 5 + 3]);
  CHECK_THROWS_AS(slice(x, 1, 2, 4), std::invalid_argument);
  CHECK_THROWS_AS(concat({x, rnd({3, 3}, 1)}, 1), std::invalid_argument);
}

TEST_CASE("shape ops: gradients") {
  CHECK_GRAD([](auto& x) { return reshape(x[0], {6, -1}); }, (std::vector<Tensor>{rnd({2, 3, 4}, 1)}));
  CHECK_GRAD([](auto& x) { return permute(x[0], {2, 0, 3, 1}); }, (std::vector<Tensor>{rnd({2, 3, 4, 2}, 2)}));
  CHECK_GRAD([](auto& x) { return slice(x[0], 1, 1, 3); }, (std::vector<Tensor>{rnd({2, 4, 3}, 3)}));
  CHECK_GRAD([](auto& x) { return concat({x[0], x[1], x[0]}, -1); }, (std::vector<Tensor>{rnd({2, 3}, 4), rnd({2, 2}, 5)}));
  CHECK_GRAD([](auto& x) { return broadcast_to(x[0], {3, 2, 4}); }, (std::vector<Tensor>{rnd({2, 1}, 6)}));
}

TEST_CASE("reductions: values and gradients") {
  Tensor x = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(sum(x).item() == 21);
  CHECK(mean(x).item() == 3.5f);
  CHECK(sum(x, 0).to_vector() == std::vector<float>{5, 7, 9});
  CHECK(mean(x, 1, true).shape() == Shape{2, 1});
  CHECK_GRAD([](auto& v) { return sum(v[0]); }, (std::vector<Tensor>{rnd({3, 4}, 1)}));
  CHECK_GRAD([](auto& v) { return mean(v[0], 1); }, (std::vector<Tensor>{rnd({2, 3, 4}, 2)}));
  CHECK_GRAD([](auto& v) { return sum(v[0], -1, true); }, (std::vector<Tensor>{rnd({2, 3, 4}, 3)}));
}
