// Indexing ops: embedding lookup, row gather / scatter-add (MoE dispatch and combine),
// top-k and gathering one entry per row (log-probs of chosen tokens).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

namespace {
void check_rows(const IntTensor& idx, int64_t n, const char* op) {
  for (int32_t i : idx.data)
    if (i < 0 || i >= n)
      throw std::invalid_argument(std::string(op) + ": index " + std::to_string(i) + " is outside [0, " + std::to_string(n) + ")");
}

// out[idx[m]] += src[m] for all m. Threads own column ranges, so the sum order is fixed.
void scatter_add_into(float* out, const float* src, const IntTensor& idx, int64_t c) {
  const int64_t m = idx.numel();
  const int nblk = (m * c > kParallelMin && c >= 64) ? 8 : 1;
#pragma omp parallel for if (nblk > 1)
  for (int blk = 0; blk < nblk; ++blk) {
    const int64_t c0 = c * blk / nblk, c1 = c * (blk + 1) / nblk;
    for (int64_t r = 0; r < m; ++r) {
      float* o = out + idx[r] * c;
      const float* s = src + r * c;
      for (int64_t j = c0; j < c1; ++j) o[j] += s[j];
    }
  }
}

void gather_into(float* out, const float* src, const IntTensor& idx, int64_t c) {
  const int64_t m = idx.numel();
#pragma omp parallel for if (m * c > kParallelMin)
  for (int64_t r = 0; r < m; ++r) std::memcpy(out + r * c, src + idx[r] * c, static_cast<size_t>(c) * sizeof(float));
}
}  // namespace

Tensor embedding(const Tensor& weight, const IntTensor& ids) {
  if (weight.dim() != 2) shape_error("embedding", "weight must be [V, C]", weight.shape());
  check_rows(ids, weight.size(0), "embedding");
  const int64_t c = weight.size(1);
  Shape os = ids.shape;
  os.push_back(c);
  Tensor out = Tensor::zeros(os);
  gather_into(out.data(), weight.data(), ids, c);
  const Shape ws = weight.shape();
  return record(out, {weight}, "embedding", [ws, ids, c](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(ws);
    scatter_add_into(gin[0].data(), g.data(), ids, c);
  });
}

Tensor gather_rows(const Tensor& x, const IntTensor& idx) {
  if (x.dim() != 2) shape_error("gather_rows", "x must be [N, C]", x.shape());
  check_rows(idx, x.size(0), "gather_rows");
  const int64_t c = x.size(1);
  Tensor out = Tensor::zeros({idx.numel(), c});
  gather_into(out.data(), x.data(), idx, c);
  const Shape xs = x.shape();
  return record(out, {x}, "gather_rows", [xs, idx, c](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(xs);
    scatter_add_into(gin[0].data(), g.data(), idx, c);
  });
}

Tensor scatter_add_rows(const Tensor& src, const IntTensor& idx, int64_t n_rows) {
  if (src.dim() != 2 || src.size(0) != idx.numel()) shape_error("scatter_add_rows", "src must be [M, C] with M indices", src.shape(), idx.shape);
  check_rows(idx, n_rows, "scatter_add_rows");
  const int64_t c = src.size(1);
  Tensor out = Tensor::zeros({n_rows, c});
  scatter_add_into(out.data(), src.data(), idx, c);
  return record(out, {src}, "scatter_add_rows", [idx, c](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros({idx.numel(), c});
    gather_into(gin[0].data(), g.data(), idx, c);
  });
}

TopK topk(const Tensor& x, int64_t k) {
  const int64_t rows = outer(x), e = last_dim(x);
  if (k < 1 || k > e) shape_error("topk", "k=" + std::to_string(k) + " must be in [1, last dim]", x.shape());
  Shape os = x.shape();
  os.back() = k;
  Tensor vals = Tensor::zeros(os);
  IntTensor idx(std::vector<int32_t>(static_cast<size_t>(rows * k)), os);
  const float* px = x.data();
  std::vector<int32_t> order(static_cast<size_t>(e));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = px + r * e;
    std::iota(order.begin(), order.end(), 0);
    // larger first; equal values keep the lower index first, so results are reproducible
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    for (int64_t j = 0; j < k; ++j) {
      idx.data[static_cast<size_t>(r * k + j)] = order[static_cast<size_t>(j)];
      vals.data()[r * k + j] = row[order[static_cast<size_t>(j)]];
    }
  }
  const Shape xs = x.shape();
  Tensor v = record(vals, {x}, "topk", [xs, idx, rows, k, e](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(xs);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) gin[0].data()[r * e + idx[r * k + j]] += g.data()[r * k + j];
  });
  return {v, idx};
}

Tensor gather_last(const Tensor& x, const IntTensor& idx) {
  const int64_t rows = outer(x), v = last_dim(x);
  if (idx.numel() != rows) shape_error("gather_last", "needs one index per row", x.shape(), idx.shape);
  check_rows(idx, v, "gather_last");
  Tensor out = Tensor::zeros(Shape(x.shape().begin(), x.shape().end() - 1));
  for (int64_t r = 0; r < rows; ++r) out.data()[r] = x.data()[r * v + idx[r]];
  const Shape xs = x.shape();
  return record(out, {x}, "gather_last", [xs, idx, rows, v](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
    gin[0] = Tensor::zeros(xs);
    for (int64_t r = 0; r < rows; ++r) gin[0].data()[r * v + idx[r]] = g.data()[r];
  });
}

}  // namespace ds
