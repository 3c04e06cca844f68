#include "ch02/kv_cache.hpp"

#include <cstring>
#include <stdexcept>

namespace ds::ch02 {

int64_t cache_length(const Caches& caches) { return caches.empty() ? 0 : caches[0]->length(); }
int64_t cache_bytes(const Caches& caches) {
  int64_t n = 0;
  for (const auto& c : caches) n += c->bytes();
  return n;
}
int64_t cache_bytes_used(const Caches& caches) {
  int64_t n = 0;
  for (const auto& c : caches) n += c->bytes_used();
  return n;
}

KVCache::KVCache(int64_t batch, int64_t kv_heads, int64_t max_len, int64_t head_dim, int64_t v_head_dim)
    : k_(Tensor::zeros({batch, kv_heads, max_len, head_dim})),
      v_(Tensor::zeros({batch, kv_heads, max_len, v_head_dim < 0 ? head_dim : v_head_dim})) {}

void KVCache::truncate(int64_t length) {
  if (length < 0 || length > len_)
    throw std::invalid_argument("KVCache::truncate: cannot keep " + std::to_string(length) + " of " + std::to_string(len_) + " tokens");
  len_ = length;
}

void KVCache::append(const Tensor& k_new, const Tensor& v_new) {
  const int64_t b = k_.size(0), h = k_.size(1), cap = k_.size(2), d = k_.size(3), dv = v_.size(3);
  if (k_new.dim() != 4 || k_new.size(0) != b || k_new.size(1) != h || k_new.size(3) != d)
    shape_error("KVCache::append", "new keys must be [B, Hkv, T, D] matching the cache", k_new.shape(), k_.shape());
  const int64_t t = k_new.size(2);
  if (v_new.shape() != Shape{b, h, t, dv}) shape_error("KVCache::append", "new values must match the new keys", v_new.shape(), k_new.shape());
  if (len_ + t > cap)
    throw std::length_error("KVCache: " + std::to_string(len_ + t) + " tokens exceed the " + std::to_string(cap) + " it was allocated for");
  for (int64_t bh = 0; bh < b * h; ++bh) {
    std::memcpy(k_.data() + (bh * cap + len_) * d, k_new.data() + bh * t * d, static_cast<size_t>(t * d) * sizeof(float));
    std::memcpy(v_.data() + (bh * cap + len_) * dv, v_new.data() + bh * t * dv, static_cast<size_t>(t * dv) * sizeof(float));
  }
  len_ += t;
}

int64_t KVCache::bytes() const { return (k_.numel() + v_.numel()) * static_cast<int64_t>(sizeof(float)); }
int64_t KVCache::bytes_used() const { return bytes() / capacity() * len_; }

int64_t KVCache::formula_bytes(int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t tokens) {
  return 2 * batch * kv_heads * head_dim * tokens * static_cast<int64_t>(sizeof(float));
}

}  // namespace ds::ch02
