#include <doctest/doctest.h>

#include <cmath>

#include "ch05/fp8.hpp"
#include "ch05/fp8_quant.hpp"
#include "common/rng.hpp"
#include "common/safetensors.hpp"
#include "common/tests/test_helpers.hpp"

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

TEST_CASE("fp8 quantisation: error bounds per block, and fine blocks beat one scale when there are outliers") {
  Rng rng(1);
  Tensor x = randn({256, 384}, rng);
  x.data()[5 * 384 + 7] = 1e5f;   // one outlier: with one scale, ordinary values fall into E4M3's subnormals
  for (Granularity g : {Granularity::PerTensor, Granularity::Tile1x128, Granularity::Block128x128}) {
    const Fp8Tensor q = quantize(x, g);
    const Tensor y = dequantize(q);
    // Every element is within half a spacing of E4M3 at its block's scale: |err| <= amax_block * 2^-4.
    for (int64_t i = 0; i < 256; ++i)
      for (int64_t j = 0; j < 384; ++j) {
        const float scale = q.scales[static_cast<size_t>((i / q.block_rows) * q.scale_cols() + j / q.block_cols)];
        CHECK_MESSAGE(std::fabs(y.data()[i * 384 + j] - x.data()[i * 384 + j]) <= 448.f * scale * 0.0625f + 1e-6f, granularity_name(g));
        if (std::fabs(y.data()[i * 384 + j] - x.data()[i * 384 + j]) > 448.f * scale * 0.0625f + 1e-6f) return;
      }
  }
  auto rel_err = [&](Granularity g) {   // over the ordinary values
    const Tensor y = fake_quantize(x, g);
    double num = 0, den = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (i == 5 * 384 + 7) continue;
      num += std::pow(y.data()[i] - x.data()[i], 2);
      den += std::pow(x.data()[i], 2);
    }
    return std::sqrt(num / den);
  };
  CHECK(quantize(x, Granularity::Block128x128).scales.size() == 2 * 3);
  CHECK(quantize(x, Granularity::Tile1x128).scales.size() == 256 * 3);
  CHECK(rel_err(Granularity::Tile1x128) < rel_err(Granularity::PerTensor) / 3);
  CHECK(rel_err(Granularity::Block128x128) < rel_err(Granularity::PerTensor) / 1.5);   // the outlier's block shares its scale with 16,383 others
  CHECK(rel_err(Granularity::Tile1x128) < 0.05);   // E4M3's 3 mantissa bits: a few percent
}

TEST_CASE("fp8 checkpoint: DeepSeek-V3's weight + weight_scale_inv layout round-trips through safetensors") {
  test::TempDir dir("ds_fp8");
  Rng rng(2);
  const NamedTensors w = {{"model.layers.0.mlp.down_proj.weight", randn({200, 130}, rng)}, {"model.norm.weight", randn({130}, rng)}};
  save_fp8_checkpoint(dir.file("fp8.safetensors"), w);
  const SafeTensorsFile f = load_safetensors(dir.file("fp8.safetensors"));
  CHECK(f.get("model.layers.0.mlp.down_proj.weight").dtype == DType::F8_E4M3);
  CHECK(f.get("model.layers.0.mlp.down_proj.weight_scale_inv").shape == Shape{2, 2});   // ceil(200/128) x ceil(130/128)
  CHECK(f.get("model.norm.weight").dtype == DType::F32);
  const NamedTensors back = load_fp8_checkpoint(dir.file("fp8.safetensors"));
  REQUIRE(back.size() == 2);
  CHECK(test::max_abs_diff(back[0].second, fake_quantize(w[0].second, Granularity::Block128x128)) == 0.f);
  CHECK(test::max_abs_diff(back[1].second, w[1].second) == 0.f);
}

TEST_CASE("fp8 accumulation: limited accumulator precision loses accuracy with K; promotion every 128 recovers it") {
  Rng rng(3);
  const int64_t k = 4096;
  std::vector<float> a(k), b(k);
  for (int64_t i = 0; i < k; ++i) {
    a[static_cast<size_t>(i)] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
    b[static_cast<size_t>(i)] = fp8_round(static_cast<float>(rng.uniform(0.5, 1.5)), Fp8Format::E4M3);
  }
  double exact = 0;
  for (int64_t i = 0; i < k; ++i) exact += static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)];
  const double limited = std::fabs(fp8_dot(a.data(), b.data(), k, 14, 0) - exact) / exact;
  const double promoted = std::fabs(fp8_dot(a.data(), b.data(), k, 14, 128) - exact) / exact;
  MESSAGE("relative error at K = 4096, 14-bit accumulator: " << limited << " without promotion, " << promoted << " with");
  CHECK(limited > 5e-3);        // V3: up to about 2% at K = 4096 on H800
  CHECK(promoted < limited / 10);
  CHECK(std::fabs(fp8_dot(a.data(), b.data(), k, 52, 0) - exact) / exact < 1e-7);   // a wide accumulator is exact
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
  }
  Rng r2(10);
  const Tensor x = randn({64, 300}, r2);
  for (Granularity g : {Granularity::PerTensor, Granularity::Tile1x128, Granularity::Block128x128})
    CHECK(test::max_abs_diff(fake_quantize(x, g), dequantize(quantize(x, g))) == 0.f);
}
