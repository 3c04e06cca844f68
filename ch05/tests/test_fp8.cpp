#include <doctest/doctest.h>

#include <cmath>

#include "ch05/fp8.hpp"
#include "common/rng.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
// The OCP FP8 value of a code, computed from its bit fields with nothing from fp8.cpp.
double ocp_value(uint8_t c, bool e4m3) {
  const int eb = e4m3 ? 4 : 5, mb = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
  const int exp = (c >> mb) & ((1 << eb) - 1), man = c & ((1 << mb) - 1);
  const double sign = (c & 0x80) ? -1.0 : 1.0;
  if (e4m3 && exp == 15 && man == 7) return NAN;
  if (!e4m3 && exp == 31) return man ? NAN : sign * INFINITY;
  if (exp == 0) return sign * man * std::pow(2.0, 1 - bias - mb);
  return sign * (1.0 + man / std::pow(2.0, mb)) * std::pow(2.0, exp - bias);
}
}  // namespace

TEST_CASE("fp8: all 256 codes of both formats decode to their OCP values and re-encode to themselves") {
  for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2}) {
    int nans = 0;
    for (int c = 0; c < 256; ++c) {
      const auto code = static_cast<uint8_t>(c);
      const double want = ocp_value(code, f == Fp8Format::E4M3);
      const float got = fp8_decode(code, f);
      INFO(fp8_name(f) << " code " << c);
      if (std::isnan(want)) {
        CHECK(std::isnan(got));
        CHECK(std::isnan(fp8_decode(fp8_encode(got, f), f)));
        ++nans;
        continue;
      }
      CHECK(static_cast<double>(got) == want);
      CHECK(fp8_encode(got, f) == code);   // -0 (0x80) included
    }
    CHECK(nans == (f == Fp8Format::E4M3 ? 2 : 6));   // E4M3: S.1111.111; E5M2: S.11111.{01,10,11}
  }
}

TEST_CASE("fp8: range boundaries of E4M3 and E5M2") {
  CHECK(fp8_max(Fp8Format::E4M3) == 448.0);
  CHECK(fp8_max(Fp8Format::E5M2) == 57344.0);
  CHECK(fp8_min_normal(Fp8Format::E4M3) == std::ldexp(1.0, -6));
  CHECK(fp8_min_normal(Fp8Format::E5M2) == std::ldexp(1.0, -14));
  CHECK(fp8_min_subnormal(Fp8Format::E4M3) == std::ldexp(1.0, -9));
  CHECK(fp8_min_subnormal(Fp8Format::E5M2) == std::ldexp(1.0, -16));
  CHECK(fp8_encode(448.f, Fp8Format::E4M3) == 0x7E);
  CHECK(fp8_encode(std::ldexp(1.f, -9), Fp8Format::E4M3) == 0x01);
  CHECK(fp8_encode(std::ldexp(1.f, -6), Fp8Format::E4M3) == 0x08);
  CHECK(fp8_encode(57344.f, Fp8Format::E5M2) == 0x7B);
  CHECK(fp8_encode(INFINITY, Fp8Format::E5M2) == 0x7C);
}

TEST_CASE("fp8: round to nearest with ties to even, saturation, underflow") {
  // Between 1 and 1.125 (E4M3's spacing at 1 is 1/8): 1.0625 is a tie -> 1 (even mantissa 000).
  CHECK(fp8_round(1.0625f, Fp8Format::E4M3) == 1.f);
  // 1.1875 is the tie between 1.125 (001) and 1.25 (010) -> 1.25.
  CHECK(fp8_round(1.1875f, Fp8Format::E4M3) == 1.25f);
  CHECK(fp8_round(1.07f, Fp8Format::E4M3) == 1.125f);
  // E5M2 spacing at 1 is 1/4: 1.125 -> 1, 1.375 -> 1.5.
  CHECK(fp8_round(1.125f, Fp8Format::E5M2) == 1.f);
  CHECK(fp8_round(1.375f, Fp8Format::E5M2) == 1.5f);
  // saturation instead of overflow; E4M3 has no infinity
  CHECK(fp8_round(1000.f, Fp8Format::E4M3) == 448.f);
  CHECK(fp8_round(-1e9f, Fp8Format::E4M3) == -448.f);
  CHECK(fp8_round(INFINITY, Fp8Format::E4M3) == 448.f);
  CHECK(fp8_round(70000.f, Fp8Format::E5M2) == 57344.f);
  // below half the smallest subnormal: zero, with its sign; exactly half: ties to even (0)
  CHECK(fp8_round(std::ldexp(1.f, -11), Fp8Format::E4M3) == 0.f);
  CHECK(fp8_round(std::ldexp(1.f, -10), Fp8Format::E4M3) == 0.f);
  CHECK(std::signbit(fp8_round(-std::ldexp(1.f, -11), Fp8Format::E4M3)));
  CHECK(fp8_round(std::ldexp(3.f, -10), Fp8Format::E4M3) == std::ldexp(1.f, -8));   // 1.5 subnormal steps -> 2
}

TEST_CASE("fp8: the fast rounding used in training equals encode/decode, ties and all") {
  Rng rng(9);
  for (Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2}) {
    int mismatches = 0;
    for (int i = 0; i < 200000; ++i) {
      const float x = static_cast<float>(rng.normal() * std::pow(10.0, rng.uniform(-6, 5)));
      mismatches += fp8_round_fast(x, f) != fp8_round(x, f);
    }
    for (int c = 0; c < 255; ++c) {   // every midpoint between neighbouring codes: the ties
      const float a = fp8_decode(static_cast<uint8_t>(c), f), b = fp8_decode(static_cast<uint8_t>(c + 1), f);
      if (!std::isfinite(a) || !std::isfinite(b) || (c & 0x7F) == 0x7F) continue;
      mismatches += fp8_round_fast((a + b) / 2, f) != fp8_round((a + b) / 2, f);
    }
    CHECK_MESSAGE(mismatches == 0, fp8_name(f));
    // the edges: zeros keep their sign, infinities and huge values saturate (or stay inf in E5M2),
    // float32 subnormals flush to zero, NaN stays NaN
    for (float x : {0.f, -0.f, INFINITY, -INFINITY, 1e30f, -3e38f, 1e-40f, -1e-30f, 448.f, 464.f, 57344.f, 61440.f}) {
      INFO(fp8_name(f) << " x = " << x);
      CHECK(fp8_round_fast(x, f) == fp8_round(x, f));
      CHECK(std::signbit(fp8_round_fast(x, f)) == std::signbit(fp8_round(x, f)));
    }
    CHECK(std::isnan(fp8_round_fast(NAN, f)));
  }
}
