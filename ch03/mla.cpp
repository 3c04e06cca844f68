#include "ch03/mla.hpp"

#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "ch02/attention.hpp"
#include "ch02/kv_cache.hpp"
#include "ch03/mla_keys.hpp"
#include "common/ops.hpp"
#include "common/recompute.hpp"

namespace ds::ch03 {

LatentCache::LatentCache(int64_t batch, int64_t max_len, int64_t kv_lora_rank, int64_t rope_dim)
    : kv_(Tensor::zeros({batch, 1, max_len, kv_lora_rank + rope_dim})) {}

void LatentCache::truncate(int64_t length) {
  if (length < 0 || length > len_)
    throw std::invalid_argument("LatentCache::truncate: cannot keep " + std::to_string(length) + " of " + std::to_string(len_) + " tokens");
  len_ = length;
}

void LatentCache::append(const Tensor& latent) {
  const int64_t b = kv_.size(0), cap = kv_.size(2), d = kv_.size(3);
  if (latent.dim() != 4 || latent.size(0) != b || latent.size(1) != 1 || latent.size(3) != d)
    shape_error("LatentCache::append", "the latent must be [B, 1, T, kv_lora_rank + rope_dim]", latent.shape(), kv_.shape());
  const int64_t t = latent.size(2);
  if (len_ + t > cap)
    throw std::length_error("LatentCache: " + std::to_string(len_ + t) + " tokens exceed the " + std::to_string(cap) + " it was allocated for");
  for (int64_t i = 0; i < b; ++i)
    std::memcpy(kv_.data() + (i * cap + len_) * d, latent.data() + i * t * d, static_cast<size_t>(t * d) * sizeof(float));
  len_ += t;
}

namespace {
RopeConfig rope_of(const MLAConfig& c) {
  RopeConfig r = c.rope;
  r.dim = c.qk_rope_head_dim;
  return r;
}
}  // namespace

MultiHeadLatentAttention::MultiHeadLatentAttention(const MLAConfig& c, Rng& rng, MLAMode mode)
    : wkv_a(c.hidden_size, c.kv_lora_rank + c.qk_rope_head_dim, rng, c.init_std),
      wkv_b(c.kv_lora_rank, c.num_heads * (c.qk_nope_head_dim + c.v_head_dim), rng, c.init_std),
      wo(c.num_heads * c.v_head_dim, c.hidden_size, rng, c.init_std),
      kv_norm(c.kv_lora_rank, c.rms_norm_eps),
      cfg_(c),
      mode_(mode),
      rope_(rope_tables(rope_of(c))) {
  if (c.q_lora_rank > 0) {
    wq_a = std::make_unique<Linear>(c.hidden_size, c.q_lora_rank, rng, c.init_std);
    q_norm = std::make_unique<RMSNorm>(c.q_lora_rank, c.rms_norm_eps);
    wq_b = std::make_unique<Linear>(c.q_lora_rank, c.num_heads * c.qk_head_dim(), rng, c.init_std);
    register_module("q_a_proj", *wq_a);
    register_module("q_a_layernorm", *q_norm);
    register_module("q_b_proj", *wq_b);
  } else {
    wq = std::make_unique<Linear>(c.hidden_size, c.num_heads * c.qk_head_dim(), rng, c.init_std);
    register_module("q_proj", *wq);
  }
  register_module("kv_a_proj_with_mqa", wkv_a);
  register_module("kv_a_layernorm", kv_norm);
  register_module("kv_b_proj", wkv_b);
  register_module("o_proj", wo);
  const double m = yarn_mscale(rope_of(c));
  scale_ = static_cast<float>(m * m / std::sqrt(static_cast<double>(c.qk_head_dim())));   // 1/sqrt(d_h + d_h^R), times YaRN's mscale^2
}

Tensor MultiHeadLatentAttention::rotate(const Tensor& x, int64_t pos, const ch02::Padding* padding) const {
  return padding ? rope(x, rope_.cos, rope_.sin, padding->position_ids) : rope(x, rope_.cos, rope_.sin, pos);
}

Tensor MultiHeadLatentAttention::rotate_tail(const Tensor& x, int64_t pos, const ch02::Padding* padding) const {
  return padding ? rope_tail(x, rope_.cos, rope_.sin, padding->position_ids) : rope_tail(x, rope_.cos, rope_.sin, pos);
}

MultiHeadLatentAttention::Latents MultiHeadLatentAttention::down(const Tensor& x) const {
  return {wq ? wq->forward(x) : wq_a->forward(x), wkv_a.forward(x)};
}

MultiHeadLatentAttention::Projected MultiHeadLatentAttention::up(const Latents& l, int64_t pos, const ch02::Padding* padding) const {
  const int64_t b = l.kv.size(0), t = l.kv.size(1), h = cfg_.num_heads, nope = cfg_.qk_nope_head_dim, r = cfg_.qk_rope_head_dim;
  const Tensor q = reshape(wq ? l.q : wq_b->forward(q_norm->forward(l.q)), {b, t, h, nope + r});
  Projected p;
  p.q = rotate_tail(q, pos, padding);   // [q^C; RoPE(q^R)] per head (eqs. 14, 16)
  p.c_kv = kv_norm.forward(slice(l.kv, 2, 0, cfg_.kv_lora_rank));
  p.k_pe = rotate(slice(l.kv, 2, cfg_.kv_lora_rank, cfg_.kv_lora_rank + r), pos, padding);
  return p;
}

MultiHeadLatentAttention::Heads MultiHeadLatentAttention::heads(const Projected& p) const {
  const int64_t b = p.c_kv.size(0), t = p.c_kv.size(1), h = cfg_.num_heads, nope = cfg_.qk_nope_head_dim, dv = cfg_.v_head_dim;
  const Tensor kvb = reshape(wkv_b.forward(p.c_kv), {b, t, h, nope + dv});
  return {p.q, mla_keys(kvb, p.k_pe, nope), slice(kvb, 3, nope, nope + dv)};   // k: one RoPE key shared by all heads
}

std::vector<Tensor> MultiHeadLatentAttention::up_params() const {
  std::vector<Tensor> w = {kv_norm.weight, wkv_b.weight};
  if (wq_b) w.insert(w.begin(), {q_norm->weight, wq_b->weight});
  return w;
}

// Per-head K and V from the latent, as MHA would have them (and cache them). Returns [B, T, H*dv].
Tensor MultiHeadLatentAttention::naive(const Heads& hd, ch02::LayerCache* cache, const ch02::Padding* padding) const {
  const int64_t b = hd.q.size(0), t = hd.q.size(1), h = cfg_.num_heads, dv = cfg_.v_head_dim;
  AttentionOptions opt;
  opt.scale = scale_;
  IntTensor key_valid;
  if (!cache) {   // training and prefill without a cache: attention reads the [B, T, H, D] heads in place
    opt.seq_major = true;
    if (padding) opt.key_valid = &padding->key_valid;
    return reshape(scaled_dot_product_attention(hd.q, hd.k, hd.v, opt), {b, t, h * dv});
  }
  auto* kvc = dynamic_cast<ch02::KVCache*>(cache);
  if (!kvc) throw std::invalid_argument("MLA (naive): the cache is not a KVCache");
  const auto heads_first = [](const Tensor& x) { return permute(x, {0, 2, 1, 3}); };   // the cache is [B, H, S, D]
  opt.q_offset = kvc->length();
  kvc->append(heads_first(hd.k), heads_first(hd.v));
  opt.kv_len = kvc->length();
  if (padding) opt.key_valid = &(key_valid = padding->keys(kvc->capacity()));
  return ch02::merge_heads(scaled_dot_product_attention(heads_first(hd.q), kvc->keys(), kvc->values(), opt));
}

// The naive training forward with DeepSeek-V3's recomputation (section 3.2.3): the latents
// [B, T, q_lora_rank] and [B, T, kv_lora_rank + rope] are kept; the norms, up-projections and
// RoPE that turn them into the attention's q, k, v (3 x [B, T, H, D], the largest activations
// of the block) run again in backward. Returns [B, T, H*dv].
Tensor MultiHeadLatentAttention::recomputed(const Tensor& x, const ch02::Padding* padding) const {
  const Latents l = down(x);
  std::optional<ch02::Padding> pad;   // the re-run outlives the caller's padding
  if (padding) pad = *padding;
  Checkpoint up_proj(
      [this, pad](const std::vector<Tensor>& in) {
        const Heads hd = heads(up({in[0], in[1]}, 0, pad ? &*pad : nullptr));
        return std::vector<Tensor>{hd.q, hd.k, hd.v};
      },
      {l.q, l.kv}, up_params(), "mla_up_projection");
  const Tensor o = naive({up_proj.output(0), up_proj.output(1), up_proj.output(2)}, nullptr, padding);
  up_proj.discard(o);
  return o;
}

// Attention over the latent itself: q_nope W_UK against c_KV, q_pe against k_pe, then the
// weighted latent through W_UV. MQA with one 576-wide head for V3, and the cache is the latent.
Tensor MultiHeadLatentAttention::absorbed(const Projected& p, ch02::LayerCache* cache, const ch02::Padding* padding) const {
  const int64_t b = p.c_kv.size(0), t = p.c_kv.size(1), h = cfg_.num_heads, nope = cfg_.qk_nope_head_dim,
                r = cfg_.qk_rope_head_dim, dv = cfg_.v_head_dim, c = cfg_.kv_lora_rank;
  const Tensor w = reshape(wkv_b.weight, {h, nope + dv, c});
  const Tensor w_uk = slice(w, 1, 0, nope), w_uv = transpose(slice(w, 1, nope, nope + dv), 1, 2);   // [H, nope, c], [H, c, dv]
  const Tensor q_nope = slice(p.q, 3, 0, nope), q_pe = slice(p.q, 3, nope, nope + r);
  // q_nope [B, T, H, nope] -> per head [H, B*T, nope] x W_UK [H, nope, c] -> [B, H, T, c]
  const Tensor q_abs = permute(reshape(matmul(reshape(permute(q_nope, {2, 0, 1, 3}), {h, b * t, nope}), w_uk), {h, b, t, c}), {1, 0, 2, 3});
  const Tensor q = concat({q_abs, permute(q_pe, {0, 2, 1, 3})}, 3);   // [B, H, T, c + r]
  const Tensor latent = reshape(concat({p.c_kv, p.k_pe}, 2), {b, 1, t, c + r});
  AttentionOptions opt;
  opt.scale = scale_;
  IntTensor key_valid;
  Tensor o;   // [B, H, T, c]: attention-weighted latent
  if (!cache) {
    if (padding) opt.key_valid = &padding->key_valid;
    o = latent_attention(q, latent, c, opt);
  } else {
    auto* lc = dynamic_cast<LatentCache*>(cache);
    if (!lc) throw std::invalid_argument("MLA (absorbed): the cache is not a LatentCache");
    opt.q_offset = lc->length();
    lc->append(latent);
    opt.kv_len = lc->length();
    if (padding) opt.key_valid = &(key_valid = padding->keys(lc->capacity()));
    o = latent_attention(q, lc->latent(), c, opt);
  }
  // [B, H, T, c] -> per head [H, B*T, c] x W_UV^T [H, c, dv] -> [B, H, T, dv] -> [B, T, H*dv]
  return ch02::merge_heads(permute(reshape(matmul(reshape(permute(o, {1, 0, 2, 3}), {h, b * t, c}), w_uv), {h, b, t, dv}), {1, 0, 2, 3}));
}

Tensor MultiHeadLatentAttention::forward(const Tensor& x, ch02::LayerCache* cache, const ch02::Padding* padding) {
  if (recompute && mode_ == MLAMode::Naive && !cache) return wo.forward(recomputed(x, padding));
  const Projected p = up(down(x), cache ? cache->length() : 0, padding);
  return wo.forward(mode_ == MLAMode::Naive ? naive(heads(p), cache, padding) : absorbed(p, cache, padding));   // from [B, T, H*dv]
}

std::unique_ptr<ch02::LayerCache> MultiHeadLatentAttention::make_cache(int64_t batch, int64_t max_len) const {
  if (mode_ == MLAMode::Naive)
    return std::make_unique<ch02::KVCache>(batch, cfg_.num_heads, max_len, cfg_.qk_head_dim(), cfg_.v_head_dim);
  return std::make_unique<LatentCache>(batch, max_len, cfg_.kv_lora_rank, cfg_.qk_rope_head_dim);
}

int64_t mla_cache_elements_per_token(const MLAConfig& c) { return c.kv_lora_rank + c.qk_rope_head_dim; }

}  // namespace ds::ch03
