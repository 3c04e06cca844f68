// The MLA shapes of the real DeepSeek models and of this repository's mini preset, and a small
// language model with MLA in every layer (ch02's skeleton with MLA plugged in).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ch02/transformer.hpp"
#include "ch03/mla.hpp"

namespace ds::ch03 {

struct NamedMLA {
  std::string name;
  int64_t layers;
  MLAConfig mla;
};
// deepseek-v3, deepseek-v2, deepseek-v2-lite and mini, read from common/deepseek_config.hpp.
std::vector<NamedMLA> mla_presets();
// The attention part of a config.json (RoPE tables sized for max_position_embeddings).
MLAConfig mla_config(const DeepSeekConfig& c);

// The attention factory of an MLA model (RoPE tables sized for max_positions), for ch02's skeleton.
ch02::AttentionFactory mla_attention(const MLAConfig& mla, int64_t max_positions, MLAMode mode = MLAMode::Naive);

// ch02::TransformerLM whose attention is MLA and whose feed-forward is SwiGLU.
std::unique_ptr<ch02::TransformerLM> make_mla_model(const ch02::LMConfig& lm, const MLAConfig& mla, int64_t intermediate,
                                                    Rng& rng, MLAMode mode = MLAMode::Naive);
// Switches every MLA layer of a model made by make_mla_model between the two decoding paths.
void set_mla_mode(ch02::TransformerLM& model, MLAMode mode);
// DeepSeek-V3's recomputation (section 3.2.3) on or off: the block's RMSNorms and, where the
// attention is MLA, its norms and up-projections are recomputed in backward instead of kept.
void set_recompute(ch02::Block& block, bool on);
void set_recompute(ch02::TransformerLM& model, bool on);

}  // namespace ds::ch03
