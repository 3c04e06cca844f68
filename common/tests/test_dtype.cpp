// bfloat16 and float16 conversions: exhaustive round trips over every 16-bit pattern, the
// round-to-nearest-even ties, float16's overflow and subnormal edges, and NaN handling.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <ios>
#include <limits>
#include <stdexcept>

#include "common/dtype.hpp"

using namespace ds;

namespace {

float from_bits(uint32_t b) { return std::bit_cast<float>(b); }

}  // namespace

TEST_CASE("dtype: names and sizes follow safetensors") {
  CHECK(std::string(dtype_name(DType::F32)) == "F32");
  CHECK(std::string(dtype_name(DType::BF16)) == "BF16");
  CHECK(std::string(dtype_name(DType::F16)) == "F16");
  CHECK(std::string(dtype_name(DType::F8_E4M3)) == "F8_E4M3");
  CHECK(std::string(dtype_name(DType::F8_E5M2)) == "F8_E5M2");
  for (DType dt : {DType::F32, DType::BF16, DType::F16, DType::F8_E4M3, DType::F8_E5M2})
    CHECK(dtype_from_name(dtype_name(dt)) == dt);
  CHECK(dtype_size(DType::F32) == 4);
  CHECK(dtype_size(DType::BF16) == 2);
  CHECK(dtype_size(DType::F16) == 2);
  CHECK(dtype_size(DType::F8_E4M3) == 1);
  CHECK(dtype_size(DType::F8_E5M2) == 1);
  CHECK(dtype_is_fp8(DType::F8_E5M2));
  CHECK_FALSE(dtype_is_fp8(DType::BF16));
  CHECK_THROWS_WITH_AS(dtype_from_name("F64"),
                       "unknown dtype \"F64\" (known: F32, BF16, F16, F8_E4M3, F8_E5M2)",
                       std::invalid_argument);
  CHECK_THROWS_AS(dtype_from_name("f32"), std::invalid_argument);   // names are case-sensitive
}

TEST_CASE("dtype: every bf16 and f16 value survives a trip through float32") {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const float fb = bf16_to_float(b);
    const float fh = f16_to_float(b);
    if (std::isnan(fb)) {
      CHECK(std::isnan(bf16_to_float(float_to_bf16(fb))));
    } else if (float_to_bf16(fb) != b) {
      FAIL("bf16 0x" << std::hex << h << " came back as 0x" << float_to_bf16(fb));
    }
    if (std::isnan(fh)) {
      CHECK(std::isnan(f16_to_float(float_to_f16(fh))));
    } else if (float_to_f16(fh) != b) {
      FAIL("f16 0x" << std::hex << h << " came back as 0x" << float_to_f16(fh));
    }
  }
}

TEST_CASE("dtype: known encodings") {
  CHECK(float_to_bf16(1.f) == 0x3F80);
  CHECK(float_to_bf16(-2.f) == 0xC000);
  CHECK(float_to_bf16(-0.f) == 0x8000);
  CHECK(bf16_to_float(0x4049) == 3.140625f);
  CHECK(float_to_f16(1.f) == 0x3C00);
  CHECK(float_to_f16(-2.f) == 0xC000);
  CHECK(float_to_f16(0.5f) == 0x3800);
  CHECK(float_to_f16(-0.f) == 0x8000);
  CHECK(f16_to_float(0x3555) == doctest::Approx(0.333251953125f));
}

TEST_CASE("dtype: bf16 rounds to nearest, ties to even") {
  // 1.0 is 0x3F80_0000; the next bf16 up is 0x3F81 (1 + 2^-7).
  CHECK(float_to_bf16(from_bits(0x3F808000)) == 0x3F80);   // tie, 0x3F80 is even: down
  CHECK(float_to_bf16(from_bits(0x3F818000)) == 0x3F82);   // tie, 0x3F81 is odd: up
  CHECK(float_to_bf16(from_bits(0x3F808001)) == 0x3F81);   // just above the tie: up
  CHECK(float_to_bf16(from_bits(0x3F807FFF)) == 0x3F80);   // just below: down
  CHECK(float_to_bf16(from_bits(0xBF808000)) == 0xBF80);   // negative ties too
  CHECK(float_to_bf16(from_bits(0x3F7FFFFF)) == 0x3F80);   // rounding carries into the exponent
  CHECK(round_to_bf16(1.f + 1.f / 256) == 1.f);
}

TEST_CASE("dtype: bf16 overflow and infinities") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);   // past bf16's max: inf
  CHECK(float_to_bf16(inf) == 0x7F80);
  CHECK(float_to_bf16(-inf) == 0xFF80);
  CHECK(bf16_to_float(0x7F7F) == from_bits(0x7F7F0000));              // bf16's largest finite
}

TEST_CASE("dtype: f16 rounds to nearest, ties to even") {
  const float ulp = std::ldexp(1.f, -10);                  // f16 step just above 1
  CHECK(float_to_f16(1.f + ulp / 2) == 0x3C00);            // tie, even: down
  CHECK(float_to_f16(1.f + 3 * ulp / 2) == 0x3C02);        // tie, odd below: up
  CHECK(float_to_f16(1.f + ulp / 2 + ulp / 64) == 0x3C01);
  CHECK(float_to_f16(2047.f / 1024) == 0x3FFF);            // exactly representable
  CHECK(float_to_f16(2.f - ulp / 4) == 0x4000);            // rounding carries into the exponent
}

TEST_CASE("dtype: f16 overflow goes to infinity past 65504") {
  CHECK(float_to_f16(65504.f) == 0x7BFF);                  // the largest finite half
  CHECK(f16_to_float(0x7BFF) == 65504.f);
  CHECK(float_to_f16(65519.f) == 0x7BFF);                  // below the midpoint: still finite
  CHECK(float_to_f16(65520.f) == 0x7C00);                  // the midpoint: ties to even = inf
  CHECK(float_to_f16(-65520.f) == 0xFC00);
  CHECK(float_to_f16(1e10f) == 0x7C00);
  CHECK(float_to_f16(std::numeric_limits<float>::infinity()) == 0x7C00);
  CHECK(std::isinf(f16_to_float(0x7C00)));
  CHECK(f16_to_float(0xFC00) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("dtype: f16 subnormals") {
  const float tiny = std::ldexp(1.f, -24);                 // the smallest subnormal half
  CHECK(float_to_f16(tiny) == 0x0001);
  CHECK(f16_to_float(0x0001) == tiny);
  CHECK(float_to_f16(-tiny) == 0x8001);
  CHECK(float_to_f16(tiny / 2) == 0x0000);                 // tie between 0 and 1 step: even = 0
  CHECK(float_to_f16(tiny * 0.75f) == 0x0001);             // above the tie: up
  CHECK(float_to_f16(tiny / 4) == 0x0000);
  CHECK(float_to_f16(tiny * 1.5f) == 0x0002);              // tie between 1 and 2 steps: even = 2
  CHECK(float_to_f16(tiny * 2.5f) == 0x0002);              // tie between 2 and 3: even = 2
  CHECK(float_to_f16(1023 * tiny) == 0x03FF);              // the largest subnormal
  CHECK(float_to_f16(1023.5f * tiny) == 0x0400);           // rounds up into the smallest normal
  CHECK(float_to_f16(std::ldexp(1.f, -14)) == 0x0400);
  CHECK(float_to_f16(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(round_to_f16(100 * tiny) == 100 * tiny);
}

TEST_CASE("dtype: NaN stays NaN, sign kept") {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  const float snan = from_bits(0x7F800001);                // payload only in the dropped bits
  for (float x : {qnan, snan, -qnan, from_bits(0xFF800001)}) {
    CHECK(std::isnan(bf16_to_float(float_to_bf16(x))));
    CHECK(std::isnan(f16_to_float(float_to_f16(x))));
    CHECK(std::signbit(bf16_to_float(float_to_bf16(x))) == std::signbit(x));
    CHECK(std::signbit(f16_to_float(float_to_f16(x))) == std::signbit(x));
  }
  CHECK(std::isnan(f16_to_float(0x7E00)));
  CHECK(std::isnan(bf16_to_float(0x7FC0)));
}

TEST_CASE("dtype: arrays encode little-endian and decode back") {
  const float v[] = {1.f, -2.f};
  CHECK(encode_floats(v, 2, DType::F32) ==
        std::vector<uint8_t>{0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0});
  CHECK(encode_floats(v, 2, DType::BF16) == std::vector<uint8_t>{0x80, 0x3F, 0x00, 0xC0});
  CHECK(encode_floats(v, 2, DType::F16) == std::vector<uint8_t>{0x00, 0x3C, 0x00, 0xC0});
  const float w[] = {0.1f, 3.3e-5f, -7.77f, 1234.5f};
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    const auto bytes = encode_floats(w, 4, dt);
    CHECK(static_cast<int64_t>(bytes.size()) == 4 * dtype_size(dt));
    float back[4];
    decode_floats(bytes.data(), 4, dt, back);
    for (int i = 0; i < 4; ++i) {
      const float want = dt == DType::F32 ? w[i] : dt == DType::BF16 ? round_to_bf16(w[i]) : round_to_f16(w[i]);
      CHECK(back[i] == want);
    }
  }
  CHECK_THROWS_WITH_AS(encode_floats(v, 2, DType::F8_E4M3),
                       doctest::Contains("FP8 encoding and decoding live in ch05"),
                       std::invalid_argument);
  float out[1];
  const uint8_t b[] = {0x38};
  CHECK_THROWS_AS(decode_floats(b, 1, DType::F8_E5M2, out), std::invalid_argument);
}
