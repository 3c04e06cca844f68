// The assembled mini-DeepSeek (DeepSeek-V3's architecture at small scale): token embedding;
// first_k_dense_replace blocks with a dense SwiGLU, then DeepSeekMoE blocks, every block
// pre-RMSNorm MLA + feed-forward with residuals; the final RMSNorm; an untied lm_head; and
// num_nextn_predict_layers MTP modules sharing the embedding and the head. Nothing is
// re-implemented here: ch02's skeleton, ch03's MLA, ch04's MoE and ch05's MTP, composed.
#pragma once

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

 private:
  DeepSeekConfig cfg_;
};

}  // namespace ds::ch06
