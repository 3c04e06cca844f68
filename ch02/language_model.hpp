// What generation, training loops and later chapters need from any language model: logits for
// a batch of token ids, with or without a per-layer decoding cache, and for batches of
// left-padded rows (padding.hpp). ch02's TransformerLM, ch03's MLA model and ch06's
// DeepSeekModel all implement it, so one generate() serves them all.
#pragma once

#include <memory>
#include <vector>

#include "common/nn.hpp"

namespace ds::ch02 {

// One layer's decoding state: whatever its attention must keep from earlier tokens.
struct LayerCache {
  virtual ~LayerCache() = default;
  virtual int64_t length() const = 0;       // tokens held
  virtual int64_t capacity() const = 0;     // tokens it was allocated for
  virtual int64_t bytes() const = 0;        // bytes allocated
  virtual int64_t bytes_used() const = 0;   // bytes holding the `length()` tokens
  virtual void reset() = 0;
  // Forgets the tokens after the first `length` (speculative decoding rolls back a rejected draft).
  virtual void truncate(int64_t length) = 0;
};

using Caches = std::vector<std::unique_ptr<LayerCache>>;

struct ForwardOptions {
  // [B, past + T] of 0/1 over the cached columns and the T new ones: which hold real tokens in
  // a left-padded batch (padding.hpp). nullptr: all of them, positions past..past+T-1.
  const IntTensor* attention_mask = nullptr;
};

int64_t cache_length(const Caches& caches);
int64_t cache_bytes(const Caches& caches);
int64_t cache_bytes_used(const Caches& caches);

class LanguageModel : public Module {
 public:
  // ids [B, T] -> logits [B, T, V]. With caches, the T tokens continue the cached sequence and
  // are appended to it; without, they are the whole sequence (positions from 0). With an
  // attention mask each row's padding is invisible to it (same logits as the row alone).
  virtual Tensor forward(const IntTensor& ids, Caches* caches = nullptr, const ForwardOptions& opt = {}) = 0;
  virtual Caches make_caches(int64_t batch, int64_t max_len) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_positions() const = 0;
};

}  // namespace ds::ch02
