#include "ch04/moe_model.hpp"

#include "ch03/mla_model.hpp"

namespace ds::ch04 {

ch02::FeedForwardFactory moe_model_feed_forward(const MoEModelConfig& cfg) {
  const int64_t hidden = cfg.lm.hidden_size, dense = cfg.intermediate_size, first_moe = cfg.first_k_dense_replace;
  MoEConfig moe = cfg.moe;
  moe.gate.hidden_size = hidden;
  moe.gate.init_std = cfg.lm.init_std;
  return [=](int64_t layer, Rng& r) -> std::unique_ptr<ch02::FeedForwardLayer> {
    if (layer < first_moe) return std::make_unique<ch02::SwiGLU>(hidden, dense, r, moe.gate.init_std);
    return std::make_unique<MoE>(moe, r);
  };
}

ch02::AttentionFactory moe_model_attention(const MoEModelConfig& cfg) {
  ch03::MLAConfig mla = cfg.mla;
  mla.hidden_size = cfg.lm.hidden_size;
  return ch03::mla_attention(mla, cfg.lm.max_position_embeddings);
}

std::unique_ptr<ch02::TransformerLM> make_moe_model(const MoEModelConfig& cfg, Rng& rng) {
  return std::make_unique<ch02::TransformerLM>(cfg.lm, moe_model_attention(cfg), moe_model_feed_forward(cfg), rng);
}

std::vector<MoE*> moe_layers(const std::vector<ch02::Block*>& blocks) {
  std::vector<MoE*> out;
  for (ch02::Block* block : blocks)
    if (auto* m = dynamic_cast<MoE*>(block->mlp.get())) out.push_back(m);
  return out;
}

std::vector<MoE*> moe_layers(ch02::TransformerLM& model) {
  std::vector<ch02::Block*> blocks;
  for (auto& b : model.layers) blocks.push_back(b.get());
  return moe_layers(blocks);
}

int64_t active_parameters(ch02::TransformerLM& model) {
  int64_t n = model.num_parameters();
  for (MoE* m : moe_layers(model)) {
    const GateConfig& g = m->config().gate;
    n -= (g.n_routed_experts - g.num_experts_per_tok) * m->experts[0]->num_parameters();
  }
  return n;
}

MoEModelConfig program_moe_config(int64_t vocab_size, bool quick) {
  MoEModelConfig c;
  c.lm.vocab_size = vocab_size;
  c.lm.hidden_size = quick ? 64 : 128;
  c.lm.num_layers = quick ? 2 : 4;
  c.lm.max_position_embeddings = 512;
  c.mla.num_heads = quick ? 4 : 8;
  c.mla.q_lora_rank = 0;
  c.mla.kv_lora_rank = c.lm.hidden_size / 2;
  c.mla.qk_nope_head_dim = c.lm.hidden_size / c.mla.num_heads;
  c.mla.qk_rope_head_dim = c.mla.qk_nope_head_dim / 2;
  c.mla.v_head_dim = c.mla.qk_nope_head_dim;
  c.intermediate_size = 3 * c.lm.hidden_size;
  c.first_k_dense_replace = 1;
  c.moe.gate.n_routed_experts = quick ? 8 : 16;
  c.moe.gate.num_experts_per_tok = 2;
  c.moe.gate.scoring_func = "sigmoid";
  c.moe.moe_intermediate_size = c.lm.hidden_size / 2;
  c.moe.n_shared_experts = 1;
  return c;
}

}  // namespace ds::ch04
