#include "ch03/mla_model.hpp"

namespace ds::ch03 {

namespace {
MLAConfig shape(int64_t hidden, int64_t heads, int64_t q_lora, int64_t kv_lora, int64_t nope, int64_t rope, int64_t v) {
  MLAConfig c;
  c.hidden_size = hidden;
  c.num_heads = heads;
  c.q_lora_rank = q_lora;
  c.kv_lora_rank = kv_lora;
  c.qk_nope_head_dim = nope;
  c.qk_rope_head_dim = rope;
  c.v_head_dim = v;
  return c;
}
}  // namespace

std::vector<NamedMLA> mla_presets() {
  return {{"deepseek-v3", 61, shape(7168, 128, 1536, 512, 128, 64, 128)},
          {"deepseek-v2", 60, shape(5120, 128, 1536, 512, 128, 64, 128)},
          {"deepseek-v2-lite", 27, shape(2048, 16, 0, 512, 128, 64, 128)},
          {"mini", 6, shape(256, 8, 128, 64, 32, 16, 32)}};
}

ch02::AttentionFactory mla_attention(const MLAConfig& mla, int64_t max_positions, MLAMode mode) {
  MLAConfig m = mla;
  m.rope.max_positions = max_positions;
  return [m, mode](int64_t, Rng& r) { return std::make_unique<MultiHeadLatentAttention>(m, r, mode); };
}

std::unique_ptr<ch02::TransformerLM> make_mla_model(const ch02::LMConfig& lm, const MLAConfig& mla, int64_t intermediate, Rng& rng,
                                                    MLAMode mode) {
  const int64_t hidden = lm.hidden_size;
  return std::make_unique<ch02::TransformerLM>(
      lm, mla_attention(mla, lm.max_position_embeddings, mode),
      [hidden, intermediate](int64_t, Rng& r) { return std::make_unique<ch02::SwiGLU>(hidden, intermediate, r); }, rng);
}

void set_mla_mode(ch02::TransformerLM& model, MLAMode mode) {
  for (auto& layer : model.layers)
    if (auto* mla = dynamic_cast<MultiHeadLatentAttention*>(layer->self_attn.get())) mla->set_mode(mode);
}

}  // namespace ds::ch03
