#include "ch05/fp8_linear.hpp"

#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch05 {

Tensor fp8_linear(const Tensor& x, const Tensor& w, const Fp8LinearConfig& cfg) {
  const int64_t in = w.size(1), rows = x.numel() / in;
  const Granularity act = cfg.fine_grained ? Granularity::Tile1x128 : Granularity::PerTensor;
  const Granularity wgt = cfg.fine_grained ? Granularity::Block128x128 : Granularity::PerTensor;
  const Tensor xq = fake_quantize(reshape(x.detach(), {rows, in}), act, cfg.format);
  const Tensor wq = fake_quantize(w.detach(), wgt, cfg.format);
  Tensor out;
  {
    NoGradGuard ng;
    out = linear(xq, wq);   // the FP8 GEMM, accumulated in float32
  }
  Shape os = x.shape();
  os.back() = w.size(0);
  out = reshape(out, os).detach();
  const Shape xs = x.shape();
  return record(out, {x, w}, "fp8_linear", [xq, wq, act, cfg, rows, xs](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    NoGradGuard ng;
    const Tensor gq = fake_quantize(reshape(g, {rows, g.size(-1)}), act, cfg.format);   // the output gradient, per 1x128 tile
    if (need[0]) gin[0] = reshape(matmul(gq, wq), xs);                                  // dgrad: dy W
    if (need[1]) gin[1] = matmul(transpose(gq, 0, 1), xq);                              // wgrad: dy^T x
  });
}

Fp8Autocast::Fp8Autocast(const Fp8LinearConfig& cfg) : override_([cfg](const Tensor& x, const Tensor& w) { return fp8_linear(x, w, cfg); }) {}

}  // namespace ds::ch05
