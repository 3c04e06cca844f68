#include <doctest/doctest.h>

#include <cmath>

#include "ch03/rope.hpp"
#include "common/ops.hpp"
#include "common/rng.hpp"

using namespace ds;
using namespace ds::ch03;


TEST_CASE("sinusoidal encoding: sin on even, cos on odd dimensions, position 0 is (0, 1, 0, 1...)") {
  const Tensor pe = sinusoidal_encoding(50, 16);
  CHECK(pe.data()[0] == 0.f);
  CHECK(pe.data()[1] == 1.f);
  CHECK(pe.data()[10 * 16 + 0] == doctest::Approx(std::sin(10.0)));
  CHECK(pe.data()[10 * 16 + 3] == doctest::Approx(std::cos(10.0 / std::pow(10000.0, 2.0 / 16))));
}

TEST_CASE("rope: q.k depends only on the offset between the positions") {
  RopeConfig cfg;
  cfg.dim = 16;
  cfg.max_positions = 600;
  const RopeTables t = rope_tables(cfg);
  Rng rng(1);
  const Tensor q = randn({16}, rng), k = randn({16}, rng);
  for (int64_t offset : {0, 1, 7, 100}) {
    const float ref = rotated_dot(q, k, offset, 0, t);
    for (int64_t m : {offset + 5, offset + 123, offset + 480}) CHECK(rotated_dot(q, k, m, m - offset, t) == doctest::Approx(ref).epsilon(1e-4));
  }
  CHECK(rotated_dot(q, k, 3, 0, t) != doctest::Approx(rotated_dot(q, k, 9, 0, t)));
}

TEST_CASE("yarn: off within the original context, keeps fast pairs, slows slow pairs by the factor") {
  RopeConfig plain;
  plain.dim = 64;
  plain.max_positions = 4096;
  plain.yarn.factor = 40;
  const auto f0 = rope_frequencies(plain);
  CHECK(yarn_mscale(plain) == 1.0);   // not beyond the original 4K: no change
  RopeConfig v3 = plain;              // DeepSeek-V3: 4K extended to 160K (factor 40)
  v3.max_positions = 163840;
  const auto f = rope_frequencies(v3);
  CHECK(f[0] == f0[0]);                                          // the fastest pair rotates as before
  CHECK(f.back() == doctest::Approx(f0.back() / 40).epsilon(1e-9));   // the slowest is interpolated
  for (size_t i = 1; i < f.size(); ++i) CHECK(f[i] <= f[i - 1]);
  CHECK(yarn_mscale(v3) == doctest::Approx(0.1 * std::log(40.0) + 1.0));
}
