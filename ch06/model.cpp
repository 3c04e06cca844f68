#include "ch06/model.hpp"

#include "ch03/mla_model.hpp"

namespace ds::ch06 {

DeepSeekModel::DeepSeekModel(const DeepSeekConfig& cfg, Rng& rng)
    : ch05::MTPModel(ch04::make_moe_model(model_config(cfg), rng), cfg.num_nextn_predict_layers, ch04::moe_model_attention(model_config(cfg)),
                     ch04::moe_model_feed_forward(model_config(cfg)), rng),
      cfg_(cfg) {}

std::vector<ch04::MoE*> DeepSeekModel::moe_layers() {
  std::vector<ch02::Block*> blocks;
  for (auto& b : main->layers) blocks.push_back(b.get());
  for (auto& b : mtp) blocks.push_back(b.get());
  return ch04::moe_layers(blocks);
}

void DeepSeekModel::set_mla_mode(ch03::MLAMode mode) {
  ch03::set_mla_mode(*main, mode);
  for (auto& b : mtp)
    if (auto* mla = dynamic_cast<ch03::MultiHeadLatentAttention*>(b->self_attn.get())) mla->set_mode(mode);
}

}  // namespace ds::ch06
