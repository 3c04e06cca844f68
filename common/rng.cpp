#include "common/rng.hpp"

#include <cmath>

namespace ds {
namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Rng::reseed(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
  has_spare_ = false;
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

int64_t Rng::randint(int64_t n) {
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  uint64_t r;
  do r = next_u64(); while (r >= limit);
  return static_cast<int64_t>(r % un);
}

double Rng::normal() {
  if (has_spare_) { has_spare_ = false; return spare_; }
  double u1;
  do u1 = uniform(); while (u1 <= 1e-300);
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * M_PI * u2);
}

Rng Rng::split() { return Rng(next_u64()); }

Tensor randn(const Shape& shape, Rng& rng, float std) {
  Tensor t = Tensor::zeros(shape);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<float>(rng.normal()) * std;
  return t;
}

Tensor rand_uniform(const Shape& shape, Rng& rng, float lo, float hi) {
  Tensor t = Tensor::zeros(shape);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = rng.uniform(lo, hi);
  return t;
}

}  // namespace ds
