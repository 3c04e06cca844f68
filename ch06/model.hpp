// The assembled mini-DeepSeek (DeepSeek-V3's architecture at small scale): token embedding;
// first_k_dense_replace blocks with a dense SwiGLU, then DeepSeekMoE blocks, every block
// pre-RMSNorm MLA + feed-forward with residuals; the final RMSNorm; an untied lm_head; and
// num_nextn_predict_layers MTP modules sharing the embedding and the head. Nothing is
// re-implemented here: ch02's skeleton, ch03's MLA, ch04's MoE and ch05's MTP, composed.
#pragma once

#include <memory>
#include <vector>

#include "ch05/mtp.hpp"
#include "ch06/config.hpp"

namespace ds::ch06 {

class DeepSeekModel : public ch05::MTPModel {
 public:
  DeepSeekModel(const DeepSeekConfig& cfg, Rng& rng);
  const DeepSeekConfig& config() const { return cfg_; }
  // Every MoE layer, the MTP modules' included (all of them are balanced during training).
  std::vector<ch04::MoE*> moe_layers();
  // Naive MLA for training, absorbed for cached decoding (ch03); the same numbers either way.
  void set_mla_mode(ch03::MLAMode mode);
  ch03::MLAMode mla_mode() const;
  // DeepSeek-V3's recomputation of RMSNorm and the MLA up-projections (ch03::set_recompute) in
  // every block, the MTP modules' included. A training setting: not saved in config.json.
  void set_recompute(bool on);

  // Models as values (ch07's reference policy, ch08's teacher): a copy with its own storage,
  // the same config, weights, routing biases and MLA mode.
  std::unique_ptr<DeepSeekModel> clone() const;
  // Grows the vocabulary (embed_tokens, lm_head and config.vocab_size), old rows unchanged;
  // see ch02::TransformerLM::resize_token_embeddings.
  void resize_token_embeddings(int64_t new_vocab, Rng& rng);

 private:
  DeepSeekConfig cfg_;
};

// clone() with every parameter frozen (requires_grad off): its forward records no tape.
std::unique_ptr<DeepSeekModel> frozen_copy(const DeepSeekModel& model);

}  // namespace ds::ch06
