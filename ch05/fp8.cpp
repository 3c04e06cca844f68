#include "ch05/fp8.hpp"

#include <cmath>
#include <limits>

namespace ds::ch05 {

Fp8Spec fp8_spec(Fp8Format f) { return f == Fp8Format::E4M3 ? Fp8Spec{4, 3, 7, false} : Fp8Spec{5, 2, 15, true}; }
std::string fp8_name(Fp8Format f) { return f == Fp8Format::E4M3 ? "E4M3" : "E5M2"; }

double fp8_max(Fp8Format f) {
  const Fp8Spec s = fp8_spec(f);
  // E4M3's top exponent holds numbers except S.1111.111 (NaN); E5M2's top exponent is inf/NaN.
  const int top_exp = s.has_inf ? (1 << s.exp_bits) - 2 : (1 << s.exp_bits) - 1;
  const int top_man = s.has_inf ? (1 << s.man_bits) - 1 : (1 << s.man_bits) - 2;
  return std::ldexp(1.0 + top_man / static_cast<double>(1 << s.man_bits), top_exp - s.bias);
}
double fp8_min_normal(Fp8Format f) { return std::ldexp(1.0, 1 - fp8_spec(f).bias); }
double fp8_min_subnormal(Fp8Format f) {
  const Fp8Spec s = fp8_spec(f);
  return std::ldexp(1.0, 1 - s.bias - s.man_bits);
}

uint8_t fp8_encode(float x, Fp8Format f) {
  const Fp8Spec s = fp8_spec(f);
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const int exp_all = (1 << s.exp_bits) - 1;
  if (std::isnan(x)) return static_cast<uint8_t>(sign | (s.has_inf ? (exp_all << s.man_bits) | 0x2 : 0x7F));
  if (std::isinf(x) && s.has_inf) return static_cast<uint8_t>(sign | (exp_all << s.man_bits));
  const double a = std::min(std::fabs(static_cast<double>(x)), fp8_max(f) * 2);   // inf -> beyond max -> saturates below
  if (a == 0) return sign;
  // The spacing of representable numbers at a's binade (fixed below the normal range).
  const int emin = 1 - s.bias;
  const int e = std::max(std::ilogb(a), emin);
  const double quantum = std::ldexp(1.0, e - s.man_bits);
  double q = std::nearbyint(a / quantum) * quantum;   // the default rounding mode: ties to even
  if (q > fp8_max(f)) q = fp8_max(f);
  if (q == 0) return sign;
  if (q < fp8_min_normal(f)) return static_cast<uint8_t>(sign | static_cast<int>(q / fp8_min_subnormal(f)));
  const int qe = std::ilogb(q);
  const int man = static_cast<int>(std::ldexp(q, s.man_bits - qe)) - (1 << s.man_bits);
  return static_cast<uint8_t>(sign | ((qe + s.bias) << s.man_bits) | man);
}

float fp8_decode(uint8_t code, Fp8Format f) {
  const Fp8Spec s = fp8_spec(f);
  const bool neg = code & 0x80;
  const int exp = (code >> s.man_bits) & ((1 << s.exp_bits) - 1), man = code & ((1 << s.man_bits) - 1);
  const int exp_all = (1 << s.exp_bits) - 1;
  double v;
  if (s.has_inf && exp == exp_all) {
    v = man == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else if (!s.has_inf && exp == exp_all && man == (1 << s.man_bits) - 1) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (exp == 0) {
    v = man * fp8_min_subnormal(f);
  } else {
    v = std::ldexp(1.0 + man / static_cast<double>(1 << s.man_bits), exp - s.bias);
  }
  return static_cast<float>(neg ? -v : v);
}

Fp8Rounder::Fp8Rounder(Fp8Format f) {
  const Fp8Spec s = fp8_spec(f);
  exp_lo_ = static_cast<uint32_t>(127 + 1 - s.bias);                  // float32 exponent field of the smallest normal
  exp_hi_ = static_cast<uint32_t>(127 + std::ilogb(fp8_max(f)));      // ... of the largest binade (larger values saturate)
  shift_ = static_cast<uint32_t>(23 - s.man_bits);                    // q = 2^(e - man), magic = 1.5 * 2^(e - man + 23)
  max_ = static_cast<float>(fp8_max(f));
  inf_ = std::numeric_limits<float>::infinity();
  keep_inf_ = s.has_inf;   // E5M2 keeps IEEE infinities; E4M3 saturates them like any large value
}

}  // namespace ds::ch05
