#include <omp.h>

#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("rms_norm: unit RMS times weight") {
  Tensor x = Tensor::from({3, 4}, {1, 2});
  Tensor w = Tensor::from({1, 2}, {2});
  Tensor y = rms_norm(x, w, 0.f);
  const float rms = std::sqrt((9.f + 16.f) / 2.f);
  CHECK(y.data()[0] == doctest::Approx(3 / rms));
  CHECK(y.data()[1] == doctest::Approx(8 / rms));
  CHECK_THROWS_AS(rms_norm(x, Tensor::ones({3}), 1e-6f), std::invalid_argument);
}

TEST_CASE("norms: gradients") {
  CHECK_GRAD([](auto& v) { return rms_norm(v[0], v[1], 1e-6f); }, (std::vector<Tensor>{rnd({2, 3, 8}, 1), rnd({8}, 2)}));
  // 40 columns: the weight gradient's blocks of columns, the last one partial
  CHECK_GRAD([](auto& v) { return rms_norm(v[0], v[1], 1e-6f); }, (std::vector<Tensor>{rnd({5, 40}, 7), rnd({40}, 8)}));
  CHECK_GRAD([](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5f); },
             (std::vector<Tensor>{rnd({4, 8}, 3), rnd({8}, 4), rnd({8}, 5)}));
}

TEST_CASE("layer_norm: zero mean, unit variance before the affine") {
  Tensor y = layer_norm(rnd({1, 64}, 6, 3.f), Tensor::ones({64}), Tensor::zeros({64}), 1e-5f);
  double m = 0, v = 0;
  for (int i = 0; i < 64; ++i) m += y.data()[i];
  m /= 64;
  for (int i = 0; i < 64; ++i) v += (y.data()[i] - m) * (y.data()[i] - m);
  CHECK(std::abs(m) < 1e-5);
  CHECK(v / 64 == doctest::Approx(1.0).epsilon(1e-3));
}

TEST_CASE("rms_norm: the weight gradient is the same for 1 and 2 threads") {
  const auto dw = [](int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    Tensor x = rnd({300, 128}, 9).requires_grad_(), w = rnd({128}, 10).requires_grad_();   // x: more than kParallelMin values
    sum(mul(rms_norm(x, w, 1e-6f), rnd({300, 128}, 11))).backward();
    omp_set_num_threads(before);
    return w.grad();
  };
  CHECK(test::max_abs_diff(dw(1), dw(2)) == 0.f);
}
