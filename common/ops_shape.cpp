// Shape ops. Tensors are always contiguous, so reshape is a free view while permute, slice
// and concat copy (once, in one pass, split over the threads when large) and their backwards
// copy the gradient back.
#include <array>
#include <cstring>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {

namespace {
int64_t norm_dim(int64_t d, int64_t n, const char* op, const Shape& s) {
  if (d < 0) d += n;
  if (d < 0 || d >= n) shape_error(op, "dimension " + std::to_string(d) + " out of range", s);
  return d;
}

// View x as [outer, mid, inner] around dimension `dim`.
std::array<int64_t, 3> split_at(const Shape& s, int64_t dim) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= s[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(dim) + 1; i < s.size(); ++i) inner *= s[i];
  return {outer, s[static_cast<size_t>(dim)], inner};
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.view_as_shape(shape);
  const Shape in_shape = x.shape();
  return record(out, {x}, "reshape", [in_shape](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = g.view_as_shape(in_shape);
  });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t n = x.dim();
  if (static_cast<int64_t>(dims.size()) != n) shape_error("permute", "needs one entry per dimension", x.shape());
  std::array<int64_t, 4> in_stride{0, 0, 0, 0}, out_dim{1, 1, 1, 1}, src_stride{0, 0, 0, 0};
  int64_t st = 1;
  for (int64_t i = n - 1; i >= 0; --i) { in_stride[static_cast<size_t>(i)] = st; st *= x.shape()[static_cast<size_t>(i)]; }
  Shape os(static_cast<size_t>(n));
  std::vector<bool> used(static_cast<size_t>(n), false);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = norm_dim(dims[static_cast<size_t>(i)], n, "permute", x.shape());
    if (used[static_cast<size_t>(d)]) shape_error("permute", "repeated dimension", x.shape());
    used[static_cast<size_t>(d)] = true;
    os[static_cast<size_t>(i)] = x.shape()[static_cast<size_t>(d)];
    out_dim[static_cast<size_t>(4 - n + i)] = os[static_cast<size_t>(i)];
    src_stride[static_cast<size_t>(4 - n + i)] = in_stride[static_cast<size_t>(d)];
  }
  Tensor out = Tensor::empty(os);
  const float* px = x.data();
  float* po = out.data();
#pragma omp parallel for collapse(2) if (out.numel() > kernels::kParallelMin)
  for (int64_t a = 0; a < out_dim[0]; ++a)
    for (int64_t b = 0; b < out_dim[1]; ++b)
      for (int64_t c = 0; c < out_dim[2]; ++c) {
        const float* base = px + a * src_stride[0] + b * src_stride[1] + c * src_stride[2];
        float* dst = po + ((a * out_dim[1] + b) * out_dim[2] + c) * out_dim[3];
        for (int64_t e = 0; e < out_dim[3]; ++e) dst[e] = base[e * src_stride[3]];
      }
  std::vector<int64_t> inverse(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) inverse[static_cast<size_t>(norm_dim(dims[static_cast<size_t>(i)], n, "permute", x.shape()))] = i;
  return record(out, {x}, "permute", [inverse](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = permute(g, inverse);
  });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
  std::swap(dims[static_cast<size_t>(norm_dim(d0, x.dim(), "transpose", x.shape()))],
            dims[static_cast<size_t>(norm_dim(d1, x.dim(), "transpose", x.shape()))]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  dim = norm_dim(dim, x.dim(), "slice", x.shape());
  // Plain variables, not a structured binding: clang 14 (the fuzz build) cannot use those in
  // an OpenMP region.
  const std::array<int64_t, 3> omi = split_at(x.shape(), dim);
  const int64_t outer = omi[0], mid = omi[1], inner = omi[2];
  if (start < 0 || end > mid || start > end)
    shape_error("slice", "range [" + std::to_string(start) + ", " + std::to_string(end) + ") out of range on dim " + std::to_string(dim), x.shape());
  Shape os = x.shape();
  os[static_cast<size_t>(dim)] = end - start;
  Tensor out = Tensor::empty(os);
  const int64_t len = (end - start) * inner;
#pragma omp parallel for if (out.numel() > kernels::kParallelMin)
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(out.data() + o * len, x.data() + (o * mid + start) * inner, static_cast<size_t>(len) * sizeof(float));
  const Shape in_shape = x.shape();
  const int64_t o_ = outer, m_ = mid, i_ = inner;
  return record(out, {x}, "slice", [in_shape, o_, m_, i_, start, len](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    Tensor gx = Tensor::empty(in_shape);
    const int64_t row = m_ * i_, before = start * i_;   // zeros around the copied gradient
#pragma omp parallel for if (gx.numel() > kernels::kParallelMin)
    for (int64_t o = 0; o < o_; ++o) {
      float* r = gx.data() + o * row;
      std::memset(r, 0, static_cast<size_t>(before) * sizeof(float));
      std::memcpy(r + before, g.data() + o * len, static_cast<size_t>(len) * sizeof(float));
      std::memset(r + before + len, 0, static_cast<size_t>(row - before - len) * sizeof(float));
    }
    gin[0] = gx;
  });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("concat: needs at least one tensor");
  dim = norm_dim(dim, xs[0].dim(), "concat", xs[0].shape());
  Shape os = xs[0].shape();
  os[static_cast<size_t>(dim)] = 0;
  for (const auto& t : xs) {
    Shape a = t.shape(), b = xs[0].shape();
    if (a.size() != b.size()) shape_error("concat", "ranks differ", b, a);
    a[static_cast<size_t>(dim)] = b[static_cast<size_t>(dim)] = 0;
    if (a != b) shape_error("concat", "shapes differ outside the concatenated dimension", xs[0].shape(), t.shape());
    os[static_cast<size_t>(dim)] += t.size(dim);
  }
  Tensor out = Tensor::empty(os);
  const std::array<int64_t, 3> oti = split_at(os, dim);   // not a binding: see slice
  const int64_t outer = oti[0], total = oti[1], inner = oti[2];
  std::vector<int64_t> widths;
  std::vector<int64_t> offsets;
  int64_t off = 0;
  for (const auto& t : xs) {
    offsets.push_back(off);
    off += t.size(dim) * inner;
    widths.push_back(t.size(dim));
  }
#pragma omp parallel for if (out.numel() > kernels::kParallelMin)
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < xs.size(); ++i) {
      const int64_t w = widths[i] * inner;
      std::memcpy(out.data() + o * total * inner + offsets[i], xs[i].data() + o * w, static_cast<size_t>(w) * sizeof(float));
    }
  const int64_t d = dim;
  return record(out, xs, "concat", [widths, d](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    NoGradGuard ng;
    int64_t start = 0;
    for (size_t i = 0; i < widths.size(); ++i) {
      if (need[i]) gin[i] = slice(g, d, start, start + widths[i]);
      start += widths[i];
    }
  });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (broadcast_shapes(x.shape(), shape, "broadcast_to") != shape) shape_error("broadcast_to", "cannot broadcast", x.shape(), shape);
  return add(x, Tensor::zeros(shape));
}

}  // namespace ds
