#include "ch04/routed_experts.hpp"

#include <cmath>
#include <memory>

#include "common/autograd.hpp"
#include "common/kernels.hpp"

namespace ds::ch04 {

using kernels::MatR;
using kernels::mat;

namespace {
// Eigen's packet exp: 16 lanes at a time instead of one expf call per element.
MatR sigmoid(const MatR& g) { return ((-g.array()).exp() + 1.f).inverse().matrix(); }

// What the backward needs of one expert: its inputs and pre-activations.
struct ExpertActs {
  MatR x, g, u;   // [m, C], [m, W], [m, W]
};

MatR gather(const float* src, int64_t cols, const std::vector<int32_t>& slots, int64_t k) {
  MatR m(static_cast<int64_t>(slots.size()), cols);
  for (size_t r = 0; r < slots.size(); ++r) m.row(static_cast<int64_t>(r)) = mat(src + (slots[r] / k) * cols, 1, cols);
  return m;
}

MatR silu_mul(const MatR& g, const MatR& u) { return (g.array() * sigmoid(g).array() * u.array()).matrix(); }
}  // namespace

Tensor routed_experts(const Tensor& x, const Tensor& slot_weights, int64_t k, const std::vector<std::vector<int32_t>>& slots,
                      const ExpertWeights& w) {
  const int64_t n = x.size(0), c = x.size(1), e = static_cast<int64_t>(slots.size());
  const Tensor xd = x.detach();
  auto acts = std::make_shared<std::vector<ExpertActs>>(static_cast<size_t>(e));
  Tensor y_slot = Tensor::zeros({n * k, c});   // each served slot's expert output, before weighting
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t j = 0; j < e; ++j) {
    const auto& s = slots[static_cast<size_t>(j)];
    if (s.empty()) continue;
    ExpertActs& a = (*acts)[static_cast<size_t>(j)];
    a.x = gather(xd.data(), c, s, k);
    a.g = a.x * mat(w.gate_proj[static_cast<size_t>(j)]).transpose();
    a.u = a.x * mat(w.up_proj[static_cast<size_t>(j)]).transpose();
    const MatR y = silu_mul(a.g, a.u) * mat(w.down_proj[static_cast<size_t>(j)]).transpose();
    for (size_t r = 0; r < s.size(); ++r) mat(y_slot.data() + s[r] * c, 1, c) = y.row(static_cast<int64_t>(r));
  }
  Tensor out = Tensor::uninitialized({n, c});   // every row is set below
  const float* pw = slot_weights.data();
#pragma omp parallel for if (n * c > kernels::kParallelMin)
  for (int64_t t = 0; t < n; ++t) {
    auto o = mat(out.data() + t * c, 1, c);
    o.setZero();
    for (int64_t q = t * k; q < (t + 1) * k; ++q) o += pw[q] * mat(y_slot.data() + q * c, 1, c);
  }

  std::vector<Tensor> inputs = {x, slot_weights};
  for (const auto* list : {&w.gate_proj, &w.up_proj, &w.down_proj}) inputs.insert(inputs.end(), list->begin(), list->end());
  const Tensor wd = slot_weights.detach();
  const ExpertWeights wt = w;
  return record(out, inputs, "routed_experts", [=](const Tensor& gout, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    // dL/dg[slot] = <dout[t], y[slot]>; each expert sees dY[slot] = g[slot] dout[t].
    Tensor dw = Tensor::zeros({n * k});
    for (int64_t q = 0; q < n * k; ++q) dw.data()[q] = kernels::CVecMap(gout.data() + (q / k) * c, c).dot(kernels::CVecMap(y_slot.data() + q * c, c));
    Tensor dx_slot = Tensor::zeros({n * k, c});
    for (int64_t j = 0; j < e; ++j)
      for (int64_t p = 0; p < 3; ++p) {
        const Tensor& wj = (p == 0 ? wt.gate_proj : p == 1 ? wt.up_proj : wt.down_proj)[static_cast<size_t>(j)];
        if (need[static_cast<size_t>(2 + p * e + j)]) gin[static_cast<size_t>(2 + p * e + j)] = Tensor::zeros(wj.shape());
      }
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t j = 0; j < e; ++j) {
      const auto& s = slots[static_cast<size_t>(j)];
      if (s.empty()) continue;
      const ExpertActs& a = (*acts)[static_cast<size_t>(j)];
      MatR dy(static_cast<int64_t>(s.size()), c);
      for (size_t r = 0; r < s.size(); ++r) dy.row(static_cast<int64_t>(r)) = wd.data()[s[r]] * mat(gout.data() + (s[r] / k) * c, 1, c);
      const auto gi = [&](int64_t p) -> Tensor& { return gin[static_cast<size_t>(2 + p * e + j)]; };
      const MatR sg = sigmoid(a.g);
      if (need[static_cast<size_t>(2 + 2 * e + j)]) mat(gi(2)) = dy.transpose() * (a.g.array() * sg.array() * a.u.array()).matrix();
      const MatR dh = dy * mat(wt.down_proj[static_cast<size_t>(j)]);
      // h = silu(g) u: dh/du = silu(g), dh/dg = u s (1 + g (1 - s)) with s = sigmoid(g)
      const MatR du = dh.cwiseProduct(a.g.cwiseProduct(sg));
      const MatR dg = dh.cwiseProduct(a.u).cwiseProduct(sg.cwiseProduct((1.f + a.g.array() * (1.f - sg.array())).matrix()));
      if (need[static_cast<size_t>(2 + j)]) mat(gi(0)) = dg.transpose() * a.x;
      if (need[static_cast<size_t>(2 + e + j)]) mat(gi(1)) = du.transpose() * a.x;
      if (need[0]) {
        const MatR dxj = dg * mat(wt.gate_proj[static_cast<size_t>(j)]) + du * mat(wt.up_proj[static_cast<size_t>(j)]);
        for (size_t r = 0; r < s.size(); ++r) mat(dx_slot.data() + s[r] * c, 1, c) = dxj.row(static_cast<int64_t>(r));
      }
    }
    if (need[0]) {
      Tensor dx = Tensor::uninitialized({n, c});
#pragma omp parallel for if (n * c > kernels::kParallelMin)
      for (int64_t t = 0; t < n; ++t) {
        auto o = mat(dx.data() + t * c, 1, c);
        o.setZero();
        for (int64_t q = t * k; q < (t + 1) * k; ++q) o += mat(dx_slot.data() + q * c, 1, c);
      }
      gin[0] = dx;
    }
    if (need[1]) gin[1] = dw;
  });
}

}  // namespace ds::ch04
