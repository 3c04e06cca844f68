// Softmax, log-softmax and cross-entropy over the last dimension, each one fused node.
// Rows are independent, so they split across threads.
#include <cmath>
#include <limits>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

namespace {
// log(sum(exp(row))) computed stably around the row maximum.
// Eigen's packet exp does 16 lanes at once: the loss over a 1024-word vocabulary is exp-bound.
float logsumexp(const float* row, int64_t n) {
  const auto r = Eigen::Map<const Eigen::ArrayXf>(row, n);
  const float m = n ? r.maxCoeff() : -std::numeric_limits<float>::infinity();
  if (std::isinf(m)) return m;
  return m + static_cast<float>(std::log(static_cast<double>((r - m).exp().sum())));
}
}  // namespace

Tensor softmax(const Tensor& x) {
  const int64_t rows = outer(x), c = last_dim(x);
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
#pragma omp parallel for if (x.numel() > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float lse = logsumexp(px + r * c, c);
    for (int64_t j = 0; j < c; ++j) po[r * c + j] = std::exp(px[r * c + j] - lse);
  }
  const Tensor y = out.detach();
  return record(out, {x}, "softmax", [y, rows, c](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    // dx = y * (g - sum(g * y))
    Tensor gx = Tensor::empty(y.shape());
    const float *py = y.data(), *pg = g.data();
    float* px = gx.data();
#pragma omp parallel for if (y.numel() > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      double dot = 0;
      for (int64_t j = 0; j < c; ++j) dot += pg[r * c + j] * py[r * c + j];
      for (int64_t j = 0; j < c; ++j) px[r * c + j] = py[r * c + j] * (pg[r * c + j] - static_cast<float>(dot));
    }
    gin[0] = gx;
  });
}

Tensor log_softmax(const Tensor& x) {
  const int64_t rows = outer(x), c = last_dim(x);
  Tensor out = Tensor::zeros(x.shape());
  const float* px = x.data();
  float* po = out.data();
#pragma omp parallel for if (x.numel() > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float lse = logsumexp(px + r * c, c);
    for (int64_t j = 0; j < c; ++j) po[r * c + j] = px[r * c + j] - lse;
  }
  const Tensor y = out.detach();
  return record(out, {x}, "log_softmax", [y, rows, c](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    // dx = g - softmax * sum(g)
    Tensor gx = Tensor::zeros(y.shape());
    const float *py = y.data(), *pg = g.data();
    float* px = gx.data();
#pragma omp parallel for if (y.numel() > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t j = 0; j < c; ++j) s += pg[r * c + j];
      for (int64_t j = 0; j < c; ++j) px[r * c + j] = pg[r * c + j] - std::exp(py[r * c + j]) * static_cast<float>(s);
    }
    gin[0] = gx;
  });
}

Tensor cross_entropy(const Tensor& logits, const IntTensor& targets, int32_t ignore_index) {
  const int64_t rows = outer(logits), v = last_dim(logits);
  if (targets.numel() != rows)
    shape_error("cross_entropy", "needs one target per row of logits", logits.shape(), targets.shape);
  const float* pl = logits.data();
  std::vector<float> lse(static_cast<size_t>(rows));
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t t = targets[r];
    if (t == ignore_index) continue;
    if (t < 0 || t >= v) throw std::invalid_argument("cross_entropy: target " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(v));
    ++count;
  }
  std::vector<double> row_loss(static_cast<size_t>(rows), 0.0);
#pragma omp parallel for if (logits.numel() > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] == ignore_index) continue;
    lse[static_cast<size_t>(r)] = logsumexp(pl + r * v, v);
    row_loss[static_cast<size_t>(r)] = lse[static_cast<size_t>(r)] - pl[r * v + targets[r]];
  }
  double total = 0;   // summed in row order, so any thread count gives the same loss
  for (double l : row_loss) total += l;
  // An all-ignored batch has loss 0 and zero gradient rather than NaN.
  Tensor out = Tensor::scalar(count ? static_cast<float>(total / static_cast<double>(count)) : 0.f);
  const Tensor ld = logits.detach();
  return record(out, {logits}, "cross_entropy", [ld, targets, ignore_index, lse, rows, v, count](const Tensor& g, const std::vector<bool>&,
                                                                                                  std::vector<Tensor>& gin) {
    // d/dlogits = (softmax - onehot(target)) / count, recomputed from the saved log-sum-exp
    Tensor gx = Tensor::zeros(ld.shape());   // ignored rows stay 0
    const float scale = count ? g.item() / static_cast<float>(count) : 0.f;
    const float* pl = ld.data();
    float* px = gx.data();
#pragma omp parallel for if (ld.numel() > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t t = targets[r];
      if (t == ignore_index) continue;
      const float l = lse[static_cast<size_t>(r)];
      Eigen::Map<Eigen::ArrayXf>(px + r * v, v) = (Eigen::Map<const Eigen::ArrayXf>(pl + r * v, v) - l).exp() * scale;
      px[r * v + t] -= scale;
    }
    gin[0] = gx;
  });
}

}  // namespace ds
