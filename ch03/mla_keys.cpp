#include "ch03/mla_keys.hpp"

#include <algorithm>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds::ch03 {

Tensor mla_keys(const Tensor& kvb, const Tensor& k_pe, int64_t nope) {
  if (kvb.dim() != 4 || k_pe.dim() != 3 || k_pe.size(0) != kvb.size(0) || k_pe.size(1) != kvb.size(1) || nope < 0 || nope > kvb.size(3))
    shape_error("mla_keys", "kvb must be [B, T, H, nope + dv] and k_pe [B, T, r] with nope at most nope + dv", kvb.shape(), k_pe.shape());
  const int64_t tokens = kvb.size(0) * kvb.size(1), h = kvb.size(2), w = kvb.size(3), r = k_pe.size(2), d = nope + r;
  Tensor k = Tensor::empty({kvb.size(0), kvb.size(1), h, d});
  const float *pkv = kvb.data(), *ppe = k_pe.data();
  float* pk = k.data();
#pragma omp parallel for if (k.numel() > kernels::kParallelMin)
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < h; ++i) {
      float* row = pk + (t * h + i) * d;
      std::copy_n(pkv + (t * h + i) * w, nope, row);
      std::copy_n(ppe + t * r, r, row + nope);
    }
  return record(k, {kvb, k_pe}, "mla_keys", [tokens, h, w, r, d, nope](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    const float* pg = g.data();
    Tensor dkvb = need[0] ? Tensor::empty({g.size(0), g.size(1), h, w}) : Tensor();
    Tensor dpe = need[1] ? Tensor::empty({g.size(0), g.size(1), r}) : Tensor();
#pragma omp parallel for if (g.numel() > kernels::kParallelMin)
    for (int64_t t = 0; t < tokens; ++t) {
      if (need[0])
        for (int64_t i = 0; i < h; ++i) {
          float* row = dkvb.data() + (t * h + i) * w;
          std::copy_n(pg + (t * h + i) * d, nope, row);
          std::fill(row + nope, row + w, 0.f);   // v^C's columns: their gradient comes from v's slice
        }
      if (need[1]) {
        auto sum = kernels::VecMap(dpe.data() + t * r, r);
        sum.setZero();
        for (int64_t i = 0; i < h; ++i) sum += kernels::CVecMap(pg + (t * h + i) * d + nope, r);   // every head read k^R
      }
    }
    if (need[0]) gin[0] = dkvb;
    if (need[1]) gin[1] = dpe;
  });
}

}  // namespace ds::ch03
