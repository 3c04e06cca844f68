#include "ch07/masked.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "common/ops.hpp"

namespace ds::ch07 {

void check_tokens(const std::string& op, const Tensor& x, const Tensor& mask) {
  if (!x.defined() || !mask.defined()) throw std::invalid_argument(op + ": the per-token values and the completion mask must both be given");
  if (x.dim() != 2) shape_error(op, "per-token values must be [B, T]", x.shape());
  if (mask.shape() != x.shape()) shape_error(op, "the completion mask must have the shape of the per-token values", x.shape(), mask.shape());
  for (int64_t i = 0; i < mask.numel(); ++i)
    if (mask[i] != 0.f && mask[i] != 1.f) throw std::invalid_argument(op + ": the completion mask must hold only 0 and 1");
}

int64_t row_tokens(const Tensor& mask, int64_t b) {
  const int64_t t = mask.size(1);
  int64_t n = 0;
  for (int64_t j = 0; j < t; ++j) n += mask[b * t + j] != 0.f;
  return n;
}

int64_t total_tokens(const Tensor& mask) {
  int64_t n = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) n += mask[i] != 0.f;
  return n;
}

float masked_average(const Tensor& x, const Tensor& mask) {
  double s = 0;
  for (int64_t i = 0; i < x.numel(); ++i) s += mask[i] != 0.f ? x[i] : 0.0;
  const int64_t n = total_tokens(mask);
  return n ? static_cast<float>(s / static_cast<double>(n)) : 0.f;
}

Tensor masked_row_sum(const Tensor& x, const Tensor& mask) {
  check_tokens("masked_row_sum", x, mask);
  return sum(mul(x, mask), 1);
}

Tensor masked_row_mean(const Tensor& x, const Tensor& mask) {
  check_tokens("masked_row_mean", x, mask);
  const int64_t b = x.size(0);
  std::vector<float> inv(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) inv[static_cast<size_t>(i)] = 1.f / static_cast<float>(std::max<int64_t>(row_tokens(mask, i), 1));
  return mul(sum(mul(x, mask), 1), Tensor::from(inv, {b}));
}

Tensor masked_sum_over(const Tensor& x, const Tensor& mask, double divisor) {
  check_tokens("masked_sum_over", x, mask);
  if (!(divisor > 0)) throw std::invalid_argument("masked_sum_over: the divisor must be positive");
  return mul_scalar(sum(mul(x, mask)), static_cast<float>(1.0 / divisor));
}

Tensor masked_mean(const Tensor& x, const Tensor& mask) {
  return masked_sum_over(x, mask, static_cast<double>(std::max<int64_t>(total_tokens(mask), 1)));
}

}  // namespace ds::ch07
