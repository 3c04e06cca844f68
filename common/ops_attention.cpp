// Fused causal scaled-dot-product attention: softmax(scale * Q K^T + mask) V in one node.
// One (batch, head) pair per task: its GEMMs are small, so each runs on one thread and the
// pairs spread over the cores. K/V heads may be shared by groups of query heads (GQA, MQA).
#include <cmath>
#include <limits>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

namespace {
struct AttnDims {
  int64_t b, h, hkv, t, s, d, dv, q_offset;
  int64_t s_alloc;   // keys allocated per head (the row stride of k and v); s <= s_alloc are used
  float scale;
};

AttnDims attn_dims(const Tensor& q, const Tensor& k, const Tensor* v, const AttentionOptions& opt) {
  if (q.dim() != 4 || k.dim() != 4) shape_error("attention", "q and k must be [B, H, T, D]", q.shape(), k.shape());
  AttnDims a{q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), v ? v->size(3) : 0, 0, k.size(2), 0.f};
  if (opt.kv_len >= 0) {
    if (opt.kv_len > a.s_alloc) shape_error("attention", "kv_len " + std::to_string(opt.kv_len) + " exceeds the keys allocated", k.shape());
    a.s = opt.kv_len;
  }
  if (k.size(0) != a.b || k.size(3) != a.d) shape_error("attention", "k must be [B, Hkv, S, D] matching q", q.shape(), k.shape());
  if (a.hkv == 0 || a.h % a.hkv != 0) shape_error("attention", "query heads must be a multiple of key/value heads", q.shape(), k.shape());
  if (v && (v->dim() != 4 || v->size(0) != a.b || v->size(1) != a.hkv || v->size(2) != a.s_alloc))
    shape_error("attention", "v must be [B, Hkv, S, Dv] matching k", k.shape(), v->shape());
  a.q_offset = opt.q_offset >= 0 ? opt.q_offset : a.s - a.t;
  if (opt.causal && (a.q_offset < 0 || a.q_offset + a.t > a.s))
    shape_error("attention", "causal queries must end at or before the last key", q.shape(), k.shape());
  a.scale = opt.scale > 0.f ? opt.scale : 1.f / std::sqrt(static_cast<float>(a.d));
  if (opt.key_valid && (opt.key_valid->shape != Shape{a.b, a.s_alloc}))
    shape_error("attention", "key_valid must be [B, S]", opt.key_valid->shape, k.shape());
  return a;
}

// Causal attention in bands of query rows: band [r0, r0 + rows) sees only keys [0, visible),
// so every GEMM of the band skips the masked upper-right part of the score matrix (a causal
// square costs 5/8 of the full one with 4 bands of 32 rows). Padding masks use one full band.
constexpr int64_t kBandRows = 32;
struct Band {
  int64_t r0, rows, visible;
};
struct BandPlan {
  bool causal, banded;
  explicit BandPlan(const AttentionOptions& opt) : causal(opt.causal), banded(opt.causal && !opt.key_valid) {}
};
template <class F>
void for_each_band(const AttnDims& a, BandPlan plan, F f) {
  const int64_t step = plan.banded ? kBandRows : std::max<int64_t>(a.t, 1);
  for (int64_t r0 = 0; r0 < a.t; r0 += step) {
    const int64_t rows = std::min(step, a.t - r0);
    f(Band{r0, rows, plan.causal ? std::min(a.s, a.q_offset + r0 + rows) : a.s});
  }
}

// Writes the softmax weights of one (batch, head) into p [T, S]; masked entries get 0.
void attention_probs(const AttnDims& a, const AttentionOptions& opt, int64_t bi, const float* q, const float* k, float* p) {
  auto P = mat(p, a.t, a.s);
  const int32_t* valid = opt.key_valid ? opt.key_valid->data.data() + bi * a.s_alloc : nullptr;
  if (!valid) {   // the common case, vectorised: keys 0..last of row i are visible
    for_each_band(a, BandPlan(opt), [&](const Band& b) {
      P.block(b.r0, 0, b.rows, b.visible).noalias() =
          (mat(q + b.r0 * a.d, b.rows, a.d) * mat(k, b.visible, a.d).transpose()) * a.scale;
    });
    for (int64_t i = 0; i < a.t; ++i) {
      const int64_t n = opt.causal ? a.q_offset + i + 1 : a.s;
      auto row = P.row(i).head(n).array();
      row = (row - row.maxCoeff()).exp();
      row *= 1.f / row.sum();
      P.row(i).tail(a.s - n).setZero();
    }
    return;
  }
  P.noalias() = (mat(q, a.t, a.d) * mat(k, a.s, a.d).transpose()) * a.scale;
  for (int64_t i = 0; i < a.t; ++i) {
    const int64_t last = opt.causal ? a.q_offset + i : a.s - 1;   // keys 0..last are visible
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j <= last; ++j)
      if (!valid || valid[j]) m = std::max(m, P(i, j));
    double sum = 0;
    for (int64_t j = 0; j < a.s; ++j) {
      const bool on = j <= last && (!valid || valid[j]) && !std::isinf(m);
      P(i, j) = on ? std::exp(P(i, j) - m) : 0.f;
      sum += P(i, j);
    }
    if (sum > 0) P.row(i) *= static_cast<float>(1.0 / sum);   // a row with no visible key stays 0
  }
}

Tensor probs_all(const AttnDims& a, const AttentionOptions& opt, const Tensor& q, const Tensor& k) {
  Tensor p = Tensor::empty({a.b, a.h, a.t, a.s});
  const int64_t groups = a.h / a.hkv;
#pragma omp parallel for schedule(static) if (a.b * a.h > 1)
  for (int64_t bh = 0; bh < a.b * a.h; ++bh) {
    const int64_t bi = bh / a.h, hk = (bh % a.h) / groups;
    attention_probs(a, opt, bi, q.data() + bh * a.t * a.d, k.data() + (bi * a.hkv + hk) * a.s_alloc * a.d, p.data() + bh * a.t * a.s);
  }
  return p;
}
}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionOptions& opt) {
  return probs_all(attn_dims(q, k, nullptr, opt), opt, q, k);
}

namespace {
using StridedC = Eigen::Map<const MatR, 0, Eigen::OuterStride<>>;

// V of one (batch, kv head): rows of `dv` values, `ld` floats apart (ld > dv when V is the
// leading part of each K row, as in MLA's absorbed latent cache).
StridedC v_rows(const float* base, int64_t rows, int64_t dv, int64_t ld) { return StridedC(base, rows, dv, Eigen::OuterStride<>(ld)); }

// The shared body of both public attention ops. v_in_k: V is the first a.dv columns of K.
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const AttnDims& a, const AttentionOptions& opt, bool v_in_k) {
  const Tensor p = probs_all(a, opt, q, k);
  Tensor out = Tensor::empty({a.b, a.h, a.t, a.dv});
  const int64_t groups = a.h / a.hkv, v_ld = v_in_k ? a.d : a.dv;
  const float* vbase = v_in_k ? k.data() : v.data();
#pragma omp parallel for schedule(static) if (a.b * a.h > 1)
  for (int64_t bh = 0; bh < a.b * a.h; ++bh) {
    const int64_t bk = (bh / a.h) * a.hkv + (bh % a.h) / groups;
    const auto P = mat(p.data() + bh * a.t * a.s, a.t, a.s);
    const auto V = v_rows(vbase + bk * a.s_alloc * v_ld, a.s, a.dv, v_ld);
    auto O = mat(out.data() + bh * a.t * a.dv, a.t, a.dv);
    for_each_band(a, BandPlan(opt), [&](const Band& b) {
      O.middleRows(b.r0, b.rows).noalias() = P.block(b.r0, 0, b.rows, b.visible) * V.topRows(b.visible);
    });
  }
  const Tensor qd = q.detach(), kd = k.detach(), vd = v_in_k ? kd : v.detach();
  const std::vector<Tensor> inputs = v_in_k ? std::vector<Tensor>{q, k} : std::vector<Tensor>{q, k, v};
  const BandPlan bands(opt);
  return record(out, inputs, "attention", [a, p, qd, kd, vd, groups, v_ld, v_in_k, bands](const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    Tensor dq = Tensor::empty(qd.shape()), dk = Tensor::zeros(kd.shape()), dv = Tensor::zeros({a.b, a.hkv, a.s_alloc, a.dv});
    // One task per (batch, kv head): the query heads sharing it add into its dK, dV serially.
#pragma omp parallel for schedule(static) if (a.b * a.hkv > 1)
    for (int64_t bk = 0; bk < a.b * a.hkv; ++bk) {
      const auto K = mat(kd.data() + bk * a.s_alloc * a.d, a.s, a.d);
      const auto V = v_rows(vd.data() + bk * a.s_alloc * v_ld, a.s, a.dv, v_ld);
      auto dK = mat(dk.data() + bk * a.s_alloc * a.d, a.s, a.d);
      auto dV = mat(dv.data() + bk * a.s_alloc * a.dv, a.s, a.dv);
      MatR dS(a.t, a.s);
      for (int64_t gi = 0; gi < groups; ++gi) {
        const int64_t bh = (bk / a.hkv) * a.h + (bk % a.hkv) * groups + gi;
        const auto P = mat(p.data() + bh * a.t * a.s, a.t, a.s);
        const auto dO = mat(g.data() + bh * a.t * a.dv, a.t, a.dv);
        const auto Q = mat(qd.data() + bh * a.t * a.d, a.t, a.d);
        auto dQ = mat(dq.data() + bh * a.t * a.d, a.t, a.d);
        for_each_band(a, bands, [&](const Band& b) {
          const auto Pb = P.block(b.r0, 0, b.rows, b.visible);
          const auto dOb = dO.middleRows(b.r0, b.rows);
          auto dSb = dS.block(b.r0, 0, b.rows, b.visible);
          dV.topRows(b.visible).noalias() += Pb.transpose() * dOb;
          dSb.noalias() = dOb * V.topRows(b.visible).transpose();   // dP
          const Eigen::VectorXf rowdot = (dSb.array() * Pb.array()).rowwise().sum();
          dSb = (Pb.array() * (dSb.array().colwise() - rowdot.array())).matrix() * a.scale;
          dQ.middleRows(b.r0, b.rows).noalias() = dSb * K.topRows(b.visible);
          dK.topRows(b.visible).noalias() += dSb.transpose() * Q.middleRows(b.r0, b.rows);
        });
      }
      if (v_in_k) dK.leftCols(a.dv) += dV;   // V was K's leading columns: its gradient lands there too
    }
    if (need[0]) gin[0] = dq;
    if (need[1]) gin[1] = dk;
    if (!v_in_k && need[2]) gin[2] = dv;
  });
}
}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  return attend(q, k, v, attn_dims(q, k, &v, opt), opt, false);
}

Tensor latent_attention(const Tensor& q, const Tensor& kv, int64_t v_dim, const AttentionOptions& opt) {
  AttnDims a = attn_dims(q, kv, nullptr, opt);
  if (v_dim < 1 || v_dim > a.d) shape_error("latent_attention", "v_dim " + std::to_string(v_dim) + " must be in [1, key dim]", kv.shape());
  a.dv = v_dim;
  return attend(q, kv, Tensor(), a, opt, true);
}

}  // namespace ds
