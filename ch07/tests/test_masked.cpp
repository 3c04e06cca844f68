#include "ch07/masked.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;

TEST_CASE("masked reductions: sums and means over completion tokens only, by hand") {
  const Tensor x = Tensor::from({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  const Tensor mask = Tensor::from({1, 1, 0, 0, 1, 1, 0, 0, 0}, {3, 3});   // the third row has no completion
  CHECK(masked_row_sum(x, mask).to_vector() == std::vector<float>{3, 11, 0});
  CHECK(masked_row_mean(x, mask).to_vector() == std::vector<float>{1.5f, 5.5f, 0});
  CHECK(masked_mean(x, mask).item() == doctest::Approx(14.0 / 4));
  CHECK(masked_sum_over(x, mask, 7.0).item() == doctest::Approx(2.0));
  CHECK(masked_average(x, mask) == doctest::Approx(14.0 / 4));
  CHECK(row_tokens(mask, 1) == 2);
  CHECK(total_tokens(mask) == 4);
  CHECK_GRAD([mask](auto& v) { return masked_row_mean(v[0], mask); }, (std::vector<Tensor>{x}));
  CHECK_GRAD([mask](auto& v) { return masked_mean(v[0], mask); }, (std::vector<Tensor>{x}));
}

TEST_CASE("masked reductions: bad masks are one sentence") {
  const Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(masked_mean(x, Tensor::zeros({2, 2})),
                       "masked_sum_over: the completion mask must have the shape of the per-token values (got [2, 3] and [2, 2])",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(masked_row_sum(x, Tensor::full({2, 3}, 2.f)), "masked_row_sum: the completion mask must hold only 0 and 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(masked_row_sum(Tensor::zeros({6}), Tensor::zeros({6})), "masked_row_sum: per-token values must be [B, T] (got [6])",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(masked_row_sum(x, Tensor{}), "masked_row_sum: the per-token values and the completion mask must both be given",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(masked_sum_over(x, Tensor::ones({2, 3}), 0.0), "masked_sum_over: the divisor must be positive", std::invalid_argument);
}
