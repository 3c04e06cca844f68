// The two 8-bit floating-point formats of the OCP FP8 specification that DeepSeek-V3 trains
// with (section 3.3): E4M3 for everything in the forward and backward GEMMs (V3 uses it for all
// tensors, trading range for precision, and recovers range with fine-grained scaling), E5M2 as
// the wider-range alternative earlier FP8 work used for gradients.
//   E4M3: bias 7, max 448, no infinities, NaN only at S.1111.111, subnormals down to 2^-9.
//   E5M2: bias 15, max 57344, IEEE infinities and NaNs, subnormals down to 2^-16.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

namespace ds::ch05 {

enum class Fp8Format { E4M3, E5M2 };

struct Fp8Spec {
  int exp_bits, man_bits, bias;
  bool has_inf;   // E5M2 follows IEEE (exponent all ones = inf/NaN); E4M3 spends it on numbers
};
Fp8Spec fp8_spec(Fp8Format f);
std::string fp8_name(Fp8Format f);   // "E4M3" / "E5M2"

double fp8_max(Fp8Format f);            // 448, 57344
double fp8_min_normal(Fp8Format f);     // 2^-6, 2^-14
double fp8_min_subnormal(Fp8Format f);  // 2^-9, 2^-16

// Round to nearest, ties to even. Finite values beyond the largest one saturate to +-max (the
// conversion training uses, so one outlier cannot become inf); +-inf saturates too in E4M3 and
// stays inf in E5M2; NaN becomes the format's NaN; the sign of zero is kept.
uint8_t fp8_encode(float x, Fp8Format f);
float fp8_decode(uint8_t code, Fp8Format f);
inline float fp8_round(float x, Fp8Format f) { return fp8_decode(fp8_encode(x, f), f); }

// The same rounding in a few float operations without branches, so that the compiler
// vectorises loops over it and fake quantisation in training costs little next to the GEMMs; a
// test checks it against fp8_round on every tie, the special values and 400,000 random values.
// The trick: adding M = 1.5 * 2^23 * q, for q the spacing of FP8 numbers at |x|, leaves no bits
// below q in the float32 sum, so the FPU's round-to-nearest-even rounds |x| to a multiple of q.
class Fp8Rounder {
 public:
  explicit Fp8Rounder(Fp8Format f);
  float operator()(float x) const {
    const float a = std::fabs(x);
    // a's float32 exponent, clamped to the FP8 normal range: below it the spacing stays that of the subnormals
    const uint32_t e = std::clamp(std::bit_cast<uint32_t>(a) >> 23, exp_lo_, exp_hi_);
    const float magic = std::bit_cast<float>(((e + shift_) << 23) | 0x400000u);   // 1.5 * 2^23 * q
    float r = std::min((a + magic) - magic, max_);                                 // saturates; NaN passes
    if (keep_inf_) r = a == inf_ ? a : r;
    return std::copysign(r, x);
  }

 private:
  uint32_t exp_lo_, exp_hi_, shift_;
  float max_, inf_;
  bool keep_inf_;
};
inline float fp8_round_fast(float x, Fp8Format f) { return Fp8Rounder(f)(x); }

}  // namespace ds::ch05
