#include "ch06/model.hpp"

#include <stdexcept>

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

ch03::MLAMode DeepSeekModel::mla_mode() const {
  const auto* mla = dynamic_cast<const ch03::MultiHeadLatentAttention*>(main->layers.at(0)->self_attn.get());
  return mla ? mla->mode() : ch03::MLAMode::Naive;
}

std::unique_ptr<DeepSeekModel> DeepSeekModel::clone() const {
  Rng unused(0);   // every value is overwritten by load_state_from
  auto copy = std::make_unique<DeepSeekModel>(cfg_, unused);
  copy->load_state_from(*this);
  copy->set_mla_mode(mla_mode());
  return copy;
}

void DeepSeekModel::resize_token_embeddings(int64_t new_vocab, Rng& rng) {
  main->resize_token_embeddings(new_vocab, rng);
  cfg_.vocab_size = new_vocab;
}

std::unique_ptr<DeepSeekModel> frozen_copy(const DeepSeekModel& model) {
  auto copy = model.clone();
  copy->requires_grad_(false);
  return copy;
}

void DeepSeekModel::set_mla_mode(ch03::MLAMode mode) {
  ch03::set_mla_mode(*main, mode);
  for (auto& b : mtp)
    if (auto* mla = dynamic_cast<ch03::MultiHeadLatentAttention*>(b->self_attn.get())) mla->set_mode(mode);
}

void DeepSeekModel::set_recompute(bool on) {
  ch03::set_recompute(*main, on);
  for (auto& b : mtp) ch03::set_recompute(*b, on);
}

}  // namespace ds::ch06
