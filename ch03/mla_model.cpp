#include "ch03/mla_model.hpp"

namespace ds::ch03 {

MLAConfig mla_config(const DeepSeekConfig& c) {
  MLAConfig m;
  m.hidden_size = c.hidden_size;
  m.num_heads = c.num_attention_heads;
  m.q_lora_rank = c.q_lora_rank;
  m.kv_lora_rank = c.kv_lora_rank;
  m.qk_nope_head_dim = c.qk_nope_head_dim;
  m.qk_rope_head_dim = c.qk_rope_head_dim;
  m.v_head_dim = c.v_head_dim;
  m.rms_norm_eps = static_cast<float>(c.rms_norm_eps);
  m.init_std = static_cast<float>(c.initializer_range);
  m.rope.dim = c.qk_rope_head_dim;
  m.rope.theta = c.rope_theta;
  m.rope.max_positions = c.max_position_embeddings;
  m.rope.yarn = c.rope_scaling;
  return m;
}

std::vector<NamedMLA> mla_presets() {
  std::vector<NamedMLA> out;
  for (const char* name : {"deepseek-v3", "deepseek-v2", "deepseek-v2-lite", "mini"}) {
    const DeepSeekConfig c = preset(name);
    out.push_back({name, c.num_hidden_layers, mla_config(c)});
  }
  return out;
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

void set_recompute(ch02::Block& block, bool on) {
  block.recompute = on;
  if (auto* mla = dynamic_cast<MultiHeadLatentAttention*>(block.self_attn.get())) mla->recompute = on;
}

void set_recompute(ch02::TransformerLM& model, bool on) {
  for (auto& layer : model.layers) set_recompute(*layer, on);
}

}  // namespace ds::ch03
