// Multi-Head Latent Attention (DeepSeek-V2 section 2.1, used unchanged by V3).
//
// Keys and values come from one low-rank latent c_KV = kv_norm(W_DKV x) of kv_lora_rank numbers
// per token (eq. 9); per-head keys and values are up-projections of it (eqs. 10-11). Position
// enters through a separate small key k_pe = RoPE(W_KR x), shared by all heads (eq. 15), and a
// per-head query part q_pe (eq. 14); queries are low-rank too (eqs. 12-13, q_lora_rank).
//
// Two decoding paths:
//   naive:    materialise per-head K = [k_nope; k_pe] and V, cache them (like MHA);
//   absorbed: cache only [c_KV; k_pe] per token, fold W_UK into the query and W_UV into the
//             output (section 2.1.2's "absorb"), so attention runs over the latent directly.
// Both compute the same function; the tests prove it.
//
// Member names follow DeepSeek-V3's inference/model.py (wq_a, q_norm, wq_b, wkv_a, kv_norm,
// wkv_b, wo); they are registered under the Hugging Face checkpoint names (q_a_proj,
// q_a_layernorm, q_b_proj, kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj).
#pragma once

#include "ch02/layers.hpp"
#include "ch03/rope.hpp"

namespace ds::ch03 {

struct MLAConfig {
  int64_t hidden_size = 256;
  int64_t num_heads = 8;
  int64_t q_lora_rank = 128;        // 0: a full-rank query projection (wq), as V2-Lite
  int64_t kv_lora_rank = 64;
  int64_t qk_nope_head_dim = 32;
  int64_t qk_rope_head_dim = 16;
  int64_t v_head_dim = 32;
  float rms_norm_eps = 1e-6f;
  float init_std = 0.02f;
  RopeConfig rope;                  // rope.dim is set to qk_rope_head_dim
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
};

enum class MLAMode { Naive, Absorbed };

// The absorbed path's cache: [c_KV; k_pe] of every token, one "head", stored once.
class LatentCache : public ch02::LayerCache {
 public:
  LatentCache(int64_t batch, int64_t max_len, int64_t kv_lora_rank, int64_t rope_dim);
  void append(const Tensor& latent);   // [B, 1, T, kv_lora_rank + rope_dim]
  const Tensor& latent() const { return kv_; }
  int64_t length() const override { return len_; }
  int64_t capacity() const override { return kv_.size(2); }
  int64_t bytes() const override { return kv_.numel() * static_cast<int64_t>(sizeof(float)); }
  int64_t bytes_used() const override { return bytes() / capacity() * len_; }
  void reset() override { len_ = 0; }
  void truncate(int64_t length) override;

 private:
  Tensor kv_;
  int64_t len_ = 0;
};

class MultiHeadLatentAttention : public ch02::AttentionLayer {
 public:
  MultiHeadLatentAttention(const MLAConfig& cfg, Rng& rng, MLAMode mode = MLAMode::Naive);
  Tensor forward(const Tensor& x, ch02::LayerCache* cache, const ch02::Padding* padding = nullptr) override;   // x [B, T, C]
  std::unique_ptr<ch02::LayerCache> make_cache(int64_t batch, int64_t max_len) const override;
  void set_mode(MLAMode m) { mode_ = m; }
  MLAMode mode() const { return mode_; }
  float softmax_scale() const { return scale_; }
  const MLAConfig& config() const { return cfg_; }

  std::unique_ptr<Linear> wq_a, wq_b, wq;   // wq only when q_lora_rank == 0
  std::unique_ptr<RMSNorm> q_norm;
  Linear wkv_a, wkv_b, wo;
  RMSNorm kv_norm;
  // Training memory, not architecture: in a training forward (naive, no cache) q_norm, kv_norm,
  // wq_b and wkv_b run in a recomputed region whose outputs, the per-head q, k and v the
  // attention reads, are not kept but recomputed in backward (DeepSeek-V3 section 3.2.3).
  bool recompute = false;

 private:
  struct Latents {
    Tensor q;                // [B, T, q_lora_rank] = wq_a x, or [B, T, H*(nope + rope)] = wq x
    Tensor kv;               // [B, T, kv_lora_rank + rope] = wkv_a x
  };
  struct Projected {
    Tensor q;                // [B, T, H, nope + rope]: [q_nope; q_pe], RoPE applied to q_pe
    Tensor c_kv, k_pe;       // [B, T, kv_lora_rank] (normed), [B, T, rope] (RoPE applied)
  };
  struct Heads {
    Tensor q, k, v;          // [B, T, H, nope + rope] twice, [B, T, H, dv]
  };
  Latents down(const Tensor& x) const;
  // Tokens at positions pos.. , or padding->position_ids.
  Projected up(const Latents& l, int64_t pos, const ch02::Padding* padding) const;
  Heads heads(const Projected& p) const;   // per-head K and V from the latent (naive)
  std::vector<Tensor> up_params() const;   // the weights up() and heads() read
  Tensor rotate(const Tensor& x, int64_t pos, const ch02::Padding* padding) const;
  Tensor rotate_tail(const Tensor& x, int64_t pos, const ch02::Padding* padding) const;   // RoPE on each head's last rope dims
  // Both return the heads merged, [B, T, H*dv], ready for wo.
  Tensor naive(const Heads& hd, ch02::LayerCache* cache, const ch02::Padding* padding) const;
  Tensor absorbed(const Projected& p, ch02::LayerCache* cache, const ch02::Padding* padding) const;
  Tensor recomputed(const Tensor& x, const ch02::Padding* padding) const;

  MLAConfig cfg_;
  MLAMode mode_;
  RopeTables rope_;
  float scale_;
};

// Per token per layer, the numbers each attention kind caches (DeepSeek-V2 Table 1):
// MHA 2 n_h d_h, GQA 2 n_g d_h, MQA 2 d_h, MLA d_c + d_h^R.
int64_t mla_cache_elements_per_token(const MLAConfig& cfg);

}  // namespace ds::ch03
