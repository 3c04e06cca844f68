#include "ch05/fp8_linear.hpp"

#include <functional>

#include "common/autograd.hpp"
#include "common/dtype.hpp"
#include "common/gemm.hpp"
#include "common/ops.hpp"

namespace ds::ch05 {

namespace {
// Rounds one GEMM operand to the narrow format; `inner` is how the operand's scales must be
// grouped so that they run along that GEMM's inner dimension.
using OperandRounding = std::function<Tensor(const Tensor& operand, Granularity inner)>;

// y = x W^T with every operand of the three GEMMs rounded by q, and the straight-through
// gradient: the backward GEMMs use the rounded operands as if the rounding were the identity.
Tensor rounded_linear(const Tensor& x, const Tensor& w, const OperandRounding& q, const char* name) {
  const int64_t in = w.size(1), rows = x.numel() / in;
  const Tensor xq = q(reshape(x.detach(), {rows, in}), Granularity::Tile1x128);
  const Tensor wq = q(w.detach(), Granularity::Block128x128);
  Tensor out;
  {
    NoGradGuard ng;
    out = linear(xq, wq);   // Fprop, accumulated in float32
  }
  Shape os = x.shape();
  os.back() = w.size(0);
  out = reshape(out, os).detach();
  const Shape xs = x.shape();
  return record(out, {x, w}, name, [xq, wq, q, rows, xs](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    NoGradGuard ng;
    const Tensor dy = reshape(g, {rows, g.size(-1)});
    if (need[0]) gin[0] = reshape(matmul(q(dy, Granularity::Tile1x128), wq), xs);   // Dgrad: dy W, inner dim = out
    if (need[1]) {   // Wgrad: dy^T x, inner dim = tokens, so both operands in 128x1 tiles (the stored xq re-quantised)
      const Tensor dyq = q(dy, Granularity::Tile128x1), xq2 = q(xq, Granularity::Tile128x1);
      const int64_t out_f = dyq.size(1), in_f = xq2.size(1);
      gin[1] = Tensor::empty({out_f, in_f});   // read dy^T in place, as linear's Wgrad does, instead of copying a transpose
      gemm(true, false, out_f, in_f, rows, 1.f, dyq.data(), out_f, xq2.data(), in_f, 0.f, gin[1].data(), in_f);
    }
  });
}

Tensor round_to_bf16(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape());
  const float* p = t.data();
  float* o = out.data();
#pragma omp parallel for if (t.numel() > (1 << 16))
  for (int64_t i = 0; i < t.numel(); ++i) o[i] = ds::round_to_bf16(p[i]);
  return out;
}
}  // namespace

Tensor fp8_linear(const Tensor& x, const Tensor& w, const Fp8LinearConfig& cfg) {
  return rounded_linear(
      x, w,
      [cfg](const Tensor& t, Granularity inner) {
        if (!cfg.quantize) return t;
        return fake_quantize(t, cfg.fine_grained ? inner : Granularity::PerTensor, cfg.format);
      },
      "fp8_linear");
}

Tensor bf16_linear(const Tensor& x, const Tensor& w) {
  return rounded_linear(x, w, [](const Tensor& t, Granularity) { return round_to_bf16(t); }, "bf16_linear");
}

Fp8Autocast::Fp8Autocast(const Fp8LinearConfig& cfg)
    : override_([cfg](const Tensor& x, const Tensor& w) { return fp8_linear(x, w, cfg); }) {}

}  // namespace ds::ch05
