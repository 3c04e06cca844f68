// A tiny model factory shared by ch02's tests.
#pragma once

#include "ch02/attention.hpp"
#include "ch02/transformer.hpp"

namespace ds::ch02::test {

// learned_positions: GPT-2's position table (without, the model has no positions at all).
inline std::unique_ptr<TransformerLM> tiny_lm(int64_t heads, int64_t kv_heads, uint64_t seed = 1, int64_t hidden = 32,
                                              bool learned_positions = false) {
  Rng rng(seed);
  LMConfig cfg;
  cfg.learned_positions = learned_positions;
  cfg.vocab_size = 50;
  cfg.hidden_size = hidden;
  cfg.num_layers = 2;
  cfg.max_position_embeddings = 64;
  cfg.init_std = 0.2f;   // large weights: differences between paths would show
  AttentionConfig ac;
  ac.hidden_size = hidden;
  ac.num_heads = heads;
  ac.num_kv_heads = kv_heads;
  ac.init_std = 0.2f;
  return std::make_unique<TransformerLM>(
      cfg, [ac](int64_t, Rng& r) { return std::make_unique<MultiHeadAttention>(ac, r); },
      [hidden](int64_t, Rng& r) { return std::make_unique<SwiGLU>(hidden, 2 * hidden, r, 0.2f); }, rng);
}

}  // namespace ds::ch02::test
