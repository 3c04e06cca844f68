// Number formats on disk. Training happens in float32, but checkpoints and DeepSeek's own
// weights are stored narrower: bfloat16 (float32's 8-bit exponent with only 7 mantissa bits,
// so it never overflows where float32 would not) and IEEE float16 (5-bit exponent, 10-bit
// mantissa: finer steps, but anything past 65504 becomes infinity). DeepSeek-V3 ships its
// weights in FP8 (E4M3, E5M2); chapter 5 teaches those encodings, so here they are only names.
//
// Conversions round to nearest, ties to even, as hardware and PyTorch do: always rounding
// down would bias every stored weight towards zero.
#pragma once

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
uint16_t float_to_bf16(float x);
float bf16_to_float(uint16_t h);
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
