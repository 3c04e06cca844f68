// The KV cache: keys and values of every earlier token, kept so that each
// new token costs one row of attention instead of recomputing the whole prefix.
// Preallocated for max_len tokens, as inference engines do, so appending never reallocates.
#pragma once

#include "ch02/language_model.hpp"

namespace ds::ch02 {

class KVCache : public LayerCache {
 public:
  KVCache(int64_t batch, int64_t kv_heads, int64_t max_len, int64_t head_dim, int64_t v_head_dim = -1);
  // k_new [B, Hkv, T, D], v_new [B, Hkv, T, Dv] are written at positions length()..length()+T-1.
  void append(const Tensor& k_new, const Tensor& v_new);
  const Tensor& keys() const { return k_; }      // [B, Hkv, max_len, D]; the first length() are valid
  const Tensor& values() const { return v_; }
  int64_t length() const override { return len_; }
  int64_t capacity() const override { return k_.size(2); }
  int64_t bytes() const override;
  int64_t bytes_used() const override;
  void reset() override { len_ = 0; }
  void truncate(int64_t length) override;

  // 2 (K and V) x batch x kv_heads x head_dim x tokens x 4 bytes: the book's formula, per layer.
  static int64_t formula_bytes(int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t tokens);

 private:
  Tensor k_, v_;
  int64_t len_ = 0;
};

}  // namespace ds::ch02
