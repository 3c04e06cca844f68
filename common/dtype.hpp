// Number formats on disk. Training happens in float32, but checkpoints and DeepSeek's own
// weights are stored narrower: bfloat16 (float32's 8-bit exponent with only 7 mantissa bits,
// so it never overflows where float32 would not) and IEEE float16 (5-bit exponent, 10-bit
// mantissa: finer steps, but anything past 65504 becomes infinity). DeepSeek-V3 ships its
// weights in FP8 (E4M3, E5M2); chapter 5 teaches those encodings, so here they are only names.
//
// Conversions round to nearest, ties to even, as hardware and PyTorch do: always rounding
// down would bias every stored weight towards zero.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

namespace ds {

// The names are the ones safetensors writes in its header ("F32", "BF16", ...).
enum class DType { F32, BF16, F16, F8_E4M3, F8_E5M2 };

const char* dtype_name(DType dt);
DType dtype_from_name(const std::string& name);   // throws std::invalid_argument on unknown
int64_t dtype_size(DType dt);                     // bytes per element
bool dtype_is_fp8(DType dt);

// One value at a time. NaN stays NaN (quiet, sign kept); overflow becomes +-infinity.
// The bfloat16 pair is inline so that loops over whole tensors vectorise (ch05 rounds every
// GEMM operand of a training run to BF16, the baseline FP8 is measured against).
// bfloat16 is the top half of a float32, so rounding is one add on the bits: adding
// 0x7FFF (+1 when the kept part is odd) carries into bit 16 exactly when the dropped half
// is above the midpoint, or at it with an odd result. A carry out of the mantissa bumps the
// exponent, which is also right, up to infinity.
inline uint16_t float_to_bf16(float x) {
  const uint32_t b = std::bit_cast<uint32_t>(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u)          // NaN: keep sign and top payload, force quiet
    return static_cast<uint16_t>((b >> 16) | 0x0040u);
  const uint32_t odd = (b >> 16) & 1u;
  return static_cast<uint16_t>((b + 0x7FFFu + odd) >> 16);
}

inline float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_f16(float x);                   // subnormals below 2^-14 are kept
float f16_to_float(uint16_t h);

// What a float32 becomes after a trip through the narrow format (mixed-precision simulation).
inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }
inline float round_to_f16(float x) { return f16_to_float(float_to_f16(x)); }

// Whole arrays, as little-endian bytes (the byte order safetensors uses on every machine).
// Only F32, BF16 and F16; FP8 needs a scale, so these throw std::invalid_argument for it.
std::vector<uint8_t> encode_floats(const float* values, int64_t n, DType dt);
void decode_floats(const uint8_t* bytes, int64_t n, DType dt, float* out);

}  // namespace ds
