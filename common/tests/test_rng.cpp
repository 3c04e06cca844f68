#include <doctest/doctest.h>

#include <cmath>

#include "common/rng.hpp"

using namespace ds;

TEST_CASE("rng: same seed, same stream, different seed, different stream") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) {
    const uint64_t x = a.next_u64();
    CHECK(x == b.next_u64());
    CHECK(x != c.next_u64());
  }
}

TEST_CASE("rng: normal has mean 0 and variance 1, randint is uniform") {
  Rng r(1);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    s += x;
    s2 += x * x;
  }
  CHECK(std::abs(s / n) < 0.01);
  CHECK(std::abs(s2 / n - 1.0) < 0.02);
  int counts[7] = {};
  for (int i = 0; i < 70000; ++i) counts[r.randint(7)]++;
  for (int c : counts) CHECK(std::abs(c - 10000) < 400);
}
