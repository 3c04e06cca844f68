// Bit-level conversions between float32 and the 16-bit formats. Everything works on the raw
// bits (std::bit_cast) so the rounding is exact and does not depend on the FPU's mode.
#include "common/dtype.hpp"

#include <bit>
#include <cmath>
#include <stdexcept>

namespace ds {

namespace {

struct DTypeInfo {
  DType dt;
  const char* name;
  int64_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 4},         {DType::BF16, "BF16", 2},       {DType::F16, "F16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
};

const DTypeInfo& info(DType dt) {
  for (const auto& i : kDTypes)
    if (i.dt == dt) return i;
  throw std::invalid_argument("unknown DType value " + std::to_string(static_cast<int>(dt)));
}

// Shift right by `shift` bits, rounding to nearest with ties to even (shift in 1..31).
uint32_t shift_round_even(uint32_t m, int shift) {
  const uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

[[noreturn]] void fp8_not_here(const char* fn, DType dt) {
  throw std::invalid_argument(std::string(fn) + ": " + dtype_name(dt) +
                              " needs a scale; FP8 encoding and decoding live in ch05");
}

}  // namespace

const char* dtype_name(DType dt) { return info(dt).name; }

int64_t dtype_size(DType dt) { return info(dt).size; }

bool dtype_is_fp8(DType dt) { return dt == DType::F8_E4M3 || dt == DType::F8_E5M2; }

DType dtype_from_name(const std::string& name) {
  for (const auto& i : kDTypes)
    if (name == i.name) return i.dt;
  throw std::invalid_argument("unknown dtype \"" + name +
                              "\" (known: F32, BF16, F16, F8_E4M3, F8_E5M2)");
}

// float16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Three ranges of |x|:
// normal (rebias the exponent, round 23 -> 10 mantissa bits), subnormal (the value is an
// integer count of 2^-24 steps), and too large (infinity).
uint16_t float_to_f16(float x) {
  const uint32_t b = std::bit_cast<uint32_t>(x);
  const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
  const uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u)                          // NaN: keep top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u)                         // >= 65520, halfway past 65504: ties go to inf
    return static_cast<uint16_t>(sign | 0x7C00u);
  if (a >= 0x38800000u)                         // >= 2^-14: normal; the carry may bump the exponent
    return static_cast<uint16_t>(sign | shift_round_even(a - 0x38000000u, 13));
  const int exp = static_cast<int>(a >> 23);
  const int shift = 126 - exp;                  // value = m * 2^(exp-150) = (m >> shift) * 2^-24
  if (shift > 24) return sign;                  // below half of 2^-24: rounds to zero
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  return static_cast<uint16_t>(sign | shift_round_even(m, shift));
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0) {                               // zero or subnormal: man * 2^-24, exact in float
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}

std::vector<uint8_t> encode_floats(const float* values, int64_t n, DType dt) {
  if (dtype_is_fp8(dt)) fp8_not_here("encode_floats", dt);
  const int64_t size = dtype_size(dt);
  std::vector<uint8_t> out(static_cast<size_t>(n * size));
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits = dt == DType::F32    ? std::bit_cast<uint32_t>(values[i])
                    : dt == DType::BF16 ? float_to_bf16(values[i])
                                        : float_to_f16(values[i]);
    for (int64_t k = 0; k < size; ++k, bits >>= 8)   // little-endian, whatever the host
      out[static_cast<size_t>(i * size + k)] = static_cast<uint8_t>(bits & 0xFFu);
  }
  return out;
}

void decode_floats(const uint8_t* bytes, int64_t n, DType dt, float* out) {
  if (dtype_is_fp8(dt)) fp8_not_here("decode_floats", dt);
  const int64_t size = dtype_size(dt);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits = 0;
    for (int64_t k = size - 1; k >= 0; --k) bits = (bits << 8) | bytes[i * size + k];
    out[i] = dt == DType::F32    ? std::bit_cast<float>(bits)
             : dt == DType::BF16 ? bf16_to_float(static_cast<uint16_t>(bits))
                                 : f16_to_float(static_cast<uint16_t>(bits));
  }
}

}  // namespace ds
