#include "ch04/routed_experts.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/nn.hpp"
#include "common/ops.hpp"

namespace ds::ch04 {

using kernels::MatR;
using kernels::mat;

namespace {
// What the backward needs of one expert: its inputs and the gate and up pre-activations side
// by side, [G | U], so the elementwise SwiGLU backward fills [dG | dU] in one pass.
struct ExpertActs {
  MatR x, gu;   // [m, C], [m, 2W]
};

// What the backward computes of one expert on the way to dx and the weight gradients: dY, its
// rows of g * dout, and [dG | dU]. Tensors, so a split backward's kept copies come from (and go
// back to) the caching allocator and show in the memory accounting.
struct ExpertGrads {
  Tensor dy, dgu;   // [m, C], [m, 2W]
};

MatR gather(const float* src, int64_t cols, const std::vector<int32_t>& slots, int64_t k) {
  MatR m(static_cast<int64_t>(slots.size()), cols);
  for (size_t r = 0; r < slots.size(); ++r) m.row(static_cast<int64_t>(r)) = mat(src + (slots[r] / k) * cols, 1, cols);
  return m;
}

// Experts by decreasing load: handed out in this order, the big ones start first and the
// small ones fill the gaps, so both threads finish at about the same time.
std::vector<int64_t> busiest_first(const std::vector<std::vector<int32_t>>& slots) {
  std::vector<int64_t> order(slots.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = static_cast<int64_t>(j);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return slots[static_cast<size_t>(a)].size() > slots[static_cast<size_t>(b)].size(); });
  return order;
}

// h = silu(g) * u from [G | U].
MatR silu_mul(const MatR& gu) {
  const int64_t wd = gu.cols() / 2;
  const auto g = gu.leftCols(wd).array();
  return (g * kernels::sigmoid_packet(g) * gu.rightCols(wd).array()).matrix();
}
}  // namespace

Tensor routed_experts(const Tensor& x, const Tensor& slot_weights, int64_t k, const std::vector<std::vector<int32_t>>& slots,
                      const ExpertWeights& w) {
  const int64_t n = x.size(0), c = x.size(1), e = static_cast<int64_t>(slots.size());
  const Tensor xd = x.detach();
  auto acts = std::make_shared<std::vector<ExpertActs>>(static_cast<size_t>(e));
  size_t served = 0;
  for (const auto& s : slots) served += s.size();
  const bool all_served = served == static_cast<size_t>(n * k);   // else capacity dropped slots, whose rows stay 0
  const auto slot_rows = [n, k, c, all_served] { return all_served ? Tensor::empty({n * k, c}) : Tensor::zeros({n * k, c}); };
  Tensor y_slot = slot_rows();   // each served slot's expert output, before weighting
  const std::vector<int64_t> order = busiest_first(slots);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t jj = 0; jj < e; ++jj) {
    const int64_t j = order[static_cast<size_t>(jj)];
    const auto& s = slots[static_cast<size_t>(j)];
    if (s.empty()) continue;
    ExpertActs& a = (*acts)[static_cast<size_t>(j)];
    a.x = gather(xd.data(), c, s, k);
    const int64_t wdim = w.gate_proj[static_cast<size_t>(j)].size(0);
    a.gu.resize(a.x.rows(), 2 * wdim);
    kernels::gemm(a.gu.leftCols(wdim), a.x, false, mat(w.gate_proj[static_cast<size_t>(j)]), true);
    kernels::gemm(a.gu.rightCols(wdim), a.x, false, mat(w.up_proj[static_cast<size_t>(j)]), true);
    MatR y(a.x.rows(), c);
    kernels::gemm(y, silu_mul(a.gu), false, mat(w.down_proj[static_cast<size_t>(j)]), true);
    for (size_t r = 0; r < s.size(); ++r) mat(y_slot.data() + s[r] * c, 1, c) = y.row(static_cast<int64_t>(r));
  }
  Tensor out = Tensor::empty({n, c});   // every row is set below
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
  // A split backward (ZB1P, DualPipe) asks for the input gradients first (B) and the weight
  // gradients later (W). B computes every expert's dY and [dG | dU] on the way to dx; it keeps
  // them here, so that W is only the three weight GEMMs per expert.
  auto kept = std::make_shared<std::vector<ExpertGrads>>();
  return record(out, inputs, "routed_experts", [=](const Tensor& gout, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    const auto weight = [&](int64_t p, int64_t j) -> const Tensor& {   // p: 0 gate, 1 up, 2 down
      return (p == 0 ? wt.gate_proj : p == 1 ? wt.up_proj : wt.down_proj)[static_cast<size_t>(j)];
    };
    const auto grad_of = [&](int64_t p, int64_t j) -> Tensor* {
      const size_t i = static_cast<size_t>(2 + p * e + j);
      return need[i] ? &gin[i] : nullptr;
    };
    bool weights_later = false;   // this is B: weight gradients are owed and will be asked for
    for (int64_t j = 0; j < e; ++j)
      for (int64_t p = 0; p < 3; ++p) {
        if (Tensor* gw = grad_of(p, j)) *gw = slots[static_cast<size_t>(j)].empty() ? Tensor::zeros(weight(p, j).shape()) : Tensor::empty(weight(p, j).shape());
        else weights_later |= weight(p, j).requires_grad();
      }
    weights_later &= need[0] || need[1];
    const bool use_kept = !kept->empty();
    if (weights_later) kept->assign(static_cast<size_t>(e), {});
    // dL/dg[slot] = <dout[t], y[slot]>; each expert sees dY[slot] = g[slot] dout[t].
    if (need[1]) {
      Tensor dw = Tensor::empty({n * k});
#pragma omp parallel for if (n * k * c > kernels::kParallelMin)
      for (int64_t q = 0; q < n * k; ++q) dw.data()[q] = kernels::CVecMap(gout.data() + (q / k) * c, c).dot(kernels::CVecMap(y_slot.data() + q * c, c));
      gin[1] = dw;
    }
    Tensor dx_slot = need[0] ? slot_rows() : Tensor();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t jj = 0; jj < e; ++jj) {
      const int64_t j = order[static_cast<size_t>(jj)];
      const auto& s = slots[static_cast<size_t>(j)];
      if (s.empty()) continue;
      const ExpertActs& a = (*acts)[static_cast<size_t>(j)];
      const int64_t m = static_cast<int64_t>(s.size()), wdim = a.gu.cols() / 2;
      const auto g = a.gu.leftCols(wdim).array(), u = a.gu.rightCols(wdim).array();
      const auto sg = kernels::sigmoid_packet(g);
      ExpertGrads d = use_kept ? std::move((*kept)[static_cast<size_t>(j)]) : ExpertGrads{};
      if (!use_kept) {
        d.dy = Tensor::empty({m, c});
        auto dy = mat(d.dy);
        for (int64_t r = 0; r < m; ++r) dy.row(r) = wd.data()[s[static_cast<size_t>(r)]] * mat(gout.data() + (s[static_cast<size_t>(r)] / k) * c, 1, c);
        MatR dh(m, wdim);
        kernels::gemm(dh, dy, false, mat(wt.down_proj[static_cast<size_t>(j)]), false);
        // h = silu(g) u: dh/du = silu(g), dh/dg = u s (1 + g (1 - s)) with s = sigmoid(g)
        d.dgu = Tensor::empty({m, 2 * wdim});
        auto dgu = mat(d.dgu);
        dgu.leftCols(wdim) = (dh.array() * u * sg * (1.f + g * (1.f - sg))).matrix();
        dgu.rightCols(wdim) = (dh.array() * g * sg).matrix();
      }
      const auto dy = mat(d.dy), dgu = mat(d.dgu);
      if (Tensor* gd = grad_of(2, j)) kernels::gemm(mat(*gd), dy, true, MatR((g * sg * u).matrix()), false);
      if (Tensor* gg = grad_of(0, j)) kernels::gemm(mat(*gg), dgu.leftCols(wdim), true, a.x, false);
      if (Tensor* gu = grad_of(1, j)) kernels::gemm(mat(*gu), dgu.rightCols(wdim), true, a.x, false);
      if (need[0]) {
        MatR dxj(m, c);
        kernels::gemm(dxj, dgu.leftCols(wdim), false, mat(wt.gate_proj[static_cast<size_t>(j)]), false);
        kernels::gemm(dxj, dgu.rightCols(wdim), false, mat(wt.up_proj[static_cast<size_t>(j)]), false, 1.f, 1.f);
        for (int64_t r = 0; r < m; ++r) mat(dx_slot.data() + s[static_cast<size_t>(r)] * c, 1, c) = dxj.row(r);
      }
      if (weights_later) (*kept)[static_cast<size_t>(j)] = std::move(d);
    }
    if (use_kept) kept->clear();
    if (need[0]) {
      Tensor dx = Tensor::empty({n, c});
#pragma omp parallel for if (n * c > kernels::kParallelMin)
      for (int64_t t = 0; t < n; ++t) {
        auto o = mat(dx.data() + t * c, 1, c);
        o.setZero();
        for (int64_t q = t * k; q < (t + 1) * k; ++q) o += mat(dx_slot.data() + q * c, 1, c);
      }
      gin[0] = dx;
    }
  });
}

Tensor routed_experts_reference(const Tensor& x, const Tensor& slot_weights, int64_t k, const std::vector<std::vector<int32_t>>& slots,
                                const ExpertWeights& w) {
  const int64_t n = x.size(0), c = x.size(1);
  const Tensor g = reshape(slot_weights, {n * k, 1});
  Tensor out = Tensor::zeros({n, c});
  for (size_t j = 0; j < slots.size(); ++j) {
    if (slots[j].empty()) continue;
    std::vector<int32_t> tokens;
    for (int32_t q : slots[j]) tokens.push_back(static_cast<int32_t>(q / k));
    const IntTensor token_ids(tokens, {static_cast<int64_t>(tokens.size())});
    const IntTensor slot_ids(slots[j], {static_cast<int64_t>(slots[j].size())});
    const Tensor x_j = gather_rows(x, token_ids);                                                  // dispatch
    const Tensor h_j = mul(silu(override_linear(x_j, w.gate_proj[j])), override_linear(x_j, w.up_proj[j]));        // SwiGLU
    const Tensor y_j = mul(override_linear(h_j, w.down_proj[j]), gather_rows(g, slot_ids));                // g_{j,t} FFN_j(u_t)
    out = add(out, scatter_add_rows(y_j, token_ids, n));                                           // combine
  }
  return out;
}

}  // namespace ds::ch04
