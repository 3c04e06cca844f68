#include "ch02/small_model.hpp"

namespace ds::ch02 {

std::unique_ptr<TransformerLM> make_small_model(const SmallModelConfig& c, Rng& rng) {
  LMConfig lm;
  lm.vocab_size = c.vocab_size;
  lm.hidden_size = c.hidden_size;
  lm.num_layers = c.num_layers;
  lm.max_position_embeddings = c.max_position_embeddings;
  lm.learned_positions = true;
  AttentionConfig ac;
  ac.hidden_size = c.hidden_size;
  ac.num_heads = c.num_heads;
  ac.num_kv_heads = c.num_kv_heads;
  const int64_t hidden = c.hidden_size, inter = c.intermediate_size;
  return std::make_unique<TransformerLM>(
      lm, [ac](int64_t, Rng& r) { return std::make_unique<MultiHeadAttention>(ac, r); },
      [hidden, inter](int64_t, Rng& r) { return std::make_unique<SwiGLU>(hidden, inter, r); }, rng);
}

SmallModelConfig small_model_config(int64_t vocab_size, bool quick) {
  SmallModelConfig c;
  c.vocab_size = vocab_size;
  if (quick) {
    c.hidden_size = 64;
    c.num_layers = 2;
    c.intermediate_size = 192;
  }
  return c;
}

}  // namespace ds::ch02
