// Reductions. Sums accumulate in double so long reductions (a loss over a batch) lose nothing.
#include <array>

#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds {

Tensor sum(const Tensor& x) {
  double s = 0;
  const float* p = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) s += p[i];
  Tensor out = Tensor::scalar(static_cast<float>(s));
  const Shape xs = x.shape();
  return record(out, {x}, "sum", [xs](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::full(xs, g.item());
  });
}

Tensor mean(const Tensor& x) {
  if (x.numel() == 0) shape_error("mean", "of an empty tensor", x.shape());
  return mul_scalar(sum(x), 1.f / static_cast<float>(x.numel()));
}

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  const int64_t n = x.dim();
  if (dim < 0) dim += n;
  if (dim < 0 || dim >= n) shape_error("sum", "dimension out of range", x.shape());
  int64_t outer = 1, inner = 1;
  const int64_t mid = x.size(dim);
  for (int64_t i = 0; i < dim; ++i) outer *= x.size(i);
  for (int64_t i = dim + 1; i < n; ++i) inner *= x.size(i);
  Shape kshape = x.shape();
  kshape[static_cast<size_t>(dim)] = 1;
  Tensor out = Tensor::zeros(kshape);
  const float* px = x.data();
  float* po = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double s = 0;
      for (int64_t m = 0; m < mid; ++m) s += px[(o * mid + m) * inner + i];
      po[o * inner + i] = static_cast<float>(s);
    }
  Shape os = kshape;
  if (!keepdim) os.erase(os.begin() + dim);
  out = out.view_as_shape(os);
  const Shape xs = x.shape();
  return record(out, {x}, "sum_dim", [xs, kshape](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    NoGradGuard ng;
    gin[0] = add(g.view_as_shape(kshape), Tensor::zeros(xs));
  });
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  return mul_scalar(sum(x, dim, keepdim), 1.f / static_cast<float>(x.size(dim)));
}

}  // namespace ds
