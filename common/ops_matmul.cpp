// Matrix products through ds::gemm (common/gemm.hpp). Batched products run one GEMM per batch
// entry on its own thread (small GEMMs lose to threading overhead); a single large GEMM is split
// over the threads by ds::gemm.
#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

namespace {
struct MatmulDims {
  int64_t batch, m, k, n;
  bool b_shared;   // b is [K, N], shared by every batch entry
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b) {
  if (a.dim() < 2 || b.dim() < 2) shape_error("matmul", "both operands need at least 2 dimensions", a.shape(), b.shape());
  MatmulDims d{};
  d.m = a.size(-2);
  d.k = a.size(-1);
  d.n = b.size(-1);
  d.batch = a.numel() / std::max<int64_t>(d.m * d.k, 1);
  d.b_shared = b.dim() == 2;
  if (b.size(-2) != d.k) shape_error("matmul", "inner dimensions differ", a.shape(), b.shape());
  if (!d.b_shared) {
    const Shape lead_a(a.shape().begin(), a.shape().end() - 2), lead_b(b.shape().begin(), b.shape().end() - 2);
    if (lead_a != lead_b) shape_error("matmul", "batch dimensions differ", a.shape(), b.shape());
  }
  return d;
}

// c[i] (+)= op(a[i]) * op(b[i]) for each batch entry, parallel over the batch.
template <class F>
void for_batch(int64_t batch, F f) {
  if (batch == 1) { f(0); return; }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < batch; ++i) f(i);
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const MatmulDims d = matmul_dims(a, b);
  if (d.b_shared) {   // [..., M, K] x [K, N] is one big GEMM over all rows
    Shape os = a.shape();
    os.back() = d.n;
    Tensor out = Tensor::empty(os);
    gemm(mat(out.data(), d.batch * d.m, d.n), mat(a.data(), d.batch * d.m, d.k), false, mat(b.data(), d.k, d.n), false);
    const Tensor ad = a.detach(), bd = b.detach();
    return record(out, {a, b}, "matmul", [ad, bd, d](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
      const int64_t rows = d.batch * d.m;
      if (need[0]) {
        gin[0] = Tensor::empty(ad.shape());
        gemm(mat(gin[0].data(), rows, d.k), mat(g.data(), rows, d.n), false, mat(bd.data(), d.k, d.n), true);
      }
      if (need[1]) {
        gin[1] = Tensor::empty(bd.shape());
        gemm(mat(gin[1].data(), d.k, d.n), mat(ad.data(), rows, d.k), true, mat(g.data(), rows, d.n), false);
      }
    });
  }
  Shape os = a.shape();
  os.back() = d.n;
  Tensor out = Tensor::empty(os);   // every batch block is written
  const float *pa = a.data(), *pb = b.data();
  float* po = out.data();
  for_batch(d.batch, [&](int64_t i) {
    gemm(mat(po + i * d.m * d.n, d.m, d.n), mat(pa + i * d.m * d.k, d.m, d.k), false, mat(pb + i * d.k * d.n, d.k, d.n), false);
  });
  const Tensor ad = a.detach(), bd = b.detach();
  return record(out, {a, b}, "matmul", [ad, bd, d](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (need[0]) gin[0] = Tensor::empty(ad.shape());
    if (need[1]) gin[1] = Tensor::empty(bd.shape());
    const float *pa = ad.data(), *pb = bd.data(), *pg = g.data();
    float* ga = need[0] ? gin[0].data() : nullptr;
    float* gb = need[1] ? gin[1].data() : nullptr;
    for_batch(d.batch, [&](int64_t i) {
      const auto G = mat(pg + i * d.m * d.n, d.m, d.n);
      if (ga) gemm(mat(ga + i * d.m * d.k, d.m, d.k), G, false, mat(pb + i * d.k * d.n, d.k, d.n), true);
      if (gb) gemm(mat(gb + i * d.k * d.n, d.k, d.n), mat(pa + i * d.m * d.k, d.m, d.k), true, G, false);
    });
  });
}

Tensor linear(const Tensor& x, const Tensor& weight) {
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    shape_error("linear", "x must be [..., in] and weight [out, in]", x.shape(), weight.shape());
  const int64_t in = weight.size(1), outf = weight.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  Shape os = x.shape();
  os.back() = outf;
  Tensor out = Tensor::empty(os);
  gemm(mat(out.data(), rows, outf), mat(x.data(), rows, in), false, mat(weight.data(), outf, in), true);   // x W^T
  const Tensor xd = x.detach(), wd = weight.detach();
  // The two halves of this backward are the B and W of a zero-bubble pipeline (ch06).
  return record(out, {x, weight}, "linear", [xd, wd, rows, in, outf](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    const auto G = mat(g.data(), rows, outf);
    if (need[0]) {
      gin[0] = Tensor::empty(xd.shape());
      gemm(mat(gin[0].data(), rows, in), G, false, mat(wd.data(), outf, in), false);   // dx = g W
    }
    if (need[1]) {
      gin[1] = Tensor::empty(wd.shape());
      gemm(mat(gin[1].data(), outf, in), G, true, mat(xd.data(), rows, in), false);   // dW = g^T x
    }
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (bias.dim() != 1 || bias.size(0) != weight.size(0)) shape_error("linear", "bias must be [out]", bias.shape(), weight.shape());
  return add(linear(x, weight), bias);
}

}  // namespace ds
