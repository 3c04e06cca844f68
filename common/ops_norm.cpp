// RMSNorm (DeepSeek's every norm) and LayerNorm (GPT-2), forward and backward side by side.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  const int64_t rows = outer(x), c = last_dim(x);
  if (weight.dim() != 1 || weight.size(0) != c) shape_error("rms_norm", "weight must be [C] with x [..., C]", x.shape(), weight.shape());
  Tensor out = Tensor::empty(x.shape());
  std::vector<float> rstd(static_cast<size_t>(rows));
  const float *px = x.data(), *pw = weight.data();
  float* po = out.data();
#pragma omp parallel for if (x.numel() > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const auto xr = CVecMap(px + r * c, c);   // Eigen: a vectorised float sum, as PyTorch's
    const float rs = 1.f / std::sqrt(xr.squaredNorm() / static_cast<float>(c) + eps);
    rstd[static_cast<size_t>(r)] = rs;
    VecMap(po + r * c, c) = (xr.array() * rs) * CVecMap(pw, c).array();
  }
  const Tensor xd = x.detach(), wd = weight.detach();
  return record(out, {x, weight}, "rms_norm", [xd, wd, rstd, rows, c](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    // xhat = x * r;  dx = r * (g*w - xhat * mean(g*w*xhat));  dw = sum_rows g * xhat
    const float *px = xd.data(), *pw = wd.data(), *pg = g.data();
    if (need[0]) {
      gin[0] = Tensor::empty(xd.shape());
      float* pdx = gin[0].data();
#pragma omp parallel for if (xd.numel() > kParallelMin)
      for (int64_t r = 0; r < rows; ++r) {
        const float rs = rstd[static_cast<size_t>(r)];
        const auto gw = CVecMap(pg + r * c, c).array() * CVecMap(pw, c).array();
        const auto xr = CVecMap(px + r * c, c).array();
        const float m = (gw * xr).sum() * rs / static_cast<float>(c);
        VecMap(pdx + r * c, c) = (rs * (gw - xr * (rs * m))).matrix();
      }
    }
    if (need[1]) {
      // Each column summed over the rows in order, in double: the same numbers for any thread
      // count. One block of columns per thread, rows outer and the block's columns inner, so each
      // row's loads are contiguous and the sums vectorise.
      std::vector<double> dw(static_cast<size_t>(c), 0.0);
      double* pdw = dw.data();
      const int64_t width = std::max<int64_t>(16, (c / omp_get_max_threads() + 15) / 16 * 16);
#pragma omp parallel for if (xd.numel() > kParallelMin)
      for (int64_t j0 = 0; j0 < c; j0 += width) {
        const int64_t j1 = std::min<int64_t>(c, j0 + width);
        for (int64_t r = 0; r < rows; ++r) {
          const float rs = rstd[static_cast<size_t>(r)];
          const float *gr = pg + r * c, *xr = px + r * c;
#pragma omp simd
          for (int64_t j = j0; j < j1; ++j) pdw[j] += static_cast<double>(gr[j]) * xr[j] * rs;
        }
      }
      gin[1] = Tensor::empty(wd.shape());
      for (int64_t j = 0; j < c; ++j) gin[1].data()[j] = static_cast<float>(dw[static_cast<size_t>(j)]);
    }
  });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const int64_t rows = outer(x), c = last_dim(x);
  if (weight.dim() != 1 || weight.size(0) != c || bias.shape() != weight.shape())
    shape_error("layer_norm", "weight and bias must be [C] with x [..., C]", x.shape(), weight.shape());
  Tensor out = Tensor::empty(x.shape());
  Tensor xhat = Tensor::empty(x.shape());
  std::vector<float> rstd(static_cast<size_t>(rows));
  const float *px = x.data(), *pw = weight.data(), *pb = bias.data();
  float *po = out.data(), *ph = xhat.data();
#pragma omp parallel for if (x.numel() > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = px + r * c;
    double mu = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mu += xr[j];
    mu /= static_cast<double>(c);
    for (int64_t j = 0; j < c; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    const float rs = 1.f / std::sqrt(static_cast<float>(var / static_cast<double>(c)) + eps);
    rstd[static_cast<size_t>(r)] = rs;
    for (int64_t j = 0; j < c; ++j) {
      ph[r * c + j] = static_cast<float>(xr[j] - mu) * rs;
      po[r * c + j] = ph[r * c + j] * pw[j] + pb[j];
    }
  }
  const Tensor wd = weight.detach();
  return record(out, {x, weight, bias}, "layer_norm", [xhat, wd, rstd, rows, c](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    // dx = r * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = g * w
    const float *ph = xhat.data(), *pw = wd.data(), *pg = g.data();
    if (need[0]) {
      gin[0] = Tensor::empty(xhat.shape());
      float* pdx = gin[0].data();
#pragma omp parallel for if (xhat.numel() > kParallelMin)
      for (int64_t r = 0; r < rows; ++r) {
        double m1 = 0, m2 = 0;
        for (int64_t j = 0; j < c; ++j) {
          const double gw = static_cast<double>(pg[r * c + j]) * pw[j];
          m1 += gw;
          m2 += gw * ph[r * c + j];
        }
        m1 /= static_cast<double>(c);
        m2 /= static_cast<double>(c);
        for (int64_t j = 0; j < c; ++j)
          pdx[r * c + j] = rstd[static_cast<size_t>(r)] * static_cast<float>(pg[r * c + j] * pw[j] - m1 - ph[r * c + j] * m2);
      }
    }
    if (need[1] || need[2]) {
      std::vector<double> dw(static_cast<size_t>(c), 0.0), db(static_cast<size_t>(c), 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < c; ++j) {
          dw[static_cast<size_t>(j)] += static_cast<double>(pg[r * c + j]) * ph[r * c + j];
          db[static_cast<size_t>(j)] += pg[r * c + j];
        }
      gin[1] = Tensor::zeros({c});
      gin[2] = Tensor::zeros({c});
      for (int64_t j = 0; j < c; ++j) {
        gin[1].data()[j] = static_cast<float>(dw[static_cast<size_t>(j)]);
        gin[2].data()[j] = static_cast<float>(db[static_cast<size_t>(j)]);
      }
    }
  });
}

}  // namespace ds
