// Small helpers for the core's tests.
#pragma once

#include <doctest/doctest.h>

#include "common/gradcheck.hpp"
#include "common/rng.hpp"

namespace ds::test {

inline Tensor rnd(const Shape& s, uint64_t seed, float std = 1.f) {
  Rng r(seed);
  return randn(s, r, std);
}

// CHECK_GRAD(fn, inputs[, options]): fn maps the inputs to one tensor.
#define CHECK_GRAD(...)                                                           \
  do {                                                                            \
    const auto gc_ = ::ds::gradcheck(__VA_ARGS__);                                \
    INFO("max abs err " << gc_.max_abs_err << "; " << gc_.worst);                 \
    CHECK(gc_.ok);                                                                \
  } while (0)


inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

}  // namespace ds::test
