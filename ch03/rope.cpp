#include "ch03/rope.hpp"

#include "common/ops.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ds::ch03 {

Tensor sinusoidal_encoding(int64_t positions, int64_t dim, double base) {
  if (positions < 1 || dim < 2 || dim % 2) throw std::invalid_argument("sinusoidal_encoding: needs positions >= 1 and an even dim >= 2");
  Tensor pe = Tensor::zeros({positions, dim});
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < dim / 2; ++i) {
      const double angle = static_cast<double>(p) / std::pow(base, 2.0 * static_cast<double>(i) / static_cast<double>(dim));
      pe.data()[p * dim + 2 * i] = static_cast<float>(std::sin(angle));
      pe.data()[p * dim + 2 * i + 1] = static_cast<float>(std::cos(angle));
    }
  return pe;
}

namespace {
bool extended(const RopeConfig& c) { return c.yarn.factor > 1.0 && c.max_positions > c.yarn.original_max_position_embeddings; }

// The (fractional) pair index whose wavelength fits `rotations` times into the original context.
double correction_dim(double rotations, const RopeConfig& c) {
  return static_cast<double>(c.dim) * std::log(static_cast<double>(c.yarn.original_max_position_embeddings) / (rotations * 2 * M_PI)) /
         (2 * std::log(c.theta));
}
}  // namespace

std::vector<double> rope_frequencies(const RopeConfig& c) {
  if (c.dim < 2 || c.dim % 2) throw std::invalid_argument("rope: qk_rope_head_dim must be even and at least 2, got " + std::to_string(c.dim));
  const int64_t half = c.dim / 2;
  std::vector<double> f(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) f[static_cast<size_t>(i)] = 1.0 / std::pow(c.theta, 2.0 * static_cast<double>(i) / static_cast<double>(c.dim));
  if (!extended(c)) return f;
  double low = std::max(std::floor(correction_dim(c.yarn.beta_fast, c)), 0.0);
  double high = std::min(std::ceil(correction_dim(c.yarn.beta_slow, c)), static_cast<double>(c.dim - 1));
  if (high == low) high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double keep = 1.0 - ramp;   // 1 for fast-rotating pairs (kept), 0 for slow ones (interpolated)
    double& fi = f[static_cast<size_t>(i)];
    fi = fi / c.yarn.factor * (1.0 - keep) + fi * keep;
  }
  return f;
}

RopeTables rope_tables(const RopeConfig& c) {
  const std::vector<double> f = rope_frequencies(c);
  const int64_t half = c.dim / 2;
  RopeTables t{Tensor::zeros({c.max_positions, half}), Tensor::zeros({c.max_positions, half})};
  for (int64_t p = 0; p < c.max_positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * f[static_cast<size_t>(i)];
      t.cos.data()[p * half + i] = static_cast<float>(std::cos(a));
      t.sin.data()[p * half + i] = static_cast<float>(std::sin(a));
    }
  return t;
}

double yarn_mscale(const RopeConfig& c) {
  return extended(c) ? 0.1 * c.yarn.mscale * std::log(c.yarn.factor) + 1.0 : 1.0;
}

double rotated_dot(const Tensor& q, const Tensor& k, int64_t m, int64_t n, const RopeTables& t) {
  const int64_t d = q.numel();
  const Tensor qr = rope(q.view_as_shape({1, 1, d}), t.cos, t.sin, m), kr = rope(k.view_as_shape({1, 1, d}), t.cos, t.sin, n);
  double s = 0;
  for (int64_t i = 0; i < d; ++i) s += static_cast<double>(qr.data()[i]) * kr.data()[i];
  return s;
}

}  // namespace ds::ch03
