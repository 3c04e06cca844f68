#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

namespace {
void tables(int64_t t, int64_t d, Tensor& c, Tensor& s) {
  c = Tensor::zeros({t, d / 2});
  s = Tensor::zeros({t, d / 2});
  for (int64_t p = 0; p < t; ++p)
    for (int64_t i = 0; i < d / 2; ++i) {
      const double a = p * std::pow(10000.0, -2.0 * i / d);
      c.data()[p * d / 2 + i] = static_cast<float>(std::cos(a));
      s.data()[p * d / 2 + i] = static_cast<float>(std::sin(a));
    }
}
}  // namespace

TEST_CASE("rope: rotates adjacent pairs and keeps norms") {
  Tensor c, s;
  tables(8, 4, c, s);
  Tensor x = Tensor::from({1, 0, 1, 0}, {1, 1, 4});
  Tensor y = rope(x, c, s, 3);   // position 3: pair 0 turns by 3 rad, pair 1 by 3/100 rad
  CHECK(y.data()[0] == doctest::Approx(std::cos(3.0)));
  CHECK(y.data()[1] == doctest::Approx(std::sin(3.0)));
  CHECK(y.data()[3] == doctest::Approx(std::sin(0.03)));
  Tensor z = rope(rnd({2, 5, 3, 4}, 1), c, s, 2);
  Tensor zin = rnd({2, 5, 3, 4}, 1);
  CHECK(sum(square(z)).item() == doctest::Approx(sum(square(zin)).item()).epsilon(1e-5));
  CHECK_THROWS_AS(rope(rnd({1, 6, 4}, 1), c, s, 3), std::invalid_argument);   // positions past the table
}

TEST_CASE("rope: gradients") {
  Tensor c, s;
  tables(10, 6, c, s);
  CHECK_GRAD([c, s](auto& x) { return rope(x[0], c, s, 4); }, (std::vector<Tensor>{rnd({2, 3, 2, 6}, 2)}));
  CHECK_GRAD([c, s](auto& x) { return rope(x[0], c, s, 0); }, (std::vector<Tensor>{rnd({1, 5, 6}, 3)}));
}

TEST_CASE("rope: a position per token equals the offset form row by row, and its gradient") {
  Tensor c, s;
  tables(12, 4, c, s);
  const Tensor x = rnd({2, 3, 2, 4}, 4);
  const IntTensor pos({0, 1, 2, 5, 6, 7}, {2, 3});   // row 0 from position 0, row 1 from position 5
  const Tensor y = rope(x, c, s, pos);
  const Tensor r0 = rope(slice(x, 0, 0, 1), c, s, 0), r1 = rope(slice(x, 0, 1, 2), c, s, 5);
  CHECK(test::max_abs_diff(slice(y, 0, 0, 1), r0) == 0.f);
  CHECK(test::max_abs_diff(slice(y, 0, 1, 2), r1) == 0.f);
  CHECK_GRAD([c, s, pos](auto& v) { return rope(v[0], c, s, pos); }, (std::vector<Tensor>{x}));
  CHECK_THROWS_AS(rope(x, c, s, IntTensor({0, 1, 2, 5, 6, 12}, {2, 3})), std::invalid_argument);   // past the table
  CHECK_THROWS_AS(rope(x, c, s, IntTensor({0, 1, 2}, {1, 3})), std::invalid_argument);             // not [B, T]
}

TEST_CASE("rope_tail: equals slicing the tail out, rotating it and concatenating it back, and its gradients") {
  Tensor c, s;
  tables(12, 4, c, s);   // R = 4 of D = 7: an odd number of leading entries
  const Tensor x = rnd({2, 3, 2, 7}, 5);
  const IntTensor pos({0, 1, 2, 5, 6, 7}, {2, 3});
  const Tensor by_parts = concat({slice(x, 3, 0, 3), rope(slice(x, 3, 3, 7), c, s, 2)}, 3);
  CHECK(test::max_abs_diff(rope_tail(x, c, s, 2), by_parts) == 0.f);
  const Tensor by_parts_pos = concat({slice(x, 3, 0, 3), rope(slice(x, 3, 3, 7), c, s, pos)}, 3);
  CHECK(test::max_abs_diff(rope_tail(x, c, s, pos), by_parts_pos) == 0.f);
  CHECK(test::max_abs_diff(rope_tail(slice(x, 3, 3, 7), c, s, 2), rope(slice(x, 3, 3, 7), c, s, 2)) == 0.f);   // R = D: plain rope
  CHECK_GRAD([c, s](auto& v) { return rope_tail(v[0], c, s, 4); }, (std::vector<Tensor>{x}));
  CHECK_GRAD([c, s, pos](auto& v) { return rope_tail(v[0], c, s, pos); }, (std::vector<Tensor>{x}));
  CHECK_THROWS_AS(rope_tail(rnd({1, 2, 3}, 6), c, s, 0), std::invalid_argument);   // R = 4 > D = 3
  CHECK_THROWS_AS(rope_tail(x, c, s, 10), std::invalid_argument);                   // positions past the table
}
