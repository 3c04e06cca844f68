// Fused causal scaled-dot-product attention: softmax(scale * Q K^T + mask) V in one node.
// One (batch, head) pair per task: its GEMMs are small, so each runs on one thread and the
// pairs spread over the cores. K/V heads may be shared by groups of query heads (GQA, MQA).
// Its products stay float32 at every GEMM precision (gemm_float32): DeepSeek-V3 keeps attention
// out of its narrow format (sec. 3.3.1), and these bands are too small for oneDNN's per-call cost.
#include <cmath>
#include <limits>

#include "common/autograd.hpp"
#include "common/kernels.hpp"
#include "common/ops.hpp"

namespace ds {
using namespace kernels;

namespace {
using Strided = Eigen::Map<MatR, 0, Eigen::OuterStride<>>;
using StridedC = Eigen::Map<const MatR, 0, Eigen::OuterStride<>>;

// Where one head of a [B, H, L, W] tensor (or, seq_major, [B, L, H, W]) starts and how far
// apart its L rows are: the kernels below read every head through this, so neither layout is
// copied into the other.
struct HeadLayout {
  int64_t heads, len, width;
  bool seq_major;
  int64_t offset(int64_t bi, int64_t hi) const { return seq_major ? (bi * len * heads + hi) * width : (bi * heads + hi) * len * width; }
  int64_t ld() const { return seq_major ? heads * width : width; }
  StridedC rows(const float* base, int64_t bi, int64_t hi, int64_t n, int64_t cols) const {
    return StridedC(base + offset(bi, hi), n, cols, Eigen::OuterStride<>(ld()));
  }
  Strided rows(float* base, int64_t bi, int64_t hi, int64_t n, int64_t cols) const {
    return Strided(base + offset(bi, hi), n, cols, Eigen::OuterStride<>(ld()));
  }
};

struct AttnDims {
  int64_t b, h, hkv, t, s, d, dv, q_offset;
  int64_t s_alloc;   // keys allocated per head (the row stride of k and v); s <= s_alloc are used
  float scale;
  bool seq_major;
  HeadLayout q() const { return {h, t, d, seq_major}; }
  HeadLayout k() const { return {hkv, s_alloc, d, seq_major}; }
  HeadLayout v() const { return {hkv, s_alloc, dv, seq_major}; }
  HeadLayout out() const { return {h, t, dv, seq_major}; }
  Shape out_shape() const { return seq_major ? Shape{b, t, h, dv} : Shape{b, h, t, dv}; }
};

AttnDims attn_dims(const Tensor& q, const Tensor& k, const Tensor* v, const AttentionOptions& opt) {
  const bool sm = opt.seq_major;
  const char* layout = sm ? "[B, T, H, D]" : "[B, H, T, D]";
  if (q.dim() != 4 || k.dim() != 4) shape_error("attention", std::string("q and k must be ") + layout, q.shape(), k.shape());
  const int64_t hd = sm ? 2 : 1, ld = sm ? 1 : 2;   // which dimension holds the heads, the positions
  AttnDims a{q.size(0), q.size(hd), k.size(hd), q.size(ld), k.size(ld), q.size(3), v ? v->size(3) : 0, 0, k.size(ld), 0.f, sm};
  if (opt.kv_len >= 0) {
    if (opt.kv_len > a.s_alloc) shape_error("attention", "kv_len " + std::to_string(opt.kv_len) + " exceeds the keys allocated", k.shape());
    a.s = opt.kv_len;
  }
  if (k.size(0) != a.b || k.size(3) != a.d) shape_error("attention", "k must match q in batch and head dim", q.shape(), k.shape());
  if (a.hkv == 0 || a.h % a.hkv != 0) shape_error("attention", "query heads must be a multiple of key/value heads", q.shape(), k.shape());
  if (v && (v->dim() != 4 || v->size(0) != a.b || v->size(hd) != a.hkv || v->size(ld) != a.s_alloc))
    shape_error("attention", "v must match k in batch, heads and positions", k.shape(), v->shape());
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

// Softmax over keys 0..n-1 of one row of scores (and, with valid, only over the non-padding
// ones); every other entry of the row becomes 0, as does a row with no visible key.
void softmax_row(float* row, int64_t n, int64_t s, const int32_t* valid) {
  auto r = Eigen::Map<Eigen::ArrayXf>(row, s);
  if (!valid) {   // the common case, vectorised
    auto seen = r.head(n);
    seen = (seen - seen.maxCoeff()).exp();
    seen *= 1.f / seen.sum();
    r.tail(s - n).setZero();
    return;
  }
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j)
    if (valid[j]) m = std::max(m, r[j]);
  double sum = 0;
  for (int64_t j = 0; j < s; ++j) {
    r[j] = j < n && valid[j] && !std::isinf(m) ? std::exp(r[j] - m) : 0.f;
    sum += r[j];
  }
  if (sum > 0) r *= static_cast<float>(1.0 / sum);
}

// Head hi of batch bi, one band of query rows at a time: the band's scores into p [T, S], their
// softmax (masked entries 0), then done(band) while the band's rows are still in cache (the
// forward multiplies them by V there, instead of streaming all weights through memory twice).
template <class Done>
void attention_head(const AttnDims& a, const AttentionOptions& opt, int64_t bi, int64_t hi, const float* q, const float* k, float* p,
                    Done done) {
  auto P = mat(p, a.t, a.s);
  const int64_t hk = hi / (a.h / a.hkv);
  const int32_t* valid = opt.key_valid ? opt.key_valid->data.data() + bi * a.s_alloc : nullptr;
  const auto Q = a.q().rows(q, bi, hi, a.t, a.d);
  for_each_band(a, BandPlan(opt), [&](const Band& b) {
    gemm_float32(P.block(b.r0, 0, b.rows, b.visible), Q.middleRows(b.r0, b.rows), false, a.k().rows(k, bi, hk, b.visible, a.d), true, a.scale);
    for (int64_t i = b.r0; i < b.r0 + b.rows; ++i)   // row i sees keys 0..q_offset + i
      softmax_row(p + i * a.s, opt.causal ? std::min(a.s, a.q_offset + i + 1) : a.s, a.s, valid);
    done(b);
  });
}

Tensor probs_all(const AttnDims& a, const AttentionOptions& opt, const Tensor& q, const Tensor& k) {
  Tensor p = Tensor::empty({a.b, a.h, a.t, a.s});   // every entry is written (masked ones as 0)
#pragma omp parallel for schedule(static) if (a.b * a.h > 1)
  for (int64_t bh = 0; bh < a.b * a.h; ++bh)
    attention_head(a, opt, bh / a.h, bh % a.h, q.data(), k.data(), p.data() + bh * a.t * a.s, [](const Band&) {});
  return p;
}
}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionOptions& opt) {
  return probs_all(attn_dims(q, k, nullptr, opt), opt, q, k);
}

namespace {
// The shared body of both public attention ops. v_in_k: V is the first a.dv columns of K.
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const AttnDims& a, const AttentionOptions& opt, bool v_in_k) {
  const Tensor p = Tensor::empty({a.b, a.h, a.t, a.s});   // the weights, kept for the backward
  Tensor out = Tensor::empty(a.out_shape());              // every row is written by its band
  const int64_t groups = a.h / a.hkv;
  // V's rows: its own tensor, or (v_in_k) the leading dv columns of K's rows
  const HeadLayout vl = v_in_k ? a.k() : a.v();
  const float* vbase = v_in_k ? k.data() : v.data();
#pragma omp parallel for schedule(static) if (a.b * a.h > 1)
  for (int64_t bh = 0; bh < a.b * a.h; ++bh) {
    const int64_t bi = bh / a.h, hi = bh % a.h;
    const auto P = mat(p.data() + bh * a.t * a.s, a.t, a.s);
    const auto V = vl.rows(vbase, bi, hi / groups, a.s, a.dv);
    auto O = a.out().rows(out.data(), bi, hi, a.t, a.dv);
    attention_head(a, opt, bi, hi, q.data(), k.data(), p.data() + bh * a.t * a.s, [&](const Band& b) {
      gemm_float32(O.middleRows(b.r0, b.rows), P.block(b.r0, 0, b.rows, b.visible), false, V.topRows(b.visible), false);
    });
  }
  const Tensor qd = q.detach(), kd = k.detach(), vd = v_in_k ? kd : v.detach();
  const std::vector<Tensor> inputs = v_in_k ? std::vector<Tensor>{q, k} : std::vector<Tensor>{q, k, v};
  const BandPlan bands(opt);
  return record(out, inputs, "attention", [a, p, qd, kd, vd, groups, vl, v_in_k, bands](const Tensor& g, const std::vector<bool>& need,
                                                                                         std::vector<Tensor>& gin) {
    // dQ's rows are each written once by their band; dK and dV are sums, zeroed by their task.
    Tensor dq = Tensor::empty(qd.shape()), dk = Tensor::empty(kd.shape());
    Tensor dv = v_in_k ? Tensor() : Tensor::empty(vd.shape());
    // One task per (batch, kv head): the query heads sharing it add into its dK, dV serially.
#pragma omp parallel for schedule(static) if (a.b * a.hkv > 1)
    for (int64_t bk = 0; bk < a.b * a.hkv; ++bk) {
      const int64_t bi = bk / a.hkv, hk = bk % a.hkv;
      const auto K = a.k().rows(kd.data(), bi, hk, a.s, a.d);
      const auto V = vl.rows(vd.data(), bi, hk, a.s, a.dv);
      a.k().rows(dk.data(), bi, hk, a.s_alloc, a.d).setZero();   // all allocated keys: those past kv_len get no gradient
      if (!v_in_k) a.v().rows(dv.data(), bi, hk, a.s_alloc, a.dv).setZero();
      auto dK = a.k().rows(dk.data(), bi, hk, a.s, a.d);
      MatR dV_own = v_in_k ? MatR::Zero(a.s, a.dv) : MatR();   // v_in_k: summed here, added into dK below
      auto dV = v_in_k ? Strided(dV_own.data(), a.s, a.dv, Eigen::OuterStride<>(a.dv)) : a.v().rows(dv.data(), bi, hk, a.s, a.dv);
      MatR dS(bands.banded ? std::min(kBandRows, a.t) : a.t, a.s);   // one band's score gradients, reused
      for (int64_t gi = 0; gi < groups; ++gi) {
        const int64_t hi = hk * groups + gi;
        const auto P = mat(p.data() + (bi * a.h + hi) * a.t * a.s, a.t, a.s);
        const auto dO = a.out().rows(g.data(), bi, hi, a.t, a.dv);
        const auto Q = a.q().rows(qd.data(), bi, hi, a.t, a.d);
        auto dQ = a.q().rows(dq.data(), bi, hi, a.t, a.d);
        for_each_band(a, bands, [&](const Band& b) {
          const auto Pb = P.block(b.r0, 0, b.rows, b.visible);
          const auto dOb = dO.middleRows(b.r0, b.rows);
          auto dSb = dS.block(0, 0, b.rows, b.visible);
          gemm_float32(dV.topRows(b.visible), Pb, true, dOb, false, 1.f, 1.f);   // dV += P^T dO
          gemm_float32(dSb, dOb, false, V.topRows(b.visible), true);             // dP = dO V^T
          const Eigen::VectorXf rowdot = (dSb.array() * Pb.array()).rowwise().sum();
          dSb = (Pb.array() * (dSb.array().colwise() - rowdot.array())).matrix() * a.scale;
          gemm_float32(dQ.middleRows(b.r0, b.rows), dSb, false, K.topRows(b.visible), false);          // dQ = dS K
          gemm_float32(dK.topRows(b.visible), dSb, true, Q.middleRows(b.r0, b.rows), false, 1.f, 1.f);   // dK += dS^T Q
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

namespace {
// Head hi of batch bi of a [B, H, L, W] (or, seq_major, [B, L, H, W]) tensor as [len, W]: its first len rows.
Tensor head_rows(const Tensor& x, bool seq_major, int64_t bi, int64_t hi, int64_t len) {
  const Tensor h = slice(slice(x, 0, bi, bi + 1), seq_major ? 2 : 1, hi, hi + 1);
  return slice(reshape(h, {x.size(seq_major ? 1 : 2), x.size(3)}), 0, 0, len);
}
}  // namespace

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  const AttnDims a = attn_dims(q, k, &v, opt);
  std::vector<Tensor> batches;
  for (int64_t bi = 0; bi < a.b; ++bi) {
    std::vector<Tensor> heads;
    for (int64_t hi = 0; hi < a.h; ++hi) {
      const int64_t hk = hi / (a.h / a.hkv);   // the K/V head this query head shares (GQA, MQA)
      const Tensor qh = head_rows(q, a.seq_major, bi, hi, a.t);
      const Tensor kh = head_rows(k, a.seq_major, bi, hk, a.s), vh = head_rows(v, a.seq_major, bi, hk, a.s);
      // Query i (at position q_offset + i) sees key j if j is not in its future and not padding.
      Tensor mask = Tensor::zeros({a.t, a.s}), has_key = Tensor::zeros({a.t, 1});
      for (int64_t i = 0; i < a.t; ++i)
        for (int64_t j = 0; j < a.s; ++j) {
          const bool visible = (!opt.causal || j <= a.q_offset + i) && (!opt.key_valid || opt.key_valid->data[bi * a.s_alloc + j]);
          mask.data()[i * a.s + j] = visible ? 0.f : -1e30f;
          if (visible) has_key.data()[i] = 1.f;
        }
      const Tensor scores = add(mul_scalar(matmul(qh, transpose(kh, 0, 1)), a.scale), mask);
      const Tensor weights = mul(softmax(scores), has_key);   // a query with no visible key gets no weight
      const Tensor o = matmul(weights, vh);                  // [T, Dv]
      heads.push_back(a.seq_major ? reshape(o, {1, a.t, 1, a.dv}) : reshape(o, {1, 1, a.t, a.dv}));
    }
    batches.push_back(concat(heads, a.seq_major ? 2 : 1));
  }
  return concat(batches, 0);
}

Tensor latent_attention_reference(const Tensor& q, const Tensor& kv, int64_t v_dim, const AttentionOptions& opt) {
  if (kv.dim() != 4 || v_dim < 1 || v_dim > kv.size(3))
    shape_error("latent_attention", "v_dim " + std::to_string(v_dim) + " must be in [1, key dim]", kv.shape());
  return attention_reference(q, kv, slice(kv, 3, 0, v_dim), opt);
}

Tensor latent_attention(const Tensor& q, const Tensor& kv, int64_t v_dim, const AttentionOptions& opt) {
  AttnDims a = attn_dims(q, kv, nullptr, opt);
  if (v_dim < 1 || v_dim > a.d) shape_error("latent_attention", "v_dim " + std::to_string(v_dim) + " must be in [1, key dim]", kv.shape());
  a.dv = v_dim;
  return attend(q, kv, Tensor(), a, opt, true);
}

}  // namespace ds
