#include "ch02/attention.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "ch02/kv_cache.hpp"
#include "common/ops.hpp"

namespace ds::ch02 {

AttentionSteps self_attention_steps(const Tensor& x, const Tensor& w_q, const Tensor& w_k, const Tensor& w_v) {
  AttentionSteps s;
  s.q = linear(x, w_q);
  s.k = linear(x, w_k);
  s.v = linear(x, w_v);
  const int64_t t = x.size(0);
  s.scores = mul_scalar(matmul(s.q, transpose(s.k, 0, 1)), 1.f / std::sqrt(static_cast<float>(s.q.size(1))));
  s.masked = s.scores.clone();
  for (int64_t i = 0; i < t; ++i)   // token i may not look at tokens after it
    for (int64_t j = i + 1; j < t; ++j) s.masked.data()[i * t + j] = -std::numeric_limits<float>::infinity();
  s.weights = softmax(s.masked);
  s.output = matmul(s.weights, s.v);
  return s;
}

Tensor split_heads(const Tensor& x, int64_t heads) {
  return permute(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), {0, 2, 1, 3});
}

Tensor merge_heads(const Tensor& x) {
  return reshape(permute(x, {0, 2, 1, 3}), {x.size(0), x.size(2), x.size(1) * x.size(3)});
}

MultiHeadAttention::MultiHeadAttention(const AttentionConfig& cfg, Rng& rng)
    : q_proj(cfg.hidden_size, cfg.num_heads * cfg.head_dim(), rng, cfg.init_std, cfg.bias),
      k_proj(cfg.hidden_size, cfg.num_kv_heads * cfg.head_dim(), rng, cfg.init_std, cfg.bias),
      v_proj(cfg.hidden_size, cfg.num_kv_heads * cfg.head_dim(), rng, cfg.init_std, cfg.bias),
      o_proj(cfg.num_heads * cfg.head_dim(), cfg.hidden_size, rng, cfg.init_std, cfg.bias),
      cfg_(cfg) {
  if (cfg.hidden_size % cfg.num_heads != 0 || cfg.num_kv_heads < 1 || cfg.num_heads % cfg.num_kv_heads != 0)
    throw std::invalid_argument("attention: hidden_size must divide into num_heads, and num_heads into num_kv_heads groups (got " +
                                std::to_string(cfg.hidden_size) + ", " + std::to_string(cfg.num_heads) + ", " + std::to_string(cfg.num_kv_heads) + ")");
  register_module("q_proj", q_proj);
  register_module("k_proj", k_proj);
  register_module("v_proj", v_proj);
  register_module("o_proj", o_proj);
}

Tensor MultiHeadAttention::forward(const Tensor& x, LayerCache* cache, const Padding* padding) {
  const Tensor q = split_heads(q_proj.forward(x), cfg_.num_heads);      // [B, H, T, D]
  const Tensor k = split_heads(k_proj.forward(x), cfg_.num_kv_heads);   // [B, Hkv, T, D]
  const Tensor v = split_heads(v_proj.forward(x), cfg_.num_kv_heads);
  AttentionOptions opt;
  IntTensor key_valid;
  Tensor out;
  if (cache) {
    auto* kv = dynamic_cast<KVCache*>(cache);
    if (!kv) throw std::invalid_argument("MultiHeadAttention: the cache is not a KVCache");
    const int64_t past = kv->length();
    kv->append(k, v);
    opt.kv_len = kv->length();
    opt.q_offset = past;
    if (padding) opt.key_valid = &(key_valid = padding->keys(kv->capacity()));
    out = scaled_dot_product_attention(q, kv->keys(), kv->values(), opt);
  } else {
    if (padding) opt.key_valid = &padding->key_valid;
    out = scaled_dot_product_attention(q, k, v, opt);
  }
  return o_proj.forward(merge_heads(out));
}

std::unique_ptr<LayerCache> MultiHeadAttention::make_cache(int64_t batch, int64_t max_len) const {
  return std::make_unique<KVCache>(batch, cfg_.num_kv_heads, max_len, cfg_.head_dim());
}

}  // namespace ds::ch02
