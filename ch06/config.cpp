#include "ch06/config.hpp"

#include "ch03/mla_model.hpp"

namespace ds::ch06 {

ch04::MoEModelConfig model_config(const DeepSeekConfig& c) {
  ch04::MoEModelConfig m;
  m.lm.vocab_size = c.vocab_size;
  m.lm.hidden_size = c.hidden_size;
  m.lm.num_layers = c.num_hidden_layers;
  m.lm.max_position_embeddings = c.max_position_embeddings;
  m.lm.norm_eps = static_cast<float>(c.rms_norm_eps);
  m.lm.init_std = static_cast<float>(c.initializer_range);
  m.mla = ch03::mla_config(c);
  m.intermediate_size = c.intermediate_size;
  m.first_k_dense_replace = c.first_k_dense_replace;
  ch04::GateConfig& g = m.moe.gate;
  g.n_routed_experts = c.n_routed_experts;
  g.num_experts_per_tok = c.num_experts_per_tok;
  g.n_group = c.n_group;
  g.topk_group = c.topk_group;
  g.scoring_func = c.scoring_func;
  g.topk_method = c.topk_method;
  g.norm_topk_prob = c.norm_topk_prob;
  g.routed_scaling_factor = static_cast<float>(c.routed_scaling_factor);
  m.moe.moe_intermediate_size = c.moe_intermediate_size;
  m.moe.n_shared_experts = c.n_shared_experts;
  return m;
}

}  // namespace ds::ch06
